"""Model versions: registering checkpoints (base or trained), promoting one to serving, retiring."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.generations.models import ModelVersion
from annotations.training.models import TrainingRun

if TYPE_CHECKING:
    from modeling.training.runner import TrainingResult

log = logging.getLogger(__name__)

WEIGHT_SUFFIXES = (".safetensors", ".bin")


def checkpoint_sha256(directory: Path) -> str:
    """One hash over every weight file's name and bytes, in name order: the version's identity."""
    files = sorted(p for p in directory.rglob("*") if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if not files:
        raise ValidationFailed(f"No weight files (*.safetensors, *.bin) under {directory}.")
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(directory)).encode() + b"\0")
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


@transaction.atomic
def model_version_register_local(
    *,
    name: str,
    directory: Path,
    variant: str = ModelVersion.Variant.THINK,
    dtype: str = "auto",
    notes: str = "",
) -> ModelVersion:
    """Register (or re-point) the version ``name`` at a checkpoint directory, hashing its weights.

    Re-registering the same name with different weights is refused once generations use it,
    because they would silently change provenance.
    """
    directory = directory.resolve()
    digest = checkpoint_sha256(directory)
    version = ModelVersion.objects.select_for_update().filter(name=name).first()
    if version is None:
        version = ModelVersion(name=name)
    elif version.checkpoint_sha256 != digest and version.generations.exists():
        raise ValidationFailed(
            f"Model version {name} already has generations from other weights; use a new name."
        )
    version.variant = variant
    version.checkpoint_uri = str(directory)
    version.checkpoint_revision = ""
    version.checkpoint_sha256 = digest
    version.dtype = dtype
    version.notes = notes or version.notes
    version.full_clean()
    version.save()
    return version


# A stage's outputs are reasoning traces (think) when it trains on them; otherwise the parent's.
_THINKING_STAGES = (TrainingRun.Stage.COT, TrainingRun.Stage.GRPO)


def storage_relative(path: Path) -> str:
    """``path`` as a path under the storage root, so a version survives moving the root (and
    another machine mounting it elsewhere). Raises ValidationFailed for a path outside it."""
    root = Path(settings.MEDIA_ROOT).resolve()
    try:
        return str(Path(path).resolve().relative_to(root))
    except ValueError:
        raise ValidationFailed(
            f"{path} is not under the storage root {root}; training must write there."
        ) from None


def model_version_register_trained(*, run: TrainingRun, result: TrainingResult) -> ModelVersion:
    """The candidate version a finished run produced: parent, run (and so snapshot, reward profile
    and config) recorded, weights hashed.

    Idempotent per run: a second call (a redelivered task, a retry after a crash) returns the
    version already registered; the run's row is locked while the version is written, so two
    concurrent calls make one version. The weights are hashed before that lock is taken (minutes
    for an 8 B checkpoint). Raises ValidationFailed when the run did not complete, left no merged
    weights, or wrote them outside the storage root.
    """
    existing = ModelVersion.objects.filter(training_run_id=run.pk).first()
    if existing is not None:
        return existing
    if result.status != "completed":
        raise ValidationFailed(
            f"{run} ended {result.status}; only a completed run makes a version."
        )
    if result.final_dir is None:
        raise ValidationFailed(
            f"{run} saved no merged weights; the inference workers load merged weights only."
        )
    checkpoint_uri = storage_relative(result.final_dir)
    adapter_uri = storage_relative(result.adapter_dir) if result.adapter_dir else ""
    digest = checkpoint_sha256(Path(result.final_dir))
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().select_related("base_version").get(pk=run.pk)
        existing = ModelVersion.objects.filter(training_run=run).first()
        if existing is not None:
            return existing
        parent = run.base_version
        suffix = f"-{run.stage}-{run.pk}"
        room = (ModelVersion._meta.get_field("name").max_length or 120) - len(suffix)
        version = ModelVersion(
            name=parent.name[:room] + suffix,
            variant=ModelVersion.Variant.THINK if run.stage in _THINKING_STAGES else parent.variant,
            parent=parent,
            training_run=run,
            checkpoint_uri=checkpoint_uri,
            checkpoint_sha256=digest,
            adapter_uri=adapter_uri,
            dtype=parent.dtype,
            status=ModelVersion.Status.CANDIDATE,
        )
        version.full_clean()
        version.save()
    log.info("registered %s from %s (%s)", version, run, digest[:12])
    return version


@transaction.atomic
def model_version_promote(*, version: ModelVersion, actor: Any) -> ModelVersion:
    """Make ``version`` the one new generations of its variant use; the version serving before
    goes back to candidate. A no-op for the serving version.

    Locks every version of the variant that is serving or being promoted (in primary-key order,
    so two concurrent promotions queue instead of deadlocking); the one-serving-per-variant
    constraint backs this up.
    """
    locked = list(
        ModelVersion.objects.select_for_update()
        .filter(Q(pk=version.pk) | Q(variant=version.variant, status=ModelVersion.Status.SERVING))
        .order_by("pk")
    )
    version = next(v for v in locked if v.pk == version.pk)
    if version.status == ModelVersion.Status.SERVING:
        return version
    for previous in locked:
        if previous.pk != version.pk and previous.status == ModelVersion.Status.SERVING:
            previous.status = ModelVersion.Status.CANDIDATE
            previous.save(update_fields=["status", "updated_at"])
    version.status = ModelVersion.Status.SERVING
    version.promoted_at = timezone.now()
    version.save(update_fields=["status", "promoted_at", "updated_at"])
    log.info("%s promoted %s to serving", getattr(actor, "username", "command"), version)
    return version


@transaction.atomic
def model_version_retire(*, version: ModelVersion, actor: Any) -> ModelVersion:
    """Take ``version`` out of use: new generation requests refuse it; its outputs stay.

    Raises ValidationFailed for the serving version: promote another of its variant first, so
    new generations always have a version to use.
    """
    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    if version.status == ModelVersion.Status.SERVING:
        raise ValidationFailed(
            f"{version} is serving {version.get_variant_display()} generations; promote another "
            "version of that variant first, then retire this one."
        )
    if version.status != ModelVersion.Status.RETIRED:
        version.status = ModelVersion.Status.RETIRED
        version.save(update_fields=["status", "updated_at"])
        log.info("%s retired %s", getattr(actor, "username", "command"), version)
    return version
