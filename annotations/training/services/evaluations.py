"""Evaluating model versions on a snapshot's eval split, beside their parent.

A version is measured on the GRPO-format eval rows of a frozen snapshot (prompts with verified
answers, metadata and analysis facts); its parent is measured on the same rows, so the model page
can show what training changed. The work runs on a ``gpu_inference`` worker
(``workers.evaluation.evaluate_version``); the row is the truth for status and progress.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.core.task_claims import claim_rows
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import ModelVersion
from annotations.generations.services.generations import model_config_for
from annotations.training.models import ModelEvaluation

if TYPE_CHECKING:
    from modeling.config import DecodingParams

log = logging.getLogger(__name__)

EVAL_FORMAT = "grpo"


def evaluation_schedule(
    *,
    model_version: ModelVersion,
    snapshot: DatasetSnapshot,
    decoding: DecodingParams | None = None,
) -> list[ModelEvaluation]:
    """Evaluations of ``model_version`` and of its parent on ``snapshot``'s eval split, created
    where missing and queued on the ``gpu_inference`` workers once the transaction commits.

    An evaluation that already succeeded, or is queued or running, is reused as it is; a failed
    one is queued again. ``decoding`` (greedy, ``WORKBENCH_EVALUATION_MAX_NEW_TOKENS`` new tokens
    by default) is recorded with each new evaluation's metrics. Raises ValidationFailed for a
    snapshot that is not frozen.
    """
    from modeling.config import DecodingParams

    if snapshot.status != DatasetSnapshot.Status.FROZEN:
        raise ValidationFailed(f"Snapshot {snapshot} is not frozen; evaluate on a frozen snapshot.")
    # Greedy, so two evaluations of the same weights agree and a parent and child differ by weights.
    decoding = decoding or DecodingParams(
        max_new_tokens=settings.WORKBENCH_EVALUATION_MAX_NEW_TOKENS, do_sample=False
    )
    versions = [model_version] + ([model_version.parent] if model_version.parent else [])
    evaluations: list[ModelEvaluation] = []
    to_queue: list[tuple[int, str]] = []
    with transaction.atomic():
        for version in versions:
            evaluation, created = ModelEvaluation.objects.select_for_update().get_or_create(
                model_version=version,
                snapshot=snapshot,
                split="eval",
                defaults={"metrics": {"decoding": decoding.as_dict()}},
            )
            if created or evaluation.status == ModelEvaluation.Status.FAILED:
                evaluation.status = ModelEvaluation.Status.QUEUED
                evaluation.progress = 0.0
                evaluation.error = ""
                evaluation.finished_at = None
                evaluation.celery_task_id = str(uuid.uuid4())
                evaluation.save()
                to_queue.append((evaluation.pk, evaluation.celery_task_id))
            evaluations.append(evaluation)
        if to_queue:
            transaction.on_commit(lambda: _enqueue(to_queue))
    return evaluations


def _enqueue(evaluations: list[tuple[int, str]]) -> None:
    from workers.evaluation import evaluate_version

    for pk, task_id in evaluations:
        evaluate_version.apply_async(args=[pk], task_id=task_id)


def eval_rows(snapshot: DatasetSnapshot, split: str = "eval") -> list[dict[str, Any]]:
    """The snapshot's GRPO rows of ``split``, read from its frozen file in storage."""
    path = Path(settings.MEDIA_ROOT) / snapshot.storage_path / EVAL_FORMAT / f"{split}.jsonl"
    if not snapshot.storage_path or not path.is_file():
        raise ValidationFailed(
            f"Snapshot {snapshot} has no {EVAL_FORMAT}/{split}.jsonl in storage."
        )
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line) for line in lines if line.strip()]


def evaluation_run(
    *,
    evaluation_id: int,
    task_id: str = "",
    redelivered: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> ModelEvaluation | None:
    """Run one queued evaluation (the worker's one service call); ``None`` if it does not exist.

    Claims the row (queued → running), so a duplicate delivery finds nothing to do and returns the
    row as it is; a redelivered task (its worker died mid-run) takes back the row it had claimed.
    Progress (0–1) is written to the row as batches finish. Any error ends the row failed with a
    readable reason.
    """
    from modeling.config import DecodingParams
    from modeling.training.evaluation import evaluate

    if not claim_rows(
        ModelEvaluation.objects.filter(pk=evaluation_id),
        task_id=task_id,
        redelivered=redelivered,
        progress=0.0,
    ):
        return ModelEvaluation.objects.filter(pk=evaluation_id).first()
    evaluation = ModelEvaluation.objects.select_related("model_version", "snapshot").get(
        pk=evaluation_id
    )

    def progress(done: int, total: int) -> None:
        ModelEvaluation.objects.filter(pk=evaluation.pk).update(
            progress=done / total if total else 1.0
        )
        if on_progress is not None:
            on_progress(done, total)

    decoding = DecodingParams.from_dict((evaluation.metrics or {}).get("decoding") or {})
    try:
        result = evaluate(
            checkpoint=model_config_for(evaluation.model_version),
            rows=eval_rows(evaluation.snapshot, evaluation.split),
            audio_root=Path(settings.MEDIA_ROOT),
            decoding=decoding,
            batch_size=settings.WORKBENCH_MODEL_MAX_BATCH_SIZE,
            backend=settings.WORKBENCH_MODEL_BACKEND,
            on_progress=progress,
        )
    except Exception as exc:  # missing weights or files, a broken checkpoint: the page says why
        log.exception("evaluation %s failed", evaluation.pk)
        message = (
            exc.message if isinstance(exc, ValidationFailed) else f"{type(exc).__name__}: {exc}"
        )
        return evaluation_mark_failed(evaluation=evaluation, reason=message)
    evaluation.status = ModelEvaluation.Status.SUCCEEDED
    evaluation.progress = 1.0
    evaluation.metrics = {**result.metrics, "decoding": decoding.as_dict()}
    evaluation.samples = result.samples
    evaluation.error = ""
    evaluation.finished_at = timezone.now()
    evaluation.save()
    return evaluation


def evaluation_mark_failed(*, evaluation: ModelEvaluation, reason: str) -> ModelEvaluation:
    """Record why an evaluation produced no figures (shown on the model page)."""
    evaluation.status = ModelEvaluation.Status.FAILED
    evaluation.error = reason[:2000]
    evaluation.finished_at = timezone.now()
    evaluation.save(update_fields=["status", "error", "finished_at"])
    log.warning("evaluation %s failed: %s", evaluation.pk, reason)
    return evaluation
