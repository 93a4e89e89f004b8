"""The Django admin is the admins' editor for vocabularies, taxonomy, prompts and model versions."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse

from annotations.reviews.models import ErrorCategory
from tests import factories
from tests.helpers import client_for

ANNOTATION_MODELS = [m for m in admin.site._registry if m._meta.app_label == "annotations"]


@pytest.mark.parametrize("model", ANNOTATION_MODELS, ids=lambda m: m._meta.model_name)
def test_every_changelist_opens_for_an_admin(model, admin_user) -> None:  # type: ignore[no-untyped-def]
    factories.FlagFactory()  # so the read-only lists have a row to render
    url = reverse(f"admin:annotations_{model._meta.model_name}_changelist")
    assert client_for(admin_user).get(url).status_code == 200


def test_an_admin_edits_a_category_description_but_not_its_code(admin_user) -> None:
    category = ErrorCategory.objects.get(code="genre-mislabel")
    url = reverse("admin:annotations_errorcategory_change", args=[category.pk])
    response = client_for(admin_user).post(
        url,
        {
            "code": "renamed",
            "name": category.name,
            "kind": category.kind,
            "aspect": category.aspect,
            "description": "Updated guidance for experts.",
            "example": "",
            "is_active": "on",
            "sort_order": 3,
        },
    )
    assert response.status_code == 302, response.content[:500]
    category.refresh_from_db()
    assert category.description == "Updated guidance for experts."
    assert category.code == "genre-mislabel"


def test_reviews_are_read_only_in_the_admin(admin_user) -> None:
    review = factories.ReviewFactory()
    url = reverse("admin:annotations_review_change", args=[review.pk])
    response = client_for(admin_user).post(url, {"comment": "overwritten"})
    review.refresh_from_db()
    assert response.status_code == 403
    assert review.comment == ""


def test_a_song_page_lists_its_audio_files_read_only(admin_user) -> None:
    audio = factories.AudioFileFactory(original_filename="take-1.wav")
    url = reverse("admin:annotations_song_change", args=[audio.song_id])
    body = client_for(admin_user).get(url).content.decode()
    assert "take-1.wav" in body
    assert 'name="audio_files-0-original_filename"' not in body, "no editable audio fields"
