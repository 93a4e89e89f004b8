"""One way in to each object: fetch by primary key and authorise in the same call.

Views never call ``Model.objects.get`` on user input; they call ``access_<entity>_for_user``, which
raises ``Http404`` when the object does not exist *or* the user may not know it exists, and
``PermissionDenied`` when they may see it but not do what they asked.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotations.models import (
    DatasetSnapshot,
    Generation,
    ModelVersion,
    Review,
    RewardProfile,
    Song,
    TrainingRun,
)


def _require(user: Any, perm: str) -> None:
    if not user.has_perm(f"annotations.{perm}"):
        raise PermissionDenied


def access_song_for_user(user: Any, pk: int, *, write: bool = False) -> Song:
    _require(user, "manage_songs" if write else "view_song")
    try:
        return Song.objects.get(pk=pk)
    except Song.DoesNotExist:
        raise Http404("No such song.") from None


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


def access_reward_profile_for_user(user: Any, pk: int, *, write: bool = False) -> RewardProfile:
    _require(user, "manage_reward_profiles" if write else "view_rewardprofile")
    try:
        return RewardProfile.objects.get(pk=pk)
    except RewardProfile.DoesNotExist:
        raise Http404("No such reward profile.") from None


def access_dataset_snapshot_for_user(user: Any, pk: int, *, write: bool = False) -> DatasetSnapshot:
    """Auditors read snapshots (``view_datasetsnapshot``); with ``write``, admins curate them
    (``curate_datasets``)."""
    _require(user, "curate_datasets" if write else "view_datasetsnapshot")
    try:
        return DatasetSnapshot.objects.select_related("created_by").get(pk=pk)
    except DatasetSnapshot.DoesNotExist:
        raise Http404("No such dataset snapshot.") from None


def access_training_run_for_user(user: Any, pk: int, *, write: bool = False) -> TrainingRun:
    """With the version the run produced (``run.produced_version``; absent until it succeeds)."""
    _require(user, "run_training" if write else "view_trainingrun")
    try:
        return TrainingRun.objects.select_related(
            "base_version", "dataset_snapshot", "reward_profile", "launched_by", "produced_version"
        ).get(pk=pk)
    except TrainingRun.DoesNotExist:
        raise Http404("No such training run.") from None


def access_review_for_user(user: Any, pk: int, *, write: bool = False) -> Review:
    """An expert sees and edits only their own reviews (reviews are blind).

    Admins and auditors read submitted reviews; nobody but the author writes one, and a submitted
    review is read-only for everyone.
    """
    try:
        review = Review.objects.select_related("generation", "expert").get(pk=pk)
    except Review.DoesNotExist:
        raise Http404("No such review.") from None
    if review.expert_id == user.pk:
        _require(user, "review_generations")
        if write and review.status == Review.Status.SUBMITTED:
            raise PermissionDenied("This review was submitted and can no longer be edited.")
        return review
    if (
        write
        or review.status != Review.Status.SUBMITTED
        or not user.has_perm("annotations.view_review")
    ):
        # Another expert's draft must not even be known to exist.
        raise Http404("No such review.")
    return review
