"""Reward recomputes, on the ``audio`` (CPU) queue.

Both tasks are idempotent: they recompute from what is stored and only write rows whose content
changed, so a redelivered or repeated task changes nothing.
"""

from __future__ import annotations

from celery import Task, shared_task

from annotations.rewards.models import RewardProfile
from annotations.rewards.services.rewards import composites_recompute, rewards_recompute


@shared_task(bind=True, name="workers.rewards.recompute_rewards")
def recompute_rewards(self: Task, generation_ids: list[int]) -> dict:
    """Recompute every reward of these generations (after a review was submitted)."""

    def on_progress(done: int, total: int) -> None:
        if self.request.id:  # unset when called directly
            self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    stats = rewards_recompute(generation_ids=generation_ids, on_progress=on_progress)
    return {
        "generations": stats.generations,
        "written": stats.written,
        "unchanged": stats.unchanged,
        "deleted": stats.deleted,
        "composites_written": stats.composites_written,
    }


@shared_task(name="workers.rewards.recompute_composites")
def recompute_composites(profile_id: int) -> dict:
    """Rewrite one profile's composites after its weights changed."""
    profile = RewardProfile.objects.filter(pk=profile_id).first()
    if profile is None:
        return {"profile": profile_id, "status": "gone"}
    return {"profile": profile_id, "written": composites_recompute(profile=profile)}
