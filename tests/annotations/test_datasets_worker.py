"""A snapshot created in the web process is built by a real Celery worker, once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from annotations.datasets.models import DatasetExample, DatasetSnapshot
from annotations.datasets.services import snapshot_create
from tests.processes import celery_worker
from tests.snapshots import reviewed_songs
from workbench.celery import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_until_built(pk: int, worker, timeout: float = 90) -> DatasetSnapshot:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        snapshot = DatasetSnapshot.objects.get(pk=pk)
        if snapshot.status != DatasetSnapshot.Status.BUILDING:
            return snapshot
        time.sleep(0.25)
    pytest.fail("the worker never finished the snapshot")


def test_the_worker_builds_the_snapshot_and_a_redelivery_changes_nothing(
    tmp_path: Path, settings
) -> None:
    made = reviewed_songs(tmp_path=tmp_path / "audio")
    app.control.purge()
    with celery_worker(
        queues="audio", media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "data", purge=False
    ) as worker:
        # transaction=True: the create commits, and its on_commit hook enqueues the build.
        snapshot = snapshot_create(
            name="worker-built",
            filters={"model_versions": [made.version.pk]},
            eval_fraction=0.5,
            split_seed=0,
            actor=None,
        )
        built = _wait_until_built(snapshot.pk, worker)
        assert built.status == DatasetSnapshot.Status.FROZEN, built.error
        assert (Path(settings.MEDIA_ROOT) / built.storage_path / "manifest.json").is_file()
        examples = DatasetExample.objects.filter(snapshot=built).count()
        assert examples == sum(sum(splits.values()) for splits in built.row_counts.values()) > 0

        from workers.datasets import build_snapshot

        result = build_snapshot.delay(snapshot.pk).get(timeout=60)
        assert result["status"] == "frozen"
        assert result["content_sha256"] == built.content_sha256
    again = DatasetSnapshot.objects.get(pk=snapshot.pk)
    assert again.frozen_at == built.frozen_at
    assert DatasetExample.objects.filter(snapshot=built).count() == examples


def test_snapshot_builds_go_to_the_cpu_queue() -> None:
    from workers.datasets import build_snapshot

    assert app.amqp.router.route({}, build_snapshot.name)["queue"].name == "audio"
