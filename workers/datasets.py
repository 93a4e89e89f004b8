"""Tasks that build dataset snapshots (CPU: the ``audio`` queue)."""

from __future__ import annotations

from celery import Task, shared_task

from annotations.datasets.models import DatasetSnapshot
from annotations.datasets.services import snapshot_build
from workers import delivery


@shared_task(bind=True, name="workers.datasets.build_snapshot")
def build_snapshot(self: Task, snapshot_id: int) -> dict:
    """Build and freeze one snapshot. The build holds the row's lock (``task_claims.locked_row``):
    a frozen or failed snapshot is left as it is, and a redelivery waits on the lock of the build
    in progress, then finds it frozen."""
    if not DatasetSnapshot.objects.filter(pk=snapshot_id).exists():
        return {"snapshot": snapshot_id, "status": "gone"}

    def on_progress(fraction: float, stage: str) -> None:
        if self.request.id:  # unset when called directly
            self.update_state(state="PROGRESS", meta={"progress": fraction, "stage": stage})

    task_id, _ = delivery(self)
    snapshot = snapshot_build(snapshot_id=snapshot_id, task_id=task_id, on_progress=on_progress)
    return {
        "snapshot": snapshot.pk,
        "status": snapshot.status,
        "content_sha256": snapshot.content_sha256,
        "error": snapshot.error,
    }
