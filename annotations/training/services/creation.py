"""Creating training runs: validate a launch, record the queued run with its full config, enqueue it
on ``gpu_training`` after commit; cancel a run; record why one failed. Also what the launch form
and ``manage.py train`` need from the trainer's config (its settings, presets and their values).

Nothing here trains: executing a run is ``services.execution``. These functions run in the web
process and in commands; ``modeling`` is imported inside them (it imports no torch at import time).
A run's files live under ``MEDIA_ROOT/training/runs/<pk>/`` (``run_dir``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.datasets.models import MANIFEST, DatasetSnapshot
from annotations.generations.models import ModelVersion
from annotations.rewards.models import RewardProfile
from annotations.training.models import TrainingRun

log = logging.getLogger(__name__)

RUNS_DIR = "training/runs"


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
    from modeling.training.config import STAGE_FORMAT, training_config

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
            transaction.on_commit(lambda: training_run_enqueue(run_id=run_id, task_id=task_id))
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


def training_run_enqueue(*, run_id: int, task_id: str) -> None:
    """Send run ``run_id`` to the ``gpu_training`` queue as task ``task_id``.

    Precondition: the run's row is committed (callers enqueue from ``transaction.on_commit``, or
    outside a transaction as recovery does).
    """
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


def run_dir(run: TrainingRun) -> Path:
    """The run's folder in storage: checkpoints, final weights, ``events.jsonl``, ``train.log``."""
    return Path(settings.MEDIA_ROOT) / (run.output_dir or f"{RUNS_DIR}/{run.pk}")


# --- The trainer's settings, for the launch form and the command ---------------------------------


def training_setting_types() -> list[tuple[str, str]]:
    """(name, type) of every ``TrainingConfig`` setting, in the dataclass's order."""
    from modeling.training.config import TrainingConfig

    return [(f.name, str(f.type)) for f in dataclasses.fields(TrainingConfig)]


def training_preset_names() -> list[str]:
    """The hyperparameter presets a run can start from (``paper`` first)."""
    from modeling.training.config import PRESETS

    return list(PRESETS)


def training_preset_settings(stage: str, preset: str, *, use_lora: bool = True) -> dict[str, Any]:
    """A preset's full settings for a stage (every field, defaults filled in).

    Raises ValueError when the stage or the preset is unknown.
    """
    from modeling.training.config import training_config

    return training_config(stage, preset=preset, use_lora=use_lora).as_dict()
