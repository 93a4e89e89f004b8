"""The dataset pages as an admin (curates), an auditor (reads) and an expert (neither)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from annotations.datasets.models import DatasetSnapshot
from annotations.datasets.services import snapshot_build
from annotations.reviews.models import Review
from tests import factories
from tests.helpers import client_for
from tests.snapshots import build_test_snapshot, reviewed_songs

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_snapshot_from_the_form_and_its_build_is_queued(
    admin_user, tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    made = reviewed_songs(tmp_path=tmp_path)
    client = client_for(admin_user)
    page = client.get(reverse("dataset_snapshot_new"))
    assert page.status_code == 200
    assert b'name="genres"' in page.content and b"multiple" in page.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            reverse("dataset_snapshot_new"),
            {
                "name": "rock-only",
                "model_versions": [made.version.pk],
                "genres": ["rock"],
                "verdicts": ["accept", "accept_with_fixes"],
                "min_agreeing_experts": "1",
                "prompt_kinds": ["thinking_caption", "question"],
                "eval_fraction": "0.5",
                "split_seed": "3",
                "date_from": "",
                "date_to": "",
            },
        )
    snapshot = DatasetSnapshot.objects.get(name="rock-only")
    assert response.status_code == 302
    assert response["Location"] == reverse("dataset_snapshot_detail", args=[snapshot.pk])
    assert len(callbacks) == 1  # the build, queued once the row is committed
    assert snapshot.status == DatasetSnapshot.Status.BUILDING
    assert snapshot.created_by == admin_user
    assert snapshot.filters["genres"] == ["rock"]
    assert snapshot.filters["verdicts"] == ["accept", "accept_with_fixes"]
    assert (snapshot.eval_fraction, snapshot.split_seed) == (0.5, 3)
    assert snapshot.celery_task_id

    building = client.get(reverse("dataset_snapshot_detail", args=[snapshot.pk]))
    assert b'hx-trigger="every 2s"' in building.content
    snapshot_build(snapshot_id=snapshot.pk)
    partial = client.get(
        reverse("dataset_snapshot_detail", args=[snapshot.pk]), headers={"HX-Request": "true"}
    )
    assert partial.status_code == 200
    assert b"<h1>" not in partial.content  # the partial alone
    assert b"every 2s" not in partial.content  # frozen: polling stops
    assert b'id="row-counts"' in partial.content
    assert partial["Vary"].count("HX-Request") == 1


def test_a_form_with_a_taken_name_says_so(admin_user) -> None:
    factories.DatasetSnapshotFactory(name="taken")
    response = client_for(admin_user).post(
        reverse("dataset_snapshot_new"),
        {"name": "taken", "min_agreeing_experts": "1", "eval_fraction": "0.1", "split_seed": "0"},
    )
    assert response.status_code == 400
    assert b"exists already" in response.content


def test_the_snapshot_page_shows_counts_balance_an_escaped_sample_and_the_manifest(
    auditor_user, tmp_path: Path
) -> None:
    made = reviewed_songs(tmp_path=tmp_path)
    Review.objects.filter(verdict="accept_with_fixes").update(
        corrected_caption="<script>alert('x')</script> A raga in D minor."
    )
    snapshot = build_test_snapshot(songs=made)
    response = client_for(auditor_user).get(reverse("dataset_snapshot_detail", args=[snapshot.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert snapshot.content_sha256 in html
    assert made.version.name in html  # the filters, by name
    assert "sft 12 by 2; grpo 8 by 2; dpo 8 by 2" in html
    assert 'id="balance-genre"' in html and "Hindustani classical" in html
    assert 'id="balance-culture"' in html and 'id="balance-source"' in html
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "sft/train.jsonl" in html and "dpo/eval.jsonl" in html
    for fmt in ("sft", "grpo", "dpo"):
        assert f'data-format="{fmt}"' in html
    # Read-only for auditors: no rebuild, no new snapshot.
    assert "Build again" not in html
    listing = client_for(auditor_user).get(reverse("dataset_snapshot_list")).content.decode()
    assert snapshot.name in listing and 'id="new-snapshot"' not in listing


def test_a_failed_snapshot_shows_why_and_an_admin_can_build_it_again(
    admin_user, django_capture_on_commit_callbacks
) -> None:
    snapshot = factories.DatasetSnapshotFactory(
        status=DatasetSnapshot.Status.FAILED, error="3 audio file(s) are missing from storage"
    )
    client = client_for(admin_user)
    page = client.get(reverse("dataset_snapshot_detail", args=[snapshot.pk])).content.decode()
    assert "The build failed: 3 audio file(s) are missing from storage" in page
    assert "Build again" in page
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(reverse("dataset_snapshot_retry", args=[snapshot.pk]))
    assert response.status_code == 302
    snapshot.refresh_from_db()
    assert snapshot.status == DatasetSnapshot.Status.BUILDING and not snapshot.error
    assert len(callbacks) == 1


def test_a_frozen_snapshot_cannot_be_rebuilt_from_the_page(admin_user) -> None:
    snapshot = factories.DatasetSnapshotFactory(content_sha256="a" * 64)
    client = client_for(admin_user)
    response = client.post(reverse("dataset_snapshot_retry", args=[snapshot.pk]), follow=True)
    assert "a frozen snapshot never changes" in response.content.decode()
    snapshot.refresh_from_db()
    assert snapshot.status == DatasetSnapshot.Status.FROZEN


def test_experts_cannot_see_snapshots(expert_user) -> None:
    snapshot = factories.DatasetSnapshotFactory()
    client = client_for(expert_user)
    assert client.get(reverse("dataset_snapshot_list")).status_code == 403
    assert client.get(reverse("dataset_snapshot_detail", args=[snapshot.pk])).status_code == 403
    assert client.post(reverse("dataset_snapshot_new"), {"name": "x"}).status_code == 403


def test_auditors_cannot_create_or_rebuild(auditor_user) -> None:
    snapshot = factories.DatasetSnapshotFactory(status=DatasetSnapshot.Status.FAILED)
    client = client_for(auditor_user)
    assert client.post(reverse("dataset_snapshot_new"), {"name": "x"}).status_code == 403
    assert client.post(reverse("dataset_snapshot_retry", args=[snapshot.pk])).status_code == 403
    assert not DatasetSnapshot.objects.filter(name="x").exists()


def test_an_unknown_snapshot_is_a_404(admin_user) -> None:
    assert (
        client_for(admin_user).get(reverse("dataset_snapshot_detail", args=[999999])).status_code
        == 404
    )
