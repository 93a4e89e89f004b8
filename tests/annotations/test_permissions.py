"""The fetch-and-authorise helpers: the only way views reach objects named in a URL."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.utils import timezone

from annotations.generations.permissions import (
    access_generation_for_user,
    access_model_version_for_user,
)
from annotations.reviews.models import Review
from annotations.reviews.permissions import access_review_for_user
from annotations.songs.permissions import access_song_for_user
from tests import factories


def test_an_expert_reads_songs_but_may_not_edit_them(expert_user) -> None:
    song = factories.SongFactory()
    assert access_song_for_user(expert_user, song.pk) == song
    with pytest.raises(PermissionDenied):
        access_song_for_user(expert_user, song.pk, write=True)


def test_a_missing_song_is_a_404(admin_user) -> None:
    with pytest.raises(Http404):
        access_song_for_user(admin_user, 999_999)


def test_only_admins_promote_model_versions(role_users) -> None:
    version = factories.ModelVersionFactory()
    assert access_model_version_for_user(role_users["admin"], version.pk, write=True) == version
    assert access_model_version_for_user(role_users["auditor"], version.pk) == version
    with pytest.raises(PermissionDenied):
        access_model_version_for_user(role_users["auditor"], version.pk, write=True)
    with pytest.raises(PermissionDenied):
        access_model_version_for_user(role_users["expert"], version.pk)


def test_generations_are_readable_by_every_role(role_users) -> None:
    generation = factories.GenerationFactory()
    for user in role_users.values():
        assert access_generation_for_user(user, generation.pk) == generation


def test_an_expert_edits_their_own_draft(expert_user) -> None:
    review = factories.ReviewFactory(expert=expert_user)
    assert access_review_for_user(expert_user, review.pk, write=True) == review


def test_another_experts_draft_does_not_exist_for_you(expert_user) -> None:
    review = factories.ReviewFactory()
    with pytest.raises(Http404):
        access_review_for_user(expert_user, review.pk)


def test_another_experts_submitted_review_stays_blind(expert_user) -> None:
    review = factories.ReviewFactory(status=Review.Status.SUBMITTED, submitted_at=timezone.now())
    with pytest.raises(Http404):
        access_review_for_user(expert_user, review.pk)


def test_a_submitted_review_is_read_only_for_its_author(expert_user) -> None:
    review = factories.ReviewFactory(
        expert=expert_user, status=Review.Status.SUBMITTED, submitted_at=timezone.now()
    )
    assert access_review_for_user(expert_user, review.pk) == review
    with pytest.raises(PermissionDenied):
        access_review_for_user(expert_user, review.pk, write=True)


def test_auditors_read_submitted_reviews_but_not_drafts(auditor_user) -> None:
    submitted = factories.ReviewFactory(status=Review.Status.SUBMITTED, submitted_at=timezone.now())
    draft = factories.ReviewFactory()
    assert access_review_for_user(auditor_user, submitted.pk) == submitted
    with pytest.raises(Http404):
        access_review_for_user(auditor_user, draft.pk)
    with pytest.raises(Http404):
        access_review_for_user(auditor_user, submitted.pk, write=True)
