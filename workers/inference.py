"""Tasks on the ``gpu_inference`` queue: Music Flamingo generation.

Importing this module imports no torch (the services import ``modeling`` lazily), so a prefork
worker's parent never initialises CUDA before it forks; each child loads the model on its first
task and keeps it. Run these workers with ``-c 1`` (one model per GPU) and prefetch 1.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from annotations.generations.services.generations import generation_run
from workers import delivery


@shared_task(bind=True, name="workers.inference.generate_batch")
def generate_batch(self: Any, generation_ids: list[int]) -> dict[str, Any]:
    """Run the queued generations among ``generation_ids``. Idempotent: rows already claimed
    (or finished) by another delivery are skipped; progress goes to the task state and the rows."""
    task_id, redelivered = delivery(self)

    def report(done: int, total: int) -> None:
        self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    summary = generation_run(
        generation_ids=generation_ids,
        task_id=task_id,
        redelivered=redelivered,
        on_progress=report,
    )
    return {
        "claimed": summary.claimed,
        "succeeded": summary.succeeded,
        "failed": summary.failed,
    }
