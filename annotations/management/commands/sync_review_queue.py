"""After changing WORKBENCH_REVIEWS_PER_GENERATION: reopen (or close) outputs for review."""

from typing import Any

from django.core.management.base import BaseCommand

from annotations.reviews.rules import reviews_per_generation
from annotations.reviews.services import review_queue_sync


class Command(BaseCommand):
    help = "Recompute which outputs still need reviews, from the submitted reviews and k."

    def handle(self, *args: Any, **options: Any) -> None:
        changed = review_queue_sync()
        self.stdout.write(
            f"{changed} output(s) changed; each output takes {reviews_per_generation()} reviews."
        )
