"""Reward recomputes, on the ``audio`` (CPU) queue.

Both tasks have no status row of their own, so each claims its message (``claimed_message``): a
redelivered message that already ran does nothing. Both are also idempotent: they recompute from
what is stored and only write rows whose content changed, so a new request over unchanged inputs
writes nothing.
"""

from __future__ import annotations

from celery import Task, shared_task

from annotations.core.task_claims import claimed_message
from annotations.rewards.models import RewardProfile
from annotations.rewards.services.rewards import composites_recompute, rewards_recompute
from workers import delivery


@shared_task(bind=True, name="workers.rewards.recompute_rewards")
def recompute_rewards(self: Task, generation_ids: list[int]) -> dict:
    """Recompute every reward of these generations (after a review was submitted)."""

    def on_progress(done: int, total: int) -> None:
        if self.request.id:  # unset when called directly
            self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    task_id, redelivered = delivery(self)
    with claimed_message(task_id=task_id, task_name=self.name, redelivered=redelivered) as claimed:
        if not claimed:
            return {"status": "skipped"}
        stats = rewards_recompute(generation_ids=generation_ids, on_progress=on_progress)
    return {
        "generations": stats.generations,
        "written": stats.written,
        "unchanged": stats.unchanged,
        "deleted": stats.deleted,
        "composites_written": stats.composites_written,
    }


@shared_task(bind=True, name="workers.rewards.recompute_composites")
def recompute_composites(self: Task, profile_id: int) -> dict:
    """Rewrite one profile's composites after its weights changed."""
    task_id, redelivered = delivery(self)
    with claimed_message(task_id=task_id, task_name=self.name, redelivered=redelivered) as claimed:
        if not claimed:
            return {"profile": profile_id, "status": "skipped"}
        profile = RewardProfile.objects.filter(pk=profile_id).first()
        if profile is None:
            return {"profile": profile_id, "status": "gone"}
        return {"profile": profile_id, "written": composites_recompute(profile=profile)}
