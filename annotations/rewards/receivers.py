"""How the rewards room answers lower rooms' signals (connected in ``AppConfig.ready``).

This is where a submitted review becomes reward rows: ``review_submitted`` →
``rewards_schedule_for_review`` (on commit, a task on the CPU queue) → ``rewards_recompute``.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from annotations.generations.models import Generation
from annotations.generations.signals import generations_finished
from annotations.reviews.models import Review
from annotations.reviews.signals import review_submitted
from annotations.rewards.services.rewards import rewards_schedule, rewards_schedule_for_review


@receiver(generations_finished, sender=Generation, dispatch_uid="rewards.on_generations")
def score_new_generations(*, generation_ids: list[int], **_: Any) -> None:
    """New outputs earn their rewards at once (format; structured thinking where experts have
    verified the song)."""
    rewards_schedule(generation_ids)


@receiver(review_submitted, sender=Review, dispatch_uid="rewards.on_review")
def rescore_after_review(*, review: Review, **_: Any) -> None:
    rewards_schedule_for_review(review)
