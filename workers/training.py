"""Tasks on the ``gpu_training`` queue: TRL training runs.

A run takes hours, so its message is acknowledged late and rejected back to the broker when the
worker is lost; the run's advisory lock (annotations.training.services.execution) makes any
redelivery harmless: a delivery that finds the run held returns at once, one that finds it finished
returns quietly, and one that finds it running with nobody holding it resumes from the last
checkpoint.
A worker that consumes ``gpu_training`` re-enqueues such orphaned runs when it starts.

Importing this module imports no torch (the modeling functions import it when they run). Run these
workers one task at a time per machine: ``celery -A workbench worker -Q gpu_training -c 1
--prefetch-multiplier 1`` (in-process runs use the GPU; ``WORKBENCH_TRAINING_LAUNCHER=accelerate``
spreads one run over all of the machine's GPUs).
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Task, shared_task
from celery.signals import worker_ready

from annotations.training.services.execution import training_run_execute, training_runs_recover
from workbench.celery import QUEUE_GPU_TRAINING
from workers import delivery

log = logging.getLogger(__name__)


@shared_task(
    bind=True, name="workers.training.run_training", acks_late=True, reject_on_worker_lost=True
)
def run_training(self: Task, run_id: int) -> dict[str, Any]:
    """Train run ``run_id``; returns its status, or ``skipped`` when another delivery holds it."""
    task_id, redelivered = delivery(self)
    run = training_run_execute(run_id=run_id, task_id=task_id, redelivered=redelivered)
    if run is None:
        return {"run": run_id, "status": "skipped"}
    return {"run": run.pk, "status": run.status, "step": run.step, "attempts": run.attempts}


@worker_ready.connect
def recover_training_runs(sender: Any = None, **_: Any) -> None:
    """On a worker that consumes ``gpu_training``: resume the runs whose worker died."""
    try:
        queues = set(sender.app.amqp.queues.consume_from)
    except AttributeError:
        return
    if QUEUE_GPU_TRAINING not in queues:
        return
    try:
        training_runs_recover()
    except Exception:  # a worker must start even if the database is briefly unreachable
        log.exception("could not recover orphaned training runs")
