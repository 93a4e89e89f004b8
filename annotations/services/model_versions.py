"""Registering checkpoints as model versions."""

from __future__ import annotations

import hashlib
from pathlib import Path

from django.db import transaction

from annotations.errors import ValidationFailed
from annotations.models import ModelVersion

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
