"""The one way in to this room's objects named in URLs (see annotations.core.permissions)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from annotations.core.permissions import require_perm as _require
from annotations.training.models import TrainingRun


def access_training_run_for_user(user: Any, pk: int, *, write: bool = False) -> TrainingRun:
    """With the version the run produced (``run.produced_version``; absent until it succeeds)."""
    _require(user, "run_training" if write else "view_trainingrun")
    try:
        return TrainingRun.objects.select_related(
            "base_version", "dataset_snapshot", "reward_profile", "launched_by", "produced_version"
        ).get(pk=pk)
    except TrainingRun.DoesNotExist:
        raise Http404("No such training run.") from None
