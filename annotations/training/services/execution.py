"""Executing a training run exactly once: claim it, hold it, train it, stream its progress into the
rows, finish it (registering the version it produced), and resume it after a lost worker.

Exactly once: the worker holds a PostgreSQL *session* advisory lock on the run for as long as it
trains, on a connection of its own (Django's connection commits and may be recycled; the lock must
not). The lock dies with the worker's process, so "status running and lock free" means the worker
died, and the next delivery resumes from the last checkpoint. A second delivery while the lock is
held returns quietly. On SQLite (the embedded demo) a heartbeat lease stands in for the lock: a
heartbeat older than ``LEASE_SECONDS``, or a holder process on this machine that no longer exists,
is a dead holder.

Preconditions: the run was recorded by ``services.creation`` (its config and ``output_dir`` set);
``training_run_execute`` runs on a ``gpu_training`` worker or in ``manage.py train --wait``, one
run at a time per process. How the trainer is started is ``services.launchers``. ``modeling`` is
imported only inside functions (no torch at import time).

The files (checkpoints, final weights, ``events.jsonl``) live under ``MEDIA_ROOT/training/runs/<pk>/``;
the rows keep the progress, the per-step metrics (the charts' history) and the recorded config.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.core.notifications import notify_user
from annotations.training.models import TrainingMetric, TrainingRun
from annotations.training.services import creation
from annotations.training.services.launchers import training_launch

if TYPE_CHECKING:
    from modeling.training.runner import TrainingJob, TrainingResult

log = logging.getLogger(__name__)

_LOCK_CLASS = 7  # advisory-lock namespace for "one training run" (6 is the rewards' per song)
HEARTBEAT_SECONDS = 15.0
LEASE_SECONDS = 120.0  # SQLite only: a heartbeat older than this is a dead worker
CANCEL_POLL_SECONDS = 1.0
FLUSH_SECONDS = 1.0
FINISHED = (
    TrainingRun.Status.SUCCEEDED,
    TrainingRun.Status.FAILED,
    TrainingRun.Status.CANCELLED,
)


def training_runs_recover() -> list[int]:
    """Re-enqueue the running runs whose worker died (lock free, or a stale lease on SQLite).

    Called when a ``gpu_training`` worker starts. Harmless when several workers call it at once:
    the lock lets only one delivery train.
    """
    recovered = []
    for run in TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING):
        if _holder_alive(run):
            continue
        run.celery_task_id = str(uuid.uuid4())
        run.save(update_fields=["celery_task_id", "updated_at"])
        creation.training_run_enqueue(run_id=run.pk, task_id=run.celery_task_id)
        recovered.append(run.pk)
    if recovered:
        log.info("re-enqueued training run(s) %s after a lost worker", recovered)
    return recovered


def training_run_execute(
    *, run_id: int, task_id: str = "", redelivered: bool = False
) -> TrainingRun | None:
    """Train run ``run_id`` (the worker's one service call); never trains one run twice at once.

    Returns None when the run is gone, or when another delivery holds it (it returns quietly).
    queued → running; running with the lock free → the previous worker died: resume from the last
    checkpoint (``attempts`` + 1); finished runs are returned untouched. Ends succeeded (with the
    registered model version and its evaluation scheduled), cancelled (checkpoint kept) or failed
    (with a readable reason).
    """
    if not TrainingRun.objects.filter(pk=run_id).exists():
        return None
    with _run_lock(run_id) as held:
        if not held:
            log.info(
                "training run %s is held by another worker; delivery %s skipped", run_id, task_id
            )
            return None
        run = _claim(run_id, task_id=task_id)
        if run is None:
            return TrainingRun.objects.filter(pk=run_id).first()
        if redelivered:
            log.info("training run %s redelivered (attempt %d)", run_id, run.attempts)
        with _heartbeat(run_id):
            try:
                result = _train(run)
            except Exception as exc:
                log.exception("training run %s failed", run_id)
                return creation.training_run_mark_failed(run=run, reason=_readable(exc))
        return _finish(run, result)


def _claim(run_id: int, *, task_id: str) -> TrainingRun | None:
    """Move the run to running (a start or a resume); None when it has nothing left to do.

    Precondition: the caller holds the run's lock.
    """
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().get(pk=run_id)
        if run.status in FINISHED:
            return None
        now = timezone.now()
        if run.status == TrainingRun.Status.RUNNING and run.cancel_requested_at is not None:
            # Its worker died after the cancel was asked: the last checkpoint is what it keeps.
            run.status, run.finished_at, run.eta_seconds = TrainingRun.Status.CANCELLED, now, None
            run.save(update_fields=["status", "finished_at", "eta_seconds", "updated_at"])
            return None
        run.status = TrainingRun.Status.RUNNING
        run.attempts += 1
        run.worker = _worker_name()
        run.heartbeat_at = now
        run.started_at = run.started_at or now
        run.error = ""
        if task_id:
            run.celery_task_id = task_id
        run.save()
    return run


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _finish(run: TrainingRun, result: TrainingResult) -> TrainingRun:
    from annotations.training.services.evaluations import evaluation_schedule
    from annotations.training.services.model_versions import model_version_register_trained

    now = timezone.now()
    if result.status == "cancelled":
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRun.Status.CANCELLED,
            step=result.step,
            finished_at=now,
            eta_seconds=None,
            updated_at=now,
        )
        run.refresh_from_db()
        _notify(run, "training.cancelled")
        return run
    try:
        with transaction.atomic():
            run.refresh_from_db()
            version = model_version_register_trained(run=run, result=result)
            run.status = TrainingRun.Status.SUCCEEDED
            run.step = result.step
            run.total_steps = max(run.total_steps, result.total_steps)
            run.progress = 1.0
            run.eta_seconds = None
            run.finished_at = now
            run.metrics = {**run.metrics, **{k: float(v) for k, v in result.metrics.items()}}
            run.save()
    except Exception as exc:
        log.exception("registering the version of %s failed", run)
        return creation.training_run_mark_failed(
            run=run,
            reason=f"Training finished but its model version could not be registered: "
            f"{_readable(exc)} The weights are kept in {run.output_dir}.",
        )
    try:
        evaluation_schedule(model_version=version, snapshot=run.dataset_snapshot)
    except Exception:  # the version exists; an evaluation can be scheduled again from its page
        log.exception("could not schedule the evaluation of %s", version)
    _notify(run, "training.succeeded")
    return run


def _readable(exc: BaseException) -> str:
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {message}" if not isinstance(exc, ValidationFailed) else message


def _notify(run: TrainingRun, event: str, **data: Any) -> None:
    if run.launched_by_id is not None:
        notify_user(user_id=run.launched_by_id, event=event, data={"run": run.pk, **data})


def training_job_for(run: TrainingRun) -> TrainingJob:
    """What the runner needs, from the run's rows: paths under storage and the recorded config."""
    from annotations.generations.services.generations import model_config_for
    from modeling.training.config import TrainingConfig
    from modeling.training.runner import TrainingJob

    base = model_config_for(run.base_version)
    storage = Path(settings.MEDIA_ROOT)
    return TrainingJob(
        base_checkpoint=base.checkpoint,
        base_revision=base.revision,
        dataset_dir=storage / run.dataset_snapshot.storage_path,
        audio_root=storage,
        output_dir=creation.run_dir(run),
        config=TrainingConfig.from_dict(run.config),
        reward_weights=dict(run.reward_profile.weights) if run.reward_profile else {},
        device=settings.WORKBENCH_MODEL_DEVICE,
    )


def _train(run: TrainingRun) -> TrainingResult:
    run = TrainingRun.objects.select_related(
        "base_version", "dataset_snapshot", "reward_profile"
    ).get(pk=run.pk)
    job = training_job_for(run)
    job.output_dir.mkdir(parents=True, exist_ok=True)
    hooks = RunHooks(run)
    try:
        return training_launch(job, hooks)
    finally:
        hooks.flush()  # the last steps' rows, whatever the outcome


# --- Hooks: the runner's events into rows ------------------------------------------------------


class RunHooks:
    """The runner's callbacks, writing the run's rows (``modeling.training.runner.Hooks``,
    structurally: subclassing its ``TrainingHooks`` would import modeling with this module).

    Logged steps are buffered and written at most once per ``FLUSH_SECONDS`` (and at every
    checkpoint, stop and end): a tiny model logs a step every ~0.1 s, and a write plus a websocket
    notice per step cost it ~7 % of its speed; the page polls every 2 s, so nobody sees the buffer.
    """

    def __init__(self, run: TrainingRun, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.run_id = run.pk
        self.user_id = run.launched_by_id
        self._clock = clock
        self._checked_at = float("-inf")
        self._stop = False
        self._pending: dict[tuple[str, int], dict[str, float]] = {}
        self._progress: dict[str, Any] = {}
        self._flushed_at = clock()

    def on_start(self, *, total_steps: int, resumed_from_step: int) -> None:
        # Rows logged after the checkpoint we resume from belong to steps that will run again.
        TrainingMetric.objects.filter(run_id=self.run_id, step__gt=resumed_from_step).delete()
        TrainingRun.objects.filter(pk=self.run_id).update(
            metrics={"resumed_from_step": resumed_from_step} if resumed_from_step else {},
            total_steps=total_steps,
            step=resumed_from_step,
            last_checkpoint_step=resumed_from_step,
            progress=_fraction(resumed_from_step, total_steps),
            heartbeat_at=timezone.now(),
            updated_at=timezone.now(),
        )

    def on_log(self, *, step: int, total_steps: int, values: dict[str, float]) -> None:
        clean = {k: float(v) for k, v in values.items() if _is_number(v)}
        evaluation = {k: v for k, v in clean.items() if k.startswith("eval_")}
        train = {k: v for k, v in clean.items() if not k.startswith("eval_")}
        for kind, part in (
            (TrainingMetric.Kind.TRAIN, train),
            (TrainingMetric.Kind.EVAL, evaluation),
        ):
            if part:
                self._pending.setdefault((kind, step), {}).update(part)
        self._progress = {
            "step": step,
            "total_steps": total_steps,
            "progress": _fraction(step, total_steps),
        }
        if "eta_seconds" in clean:
            self._progress["eta_seconds"] = clean["eta_seconds"]
        if self._clock() - self._flushed_at >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write the buffered steps' rows and the run's progress, then notify the launcher."""
        self._flushed_at = self._clock()
        if not self._pending and not self._progress:
            return
        pending, self._pending = self._pending, {}
        progress, self._progress = self._progress, {}
        TrainingMetric.objects.bulk_create(
            [
                TrainingMetric(run_id=self.run_id, kind=kind, step=step, values=values)
                for (kind, step), values in pending.items()
            ],
            update_conflicts=True,
            unique_fields=["run", "kind", "step"],
            update_fields=["values"],
        )
        if not progress:
            return
        now = timezone.now()
        TrainingRun.objects.filter(pk=self.run_id).update(
            **progress, heartbeat_at=now, updated_at=now
        )
        if self.user_id is not None:
            notify_user(
                user_id=self.user_id,
                event="training.progress",
                data={
                    "run": self.run_id,
                    "step": progress["step"],
                    "total_steps": progress["total_steps"],
                },
            )

    def on_checkpoint(self, *, step: int, path: Path) -> None:
        self.flush()  # the steps a resume starts after are in the database before it can happen
        TrainingRun.objects.filter(pk=self.run_id).update(
            last_checkpoint_step=step, heartbeat_at=timezone.now(), updated_at=timezone.now()
        )

    def should_stop(self) -> bool:
        """Whether someone asked to cancel; reads the row at most once a second."""
        if self._stop:
            return True
        now = self._clock()
        if now - self._checked_at >= CANCEL_POLL_SECONDS:
            self._checked_at = now
            self._stop = TrainingRun.objects.filter(
                pk=self.run_id, cancel_requested_at__isnull=False
            ).exists()
        return self._stop


def _fraction(step: int, total: int) -> float:
    return min(1.0, max(0.0, step / total)) if total > 0 else 0.0


def _is_number(value: Any) -> bool:
    import math

    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


# --- The lock ----------------------------------------------------------------------------------


@contextmanager
def _run_lock(run_id: int) -> Iterator[bool]:
    """Hold the run for this process: yields whether it was taken (False: someone else has it)."""
    if connection.vendor == "postgresql":
        with _advisory_lock(run_id) as held:
            yield held
    else:
        with _lease(run_id) as held:
            yield held


def _lock_connection() -> Any:
    import psycopg

    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


@contextmanager
def _advisory_lock(run_id: int) -> Iterator[bool]:
    # A session lock on a connection of its own: Django's connection may be closed or recycled
    # between queries, and the lock must live exactly as long as this process trains.
    lock_conn = _lock_connection()
    try:
        held = lock_conn.execute(
            "SELECT pg_try_advisory_lock(%s, %s)", (_LOCK_CLASS, run_id)
        ).fetchone()[0]
        yield bool(held)
    finally:
        lock_conn.close()  # closing the session releases its advisory locks


def _holder_alive(run: TrainingRun) -> bool:
    if connection.vendor == "postgresql":
        with _advisory_lock(run.pk) as taken:  # released again at once: we only look
            return not taken
    return not _lease_holder_gone(run.worker, run.heartbeat_at)


def _lease_holder_gone(worker: str, heartbeat_at: Any) -> bool:
    """SQLite: the lease is free when nobody took it, its heartbeat is stale, or its holder was a
    process on this machine that no longer exists (a restart within ``LEASE_SECONDS``)."""
    if heartbeat_at is None or heartbeat_at < timezone.now() - timedelta(seconds=LEASE_SECONDS):
        return True
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


@contextmanager
def _lease(run_id: int) -> Iterator[bool]:
    """SQLite's stand-in for the advisory lock: a compare-and-set on (worker, heartbeat_at)."""
    row = TrainingRun.objects.filter(pk=run_id).values("worker", "heartbeat_at").first()
    taken = 0
    if row is not None and _lease_holder_gone(row["worker"], row["heartbeat_at"]):
        taken = TrainingRun.objects.filter(
            pk=run_id, worker=row["worker"], heartbeat_at=row["heartbeat_at"]
        ).update(worker=_worker_name(), heartbeat_at=timezone.now())
    try:
        yield bool(taken)
    finally:
        if taken:
            TrainingRun.objects.filter(pk=run_id).update(heartbeat_at=None)


@contextmanager
def _heartbeat(run_id: int) -> Iterator[None]:
    """Refresh ``heartbeat_at`` while a long step runs (the lease on SQLite; a liveness sign on
    the page everywhere)."""
    stopped = threading.Event()

    def beat() -> None:
        from django.db import connections

        try:
            while not stopped.wait(HEARTBEAT_SECONDS):
                TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.RUNNING).update(
                    heartbeat_at=timezone.now()
                )
        finally:
            connections.close_all()

    thread = threading.Thread(target=beat, name=f"training-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stopped.set()
        thread.join(timeout=5)
