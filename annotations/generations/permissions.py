"""The one way in to this room's objects named in URLs (see annotations.core.permissions)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from annotations.core.permissions import require_perm as _require
from annotations.generations.models import Generation, ModelVersion


def access_model_version_for_user(user: Any, pk: int, *, write: bool = False) -> ModelVersion:
    _require(user, "promote_modelversion" if write else "view_modelversion")
    try:
        return ModelVersion.objects.select_related("parent", "training_run").get(pk=pk)
    except ModelVersion.DoesNotExist:
        raise Http404("No such model version.") from None


def access_generation_for_user(user: Any, pk: int) -> Generation:
    _require(user, "view_generation")
    try:
        return Generation.objects.select_related("song", "model_version", "prompt").get(pk=pk)
    except Generation.DoesNotExist:
        raise Http404("No such generation.") from None
