"""What the generations room announces to rooms above it."""

from django.dispatch import Signal

#: A batch of generations finished. ``sender=Generation``, ``generation_ids=[...]`` (the ones that
#: succeeded; possibly empty). Receivers that enqueue work do so on commit.
generations_finished = Signal()
