"""Evaluations of a version and its parent on a snapshot's eval split: scheduling, running with the
tiny model, failures, redelivery, and once through a real gpu_inference worker."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

from annotations.core.errors import ValidationFailed
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import ModelVersion
from annotations.training.models import ModelEvaluation
from annotations.training.services import evaluations
from annotations.training.services.evaluations import evaluation_run, evaluation_schedule
from annotations.training.services.model_versions import (
    model_version_register_local,
    model_version_register_trained,
)
from modeling.config import DecodingParams
from tests import factories
from tests.annotations.test_model_versions import run_output
from tests.audio_files import write_tone
from tests.modeling.test_evaluation import grpo_row
from tests.processes import ROOT, celery_worker
from tests.tiny_models import tiny_model_path

pytestmark = pytest.mark.django_db
DECODING = DecodingParams(max_new_tokens=4, do_sample=False)


def frozen_snapshot(rows: int = 3) -> DatasetSnapshot:
    """A frozen snapshot whose grpo/eval.jsonl asks about one real audio file in storage."""
    storage = Path(settings.MEDIA_ROOT)
    (storage / "audio").mkdir(parents=True, exist_ok=True)
    write_tone(storage / "audio" / "song.wav", seconds=2.0)
    folder = storage / "datasets" / "0123456789abcdef"
    (folder / "grpo").mkdir(parents=True)
    lines = [json.dumps(grpo_row(index, "audio/song.wav"), sort_keys=True) for index in range(rows)]
    (folder / "grpo" / "eval.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return factories.DatasetSnapshotFactory(storage_path="datasets/0123456789abcdef/")


@pytest.fixture
def trained() -> ModelVersion:
    base = model_version_register_local(
        name="tiny-base", directory=tiny_model_path(), dtype="float32"
    )
    run = factories.TrainingRunFactory(base_version=base)
    return model_version_register_trained(run=run, result=run_output(run))


def test_scheduling_queues_the_version_and_its_parent_after_commit(
    trained, django_capture_on_commit_callbacks
) -> None:
    snapshot = frozen_snapshot()
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        child, parent = evaluation_schedule(
            model_version=trained, snapshot=snapshot, decoding=DECODING
        )
    assert (child.model_version, parent.model_version) == (trained, trained.parent)
    assert {child.status, parent.status} == {ModelEvaluation.Status.QUEUED}
    assert child.celery_task_id and parent.celery_task_id != child.celery_task_id
    assert child.metrics["decoding"]["max_new_tokens"] == 4
    assert len(callbacks) == 1


def test_scheduling_again_reuses_the_evaluations_and_queues_nothing(
    trained, django_capture_on_commit_callbacks
) -> None:
    snapshot = frozen_snapshot()
    first = evaluation_schedule(model_version=trained, snapshot=snapshot)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        again = evaluation_schedule(model_version=trained, snapshot=snapshot)
    assert [e.pk for e in again] == [e.pk for e in first]
    assert callbacks == []
    assert ModelEvaluation.objects.count() == 2


def test_a_parent_already_evaluated_on_the_snapshot_is_not_run_again(
    trained, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    snapshot = frozen_snapshot()
    done = factories.ModelEvaluationFactory(
        model_version=trained.parent, snapshot=snapshot, status="succeeded"
    )
    queued: list[list[tuple[int, str]]] = []
    monkeypatch.setattr(evaluations, "_enqueue", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        child, parent = evaluation_schedule(model_version=trained, snapshot=snapshot)
    assert parent.pk == done.pk and parent.status == "succeeded"
    assert queued == [[(child.pk, child.celery_task_id)]]


def test_a_failed_evaluation_is_queued_again(trained) -> None:
    snapshot = frozen_snapshot()
    failed = factories.ModelEvaluationFactory(
        model_version=trained, snapshot=snapshot, status="failed", error="GPU lost"
    )
    [again, _parent] = evaluation_schedule(model_version=trained, snapshot=snapshot)
    assert again.pk == failed.pk
    assert (again.status, again.error) == ("queued", "")


def test_a_base_version_is_evaluated_alone() -> None:
    version = factories.ModelVersionFactory()
    assert len(evaluation_schedule(model_version=version, snapshot=frozen_snapshot())) == 1


def test_only_a_frozen_snapshot_can_be_evaluated_on(trained) -> None:
    snapshot = factories.DatasetSnapshotFactory(status=DatasetSnapshot.Status.BUILDING)
    with pytest.raises(ValidationFailed, match="is not frozen"):
        evaluation_schedule(model_version=trained, snapshot=snapshot)


def test_running_stores_metrics_samples_and_progress(trained) -> None:
    [evaluation, _parent] = evaluation_schedule(
        model_version=trained, snapshot=frozen_snapshot(), decoding=DECODING
    )
    seen: list[tuple[int, int]] = []
    result = evaluation_run(
        evaluation_id=evaluation.pk, on_progress=lambda done, total: seen.append((done, total))
    )
    assert result is not None and result.status == "succeeded", result and result.error
    assert result.progress == 1.0 and seen[-1] == (3, 3)
    assert result.metrics["rows"] == 3 and result.metrics["generated"] == 3
    assert result.metrics["reward/accuracy/rows"] == 3
    assert result.metrics["decoding"]["max_new_tokens"] == 4
    assert len(result.samples) == 3 and result.finished_at is not None


def test_a_second_delivery_finds_nothing_to_run(trained) -> None:
    [evaluation, _parent] = evaluation_schedule(
        model_version=trained, snapshot=frozen_snapshot(), decoding=DECODING
    )
    ModelEvaluation.objects.filter(pk=evaluation.pk).update(status="running", celery_task_id="t1")
    untouched = evaluation_run(evaluation_id=evaluation.pk, task_id="t2")
    assert untouched is not None and untouched.status == "running"
    # Redelivered after its worker died: the same task takes its row back and finishes it.
    finished = evaluation_run(evaluation_id=evaluation.pk, task_id="t1", redelivered=True)
    assert finished is not None and finished.status == "succeeded"
    assert evaluation_run(evaluation_id=evaluation.pk, task_id="t1").status == "succeeded"  # type: ignore[union-attr]


def test_missing_weights_fail_the_evaluation_with_the_reason() -> None:
    version = factories.ModelVersionFactory(checkpoint_uri="/no/such/checkpoint")
    [evaluation] = evaluation_schedule(model_version=version, snapshot=frozen_snapshot())
    result = evaluation_run(evaluation_id=evaluation.pk)
    assert result is not None and result.status == "failed"
    assert "/no/such/checkpoint" in result.error


def test_a_snapshot_without_its_files_fails_readably(trained) -> None:
    snapshot = factories.DatasetSnapshotFactory(storage_path="datasets/gone/")
    [evaluation, _parent] = evaluation_schedule(model_version=trained, snapshot=snapshot)
    result = evaluation_run(evaluation_id=evaluation.pk)
    assert result is not None and result.status == "failed"
    assert result.error == f"Snapshot {snapshot} has no grpo/eval.jsonl in storage."


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_trained_version_and_its_parent_are_evaluated_by_the_worker(tmp_path: Path) -> None:
    from tests.snapshots import build_test_snapshot

    base = model_version_register_local(
        name="tiny-base", directory=tiny_model_path(), dtype="float32"
    )
    run = factories.TrainingRunFactory(base_version=base)
    version = model_version_register_trained(run=run, result=run_output(run))
    snapshot = build_test_snapshot(tmp_path=tmp_path)
    expected_rows = len(evaluations.eval_rows(snapshot))
    with celery_worker(
        queues="gpu_inference", media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "data"
    ) as worker:
        scheduled = evaluation_schedule(model_version=version, snapshot=snapshot, decoding=DECODING)
        rows = ModelEvaluation.objects.filter(pk__in=[e.pk for e in scheduled])
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and worker.poll() is None:
            if not rows.exclude(status__in=["succeeded", "failed"]).exists():
                break
            time.sleep(0.5)
    assert sorted(rows.values_list("status", "error")) == [("succeeded", "")] * 2
    child = rows.get(model_version=version)
    parent = rows.get(model_version=base)
    assert expected_rows > 0
    assert child.metrics["rows"] == child.metrics["generated"] == expected_rows
    assert child.progress == 1.0
    # Same weights (the fake run copied its parent), greedy decoding: the same figures.
    assert child.metrics == parent.metrics
    assert child.samples == parent.samples


def test_a_task_for_a_deleted_evaluation_says_so() -> None:
    from workers.evaluation import evaluate_version

    assert evaluate_version.run(987654) == {"evaluation": 987654, "status": "gone"}


@pytest.mark.subprocess
def test_importing_the_evaluation_tasks_does_not_import_torch() -> None:
    # The worker's prefork parent imports task modules before forking: no CUDA there.
    script = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'workbench.settings')\n"
        "django.setup()\n"
        "import workers.evaluation\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False"
