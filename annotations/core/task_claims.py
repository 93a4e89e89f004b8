"""Claims: each request a task carries runs once, however often the broker delivers it.

Brokers deliver at least once. Late acknowledgement hands a killed worker's message out again;
Redis hands an unacknowledged message to a second worker after its visibility timeout; and a
request that a command ran inline (``seed_demo``, ``analyze_songs --now``) still has its message
on the queue. So every task claims its work before it starts and does nothing when the claim
fails:

- ``claim_rows``: a task whose work is rows with a status (an analysis, generations, an
  evaluation) moves them from queued to running and runs only the rows it moved. A finished row
  is never claimed again. A redelivered message (its worker died mid-run) also takes back the rows
  it had claimed itself: same task id, still running.
- ``locked_row``: a task that builds its row inside one transaction (a dataset snapshot) holds the
  row's lock for the whole build and finds nothing to do once the row has left the status it
  builds from.
- ``claimed_message``: a task with no status row (a probe, a reward recompute) claims its message
  id in ``TaskClaim``; a message that ran to the end never runs again.

Training runs last hours and must survive a lost worker, so they hold a PostgreSQL advisory lock
for the whole run (``annotations.training.services.training``) instead.

This module imports models only: services and workers may both use it. Every claim is logged
(``claimed`` or ``nothing to claim``, with the task id), which is how the tests count executions.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from annotations.core.models import TaskClaim

log = logging.getLogger(__name__)

QUEUED = "queued"
RUNNING = "running"

M = TypeVar("M", bound=models.Model)


def claim_rows(
    queryset: models.QuerySet[M], *, task_id: str = "", redelivered: bool = False, **fields: Any
) -> list[int]:
    """Move the rows of ``queryset`` that wait to run to running; return the pks it moved.

    Waiting means ``status="queued"``; on a redelivery (``redelivered`` and a ``task_id``) also
    ``status="running"`` with ``celery_task_id=task_id``: the rows this message had claimed before
    its worker died. ``fields`` are written with the claim (``started_at``, ``progress``…), and
    ``celery_task_id`` when a ``task_id`` is given (inline runs have none).

    The rows are locked in pk order and their status is read again under the lock, so of two
    deliveries racing for a row exactly one moves it (SQLite's IMMEDIATE transactions serialise
    the two claims the same way), and two claims over overlapping rows never deadlock.
    """
    waiting = Q(status=QUEUED)
    if redelivered and task_id:
        waiting |= Q(status=RUNNING, celery_task_id=task_id)
    model = queryset.model
    with transaction.atomic():
        pks = list(
            queryset.filter(waiting).select_for_update().order_by("pk").values_list("pk", flat=True)
        )
        if pks:
            update = {"status": RUNNING, **fields}
            if task_id:
                update["celery_task_id"] = task_id
            model._default_manager.filter(pk__in=pks).update(**update)
    name = model._meta.model_name
    if pks:
        log.info("task %s: claimed %s %s", task_id or "inline", name, _pks(pks))
    else:
        log.info(
            "task %s: nothing to claim (%s already claimed or finished)", task_id or "inline", name
        )
    return pks


@contextmanager
def locked_row(
    queryset: models.QuerySet[M], *, pk: int, status: str, task_id: str = ""
) -> Iterator[M | None]:
    """Lock row ``pk`` for the block and yield it while it is in ``status``, else None.

    The block runs in the transaction that holds the lock: a second delivery waits for the first
    to commit, then finds the row moved on (built, failed) and gets None.
    """
    name = queryset.model._meta.model_name
    with transaction.atomic():
        row = queryset.select_for_update().filter(pk=pk, status=status).first()
        if row is not None:
            log.info("task %s: claimed %s %s", task_id or "inline", name, pk)
        else:
            log.info(
                "task %s: nothing to claim (%s %s is not %s)", task_id or "inline", name, pk, status
            )
        yield row


@contextmanager
def claimed_message(*, task_id: str, task_name: str, redelivered: bool = False) -> Iterator[bool]:
    """Claim one message of a task with no status row; yield whether the block may run.

    A new message is claimed. A message seen before is claimed again only when it was redelivered
    while still running (its worker died mid-task; ``attempts`` counts it); a finished one, or a
    duplicate of one running now, is not. When a claimed block ends, by returning or raising (a
    failed task is acknowledged, not retried), the message is done. A task called directly (no
    ``task_id``) always runs.
    """
    if not task_id:
        yield True
        return
    with transaction.atomic():
        claim, created = TaskClaim.objects.select_for_update().get_or_create(
            task_id=task_id, defaults={"task_name": task_name, "claimed_at": timezone.now()}
        )
        retake = not created and redelivered and claim.status == TaskClaim.Status.RUNNING
        if retake:
            claim.attempts += 1
            claim.claimed_at = timezone.now()
            claim.save(update_fields=["attempts", "claimed_at"])
    if not (created or retake):
        log.info(
            "task %s: nothing to claim (message of %s is %s)", task_id, task_name, claim.status
        )
        yield False
        return
    log.info("task %s: claimed message of %s", task_id, task_name)
    try:
        yield True
    finally:
        TaskClaim.objects.filter(task_id=task_id).update(
            status=TaskClaim.Status.DONE, finished_at=timezone.now()
        )


def _pks(pks: list[int]) -> str:
    return ",".join(str(pk) for pk in pks)
