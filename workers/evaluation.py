"""Tasks that evaluate model versions on a snapshot's eval split (``gpu_inference`` queue).

Evaluation is generation, so it runs where the model is loaded; importing this module imports no
torch (the service imports ``modeling`` lazily).
"""

from __future__ import annotations

from typing import Any

from celery import shared_task

from annotations.training.services.evaluations import evaluation_run
from workers import delivery


@shared_task(bind=True, name="workers.evaluation.evaluate_version")
def evaluate_version(self: Any, evaluation_id: int) -> dict[str, Any]:
    """Run one queued evaluation. Idempotent: a row another delivery claimed (or finished) is
    left alone; progress goes to the row and the task state."""
    task_id, redelivered = delivery(self)

    def report(done: int, total: int) -> None:
        if self.request.id:  # unset when called directly
            self.update_state(state="PROGRESS", meta={"done": done, "total": total})

    evaluation = evaluation_run(
        evaluation_id=evaluation_id,
        task_id=task_id,
        redelivered=redelivered,
        on_progress=report,
    )
    if evaluation is None:
        return {"evaluation": evaluation_id, "status": "gone"}
    return {"evaluation": evaluation_id, "status": evaluation.status}
