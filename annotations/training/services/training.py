"""Training runs: launch a TRL stage on a frozen snapshot, run it on a ``gpu_training`` worker exactly
once, stream its metrics into the database, cancel it, and resume it after a lost worker.

Exactly once: the worker holds a PostgreSQL *session* advisory lock on the run for as long as it
trains, on a connection of its own (Django's connection commits and may be recycled; the lock must
not). The lock dies with the worker's process, so "status running and lock free" means the worker
died, and the next delivery resumes from the last checkpoint. A second delivery while the lock is
held returns quietly. On SQLite (the embedded demo) a heartbeat lease stands in for the lock: a
heartbeat older than ``LEASE_SECONDS``, or a holder process on this machine that no longer exists,
is a dead holder.

The files (checkpoints, final weights, ``events.jsonl``) live under ``MEDIA_ROOT/training/runs/<pk>/``;
the rows keep the progress, the per-step metrics (the charts' history) and the recorded config.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.core.notifications import notify_user
from annotations.datasets.models import MANIFEST, DatasetSnapshot
from annotations.generations.models import ModelVersion
from annotations.rewards.models import RewardProfile
from annotations.training.models import TrainingMetric, TrainingRun

# Neither module imports torch at import time (only their functions do).
from modeling.training.config import STAGE_FORMAT, training_config
from modeling.training.runner import TrainingHooks, TrainingResult

if TYPE_CHECKING:
    from modeling.training.runner import TrainingJob

log = logging.getLogger(__name__)

_LOCK_CLASS = 7  # advisory-lock namespace for "one training run" (6 is the rewards' per song)
HEARTBEAT_SECONDS = 15.0
LEASE_SECONDS = 120.0  # SQLite only: a heartbeat older than this is a dead worker
CANCEL_POLL_SECONDS = 1.0
FLUSH_SECONDS = 1.0
RUNS_DIR = "training/runs"
ACCELERATE_CONFIGS = ("fsdp", "deepspeed_zero3")
FINISHED = (
    TrainingRun.Status.SUCCEEDED,
    TrainingRun.Status.FAILED,
    TrainingRun.Status.CANCELLED,
)


# --- Launch ------------------------------------------------------------------------------------


def training_run_create(
    *,
    stage: str,
    base_version: ModelVersion,
    snapshot: DatasetSnapshot,
    reward_profile: RewardProfile | None = None,
    preset: str = "paper",
    use_lora: bool = True,
    overrides: Mapping[str, Any] | None = None,
    actor: Any = None,
    enqueue: bool = True,
) -> TrainingRun:
    """Record a queued run with its full config and enqueue it on ``gpu_training`` after commit
    (``enqueue=False``: the caller runs it, e.g. ``manage.py train --wait``).

    Raises ValidationFailed (a message to show) when the snapshot is not frozen or has no training
    rows of the stage's format, GRPO has no reward profile, the base version is retired, or a
    hyperparameter is unknown or out of range. Using a profile freezes it (later edits make a new
    version), so the run's rewards stay reproducible.
    """
    if stage not in STAGE_FORMAT:
        raise ValidationFailed(f"Unknown stage {stage!r}; use one of {', '.join(STAGE_FORMAT)}.")
    if base_version.status == ModelVersion.Status.RETIRED:
        raise ValidationFailed(f"Model version {base_version} is retired; pick another base.")
    if snapshot.status != DatasetSnapshot.Status.FROZEN:
        raise ValidationFailed(
            f"Snapshot {snapshot} is {snapshot.get_status_display().lower()}: "
            "only a frozen snapshot can be trained on."
        )
    fmt = STAGE_FORMAT[stage]
    rows = snapshot_train_rows(snapshot, fmt)
    if rows == 0:
        raise ValidationFailed(
            f"Snapshot {snapshot} has no {fmt.upper()} training rows, which the "
            f"{stage.upper()} stage needs: build a snapshot that includes them."
        )
    if stage == TrainingRun.Stage.GRPO:
        if reward_profile is None:
            raise ValidationFailed("GRPO needs a reward profile: pick one.")
    elif reward_profile is not None:
        raise ValidationFailed(
            f"Only GRPO uses a reward profile; {stage.upper()} trains on the snapshot's targets."
        )
    try:
        config = training_config(
            stage, preset=preset, overrides=dict(overrides or {}), use_lora=use_lora
        )
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from None
    with transaction.atomic():
        run = TrainingRun.objects.create(
            stage=stage,
            base_version=base_version,
            dataset_snapshot=snapshot,
            reward_profile=reward_profile,
            preset=preset,
            use_lora=use_lora,
            config=config.as_dict(),
            celery_task_id=str(uuid.uuid4()),
            launched_by=actor if getattr(actor, "pk", None) else None,
        )
        run.output_dir = f"{RUNS_DIR}/{run.pk}"
        run.save(update_fields=["output_dir", "updated_at"])
        run_id, task_id = run.pk, run.celery_task_id
        if enqueue:
            transaction.on_commit(lambda: _enqueue(run_id, task_id))
    log.info(
        "%s launched %s on %s from %s",
        getattr(actor, "username", "command"),
        run,
        snapshot,
        base_version,
    )
    return run


def snapshot_train_rows(snapshot: DatasetSnapshot, fmt: str) -> int:
    """Training rows of one format, from the snapshot's manifest (the files the trainer reads)."""
    manifest_path = Path(settings.MEDIA_ROOT) / snapshot.storage_path / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        raise ValidationFailed(
            f"Snapshot {snapshot}'s files are missing from storage ({manifest_path.name} "
            "cannot be read); rebuild it."
        ) from None
    entry = manifest.get("files", {}).get(f"{fmt}/train.jsonl") or {}
    return int(entry.get("rows") or 0)


def _enqueue(run_id: int, task_id: str) -> None:
    from workers.training import run_training

    run_training.apply_async(args=[run_id], task_id=task_id)


@transaction.atomic
def training_run_cancel(*, run: TrainingRun, actor: Any = None) -> TrainingRun:
    """Cancel a run: a queued one at once; a running one at its next step, after a checkpoint.

    Raises ValidationFailed when the run has already finished.
    """
    run = TrainingRun.objects.select_for_update().get(pk=run.pk)
    if run.status == TrainingRun.Status.QUEUED:
        run.status = TrainingRun.Status.CANCELLED
        run.cancel_requested_at = run.finished_at = timezone.now()
        run.save(update_fields=["status", "cancel_requested_at", "finished_at", "updated_at"])
    elif run.status == TrainingRun.Status.RUNNING:
        if run.cancel_requested_at is None:
            run.cancel_requested_at = timezone.now()
            run.save(update_fields=["cancel_requested_at", "updated_at"])
    else:
        raise ValidationFailed(f"{run} has already {run.get_status_display().lower()}.")
    log.info("%s cancelled %s", getattr(actor, "username", "command"), run)
    return run


def training_run_mark_failed(*, run: TrainingRun, reason: str) -> TrainingRun:
    """Record why a run stopped (shown on its page). Its checkpoints stay in storage."""
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.FAILED,
        error=reason[:4000],
        finished_at=timezone.now(),
        eta_seconds=None,
        updated_at=timezone.now(),
    )
    log.warning("%s failed: %s", run, reason)
    run.refresh_from_db()
    return run


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
        _enqueue(run.pk, run.celery_task_id)
        recovered.append(run.pk)
    if recovered:
        log.info("re-enqueued training run(s) %s after a lost worker", recovered)
    return recovered


# --- Execute -----------------------------------------------------------------------------------


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
                return training_run_mark_failed(run=run, reason=_readable(exc))
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
        return training_run_mark_failed(
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


def run_dir(run: TrainingRun) -> Path:
    return Path(settings.MEDIA_ROOT) / (run.output_dir or f"{RUNS_DIR}/{run.pk}")


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
        output_dir=run_dir(run),
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
        if settings.WORKBENCH_TRAINING_LAUNCHER == "inprocess":
            from modeling.training.runner import run_training

            return run_training(job, hooks)
        return run_training_subprocess(job, hooks, command=launcher_command(job))
    finally:
        hooks.flush()  # the last steps' rows, whatever the outcome


# --- Hooks: the runner's events into rows ------------------------------------------------------


class RunHooks(TrainingHooks):
    """The runner's callbacks, writing the run's rows.

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


# --- Launchers ---------------------------------------------------------------------------------


def launcher_command(job: TrainingJob) -> list[str]:
    """The command that trains ``job`` in a child process (its job file is written beside it).

    ``accelerate``: ``accelerate launch --config_file workers/accelerate/<config>.yaml -m
    modeling.training --job job.json`` (FSDP or DeepSpeed ZeRO-3 across the machine's GPUs);
    ``subprocess``: the same module in one plain Python process.
    """
    job_file = job.output_dir / "job.json"
    module = ["-m", "modeling.training", "--job", str(job_file)]
    if settings.WORKBENCH_TRAINING_LAUNCHER == "accelerate":
        return [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(accelerate_config_path()),
            "--num_processes",
            str(_gpu_count()),
            *module,
        ]
    return [sys.executable, *module]


def _gpu_count() -> int:
    import torch  # counts devices through NVML; initialises no CUDA context here

    return max(1, torch.cuda.device_count())


def accelerate_config_path() -> Path:
    """``WORKBENCH_ACCELERATE_CONFIG``: a shipped config's name (fsdp, deepspeed_zero3) or a path."""
    name = settings.WORKBENCH_ACCELERATE_CONFIG
    if name in ACCELERATE_CONFIGS:
        return Path(settings.BASE_DIR) / "workers" / "accelerate" / f"{name}.yaml"
    return Path(name)


def run_training_subprocess(
    job: TrainingJob, hooks: RunHooks, *, command: list[str], poll_seconds: float = 0.5
) -> TrainingResult:
    """Train in a child process, replaying its ``events.jsonl`` into ``hooks``.

    A cancel becomes the ``STOP`` file the child polls. The child's output goes to ``train.log``
    beside the events; a non-zero exit raises with its last lines.
    """
    out = job.output_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "job.json").write_text(json.dumps(job.as_dict(), indent=2, sort_keys=True))
    stop_file, events = out / "STOP", out / "events.jsonl"
    stop_file.unlink(missing_ok=True)
    offset = events.stat().st_size if events.exists() else 0  # earlier attempts' events stay
    result: dict[str, Any] | None = None
    error: str | None = None
    log_path = out / "train.log"
    with log_path.open("ab") as log_file:
        child = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while True:
                finished = child.poll() is not None
                for event in _read_events(events, offset):
                    offset = event.pop("_offset")
                    if event.get("event") == "error":
                        error = str(event.get("message") or "")
                    result = _dispatch(event, hooks) or result
                if finished:
                    break
                if hooks.should_stop() and not stop_file.exists():
                    stop_file.touch()
                time.sleep(poll_seconds)
        except BaseException:
            child.kill()
            child.wait()
            raise
    if child.returncode != 0 and error:
        raise RuntimeError(error)
    if child.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(
            f"the training process exited with status {child.returncode}:\n" + "\n".join(tail)
        )
    if result is None:
        raise RuntimeError("the training process exited without reporting a result")
    return TrainingResult.from_dict(result)


def _read_events(path: Path, offset: int) -> Iterator[dict[str, Any]]:
    """Whole JSON lines after ``offset`` (a line still being written is left for the next read)."""
    if not path.exists():
        return
    with path.open("rb") as stream:
        stream.seek(offset)
        for raw in stream:
            if not raw.endswith(b"\n"):
                return
            offset += len(raw)
            event = json.loads(raw)
            event["_offset"] = offset
            yield event


def _dispatch(event: dict[str, Any], hooks: RunHooks) -> dict[str, Any] | None:
    kind = event.get("event")
    if kind == "start":
        hooks.on_start(
            total_steps=int(event["total_steps"]), resumed_from_step=int(event["resumed_from_step"])
        )
    elif kind == "log":
        hooks.on_log(
            step=int(event["step"]), total_steps=int(event["total_steps"]), values=event["values"]
        )
    elif kind == "checkpoint":
        hooks.on_checkpoint(step=int(event["step"]), path=Path(event["path"]))
    elif kind == "result":
        return event
    return None


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
