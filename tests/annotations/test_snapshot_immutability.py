"""A frozen snapshot's row and examples refuse a save(), whoever calls it."""

from __future__ import annotations

import pytest

from annotations.datasets.models import DatasetExample, DatasetSnapshot, FrozenSnapshotError
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_frozen_snapshot_refuses_a_save() -> None:
    snapshot = DatasetSnapshot.objects.get(pk=factories.DatasetSnapshotFactory().pk)
    snapshot.name = "renamed"
    with pytest.raises(FrozenSnapshotError):
        snapshot.save()
    assert DatasetSnapshot.objects.get(pk=snapshot.pk).name != "renamed"


def test_a_building_snapshot_can_be_frozen_once() -> None:
    snapshot = factories.DatasetSnapshotFactory(status=DatasetSnapshot.Status.BUILDING)
    snapshot = DatasetSnapshot.objects.get(pk=snapshot.pk)
    snapshot.status = DatasetSnapshot.Status.FROZEN
    snapshot.save()
    snapshot.description = "after freezing"
    with pytest.raises(FrozenSnapshotError):
        snapshot.save()


def test_an_example_is_written_once() -> None:
    example = DatasetExample.objects.create(
        snapshot=factories.DatasetSnapshotFactory(),
        format="sft",
        split="train",
        position=0,
        song=factories.SongFactory(),
        source="corrected_caption",
        row_sha256="0" * 64,
    )
    example.source = "other"
    with pytest.raises(FrozenSnapshotError):
        example.save()
