"""Training runs through real Celery workers on the Redis broker, with the tiny model:

- the whole loop: snapshot → SFT, GRPO (two steps, group size 5, the real reward functions) and
  DPO runs → new model versions → a generation with the SFT version;
- cancel: a running run stops after a checkpoint;
- resume: a SIGKILLed worker's run is recovered by the next worker and continues from its
  checkpoint;
- no double run: the same message delivered twice at once trains once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from annotations.generations.models import Generation, ModelVersion
from annotations.generations.services.generations import generation_request
from annotations.rewards.models import RewardProfile
from annotations.training.models import TrainingMetric, TrainingRun
from annotations.training.services.creation import run_dir, training_run_cancel, training_run_create
from annotations.training.services.model_versions import model_version_register_local
from modeling.config import DecodingParams
from tests import factories
from tests.processes import celery_worker
from tests.snapshots import build_test_snapshot
from tests.tiny_models import tiny_model_path

# Real training in worker processes: minutes on a loaded two-core machine, not pytest's default 300 s.
pytestmark = [
    pytest.mark.worker,
    pytest.mark.training,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(900),
]

FINISHED = ("succeeded", "failed", "cancelled")


def _wait(
    condition: Callable[[], bool], worker, *, timeout: float = 240, what: str = "the run"
) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if worker.poll() is not None:
            pytest.fail(f"the worker exited while waiting for {what}")
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def _status(run: TrainingRun) -> str:
    return TrainingRun.objects.values_list("status", flat=True).get(pk=run.pk)


def _tiny_version() -> ModelVersion:
    return model_version_register_local(
        name="tiny-train-base", directory=tiny_model_path(), dtype="float32"
    )


def test_snapshot_to_sft_grpo_dpo_versions_and_a_generation_with_the_new_version(
    tmp_path: Path, settings, monkeypatch
) -> None:
    # Each new version's evaluation (and its parent's) runs on this worker too: keep them short.
    monkeypatch.setenv("WORKBENCH_EVALUATION_MAX_NEW_TOKENS", "4")
    snapshot = build_test_snapshot(tmp_path=tmp_path / "songs")
    base = _tiny_version()
    paper = RewardProfile.objects.get(name="paper", version=1)  # format, accuracy, structured
    with celery_worker(
        queues="gpu_training,gpu_inference",
        media_root=settings.MEDIA_ROOT,
        data_dir=tmp_path / "data",
    ) as worker:
        runs = {
            stage: training_run_create(
                stage=stage,
                base_version=base,
                snapshot=snapshot,
                reward_profile=paper if stage == "grpo" else None,
                preset="smoke",
                overrides={"max_completion_length": 8} if stage == "grpo" else {},
            )
            for stage in ("sft", "grpo", "dpo")
        }
        for stage, run in runs.items():
            _wait(lambda run=run: _status(run) in FINISHED, worker, what=f"the {stage} run")
        sft_version = ModelVersion.objects.get(training_run=runs["sft"])
        song = snapshot.examples.first().song
        groups = generation_request(
            songs=[song],
            model_version=sft_version,
            prompt=factories.PromptTemplateFactory(thinking=True),
            samples=1,
            decoding=DecodingParams(max_new_tokens=6),
            seed=1,
        )
        generation = Generation.objects.get(group__in=groups)
        _wait(
            lambda: Generation.objects.get(pk=generation.pk).status in ("succeeded", "failed"),
            worker,
            what="the generation with the trained version",
        )
    for stage, run in runs.items():
        run.refresh_from_db()
        assert run.status == TrainingRun.Status.SUCCEEDED, (stage, run.error)
        assert run.step == run.total_steps == 2 and run.attempts == 1
        version = ModelVersion.objects.get(training_run=run)
        assert version.parent == base and version.status == ModelVersion.Status.CANDIDATE
    grpo_last = TrainingMetric.objects.filter(run=runs["grpo"]).order_by("step").last()
    assert grpo_last is not None and grpo_last.step == 2
    # Each reward function's mean is charted, the weighted total beside them.
    assert {"reward", "reward/format", "reward/accuracy"} <= set(grpo_last.values)
    assert runs["grpo"].config["num_generations"] == 5
    generation.refresh_from_db()
    assert generation.status == Generation.Status.SUCCEEDED, generation.error
    assert generation.model_version == sft_version


def test_a_cancelled_run_stops_after_saving_a_checkpoint(tmp_path: Path, settings) -> None:
    snapshot = build_test_snapshot(tmp_path=tmp_path / "songs")
    with celery_worker(
        queues="gpu_training", media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "data"
    ) as worker:
        run = training_run_create(
            stage="sft",
            base_version=_tiny_version(),
            snapshot=snapshot,
            preset="smoke",
            overrides={"max_steps": 500, "save_steps": 50},
        )
        _wait(lambda: TrainingRun.objects.get(pk=run.pk).step >= 2, worker, what="two logged steps")
        training_run_cancel(run=run)
        _wait(lambda: _status(run) in FINISHED, worker, what="the cancel")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.CANCELLED, run.error
    assert 2 <= run.step < 500
    # Not at a save_steps boundary: the checkpoint is the one the cancel saved.
    assert run.last_checkpoint_step == run.step
    assert (run_dir(run) / "checkpoints" / f"checkpoint-{run.step}").is_dir()
    assert not ModelVersion.objects.filter(training_run=run).exists()


def test_a_killed_workers_run_resumes_from_its_checkpoint_on_the_next_worker(
    tmp_path: Path, settings
) -> None:
    snapshot = build_test_snapshot(tmp_path=tmp_path / "songs")
    media, data = settings.MEDIA_ROOT, tmp_path / "data"
    with celery_worker(queues="gpu_training", media_root=media, data_dir=data) as first:
        run = training_run_create(
            stage="sft",
            base_version=_tiny_version(),
            snapshot=snapshot,
            preset="smoke",
            overrides={"max_steps": 40, "save_steps": 1},
        )
        _wait(
            lambda: TrainingRun.objects.get(pk=run.pk).last_checkpoint_step >= 2,
            first,
            what="a checkpoint",
        )
        first.kill()  # SIGKILL: no cleanup, the message stays unacknowledged
        first.wait()
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.RUNNING and run.attempts == 1
    checkpoint_at_kill = run.last_checkpoint_step
    assert run.step < 40
    # The new worker finds the run running with nobody holding it, and re-enqueues it.
    with celery_worker(
        queues="gpu_training", media_root=media, data_dir=data, purge=False
    ) as again:
        _wait(lambda: _status(run) in FINISHED, again, timeout=300, what="the resumed run")
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.attempts == 2 and run.step == 40
    assert run.metrics["resumed_from_step"] >= checkpoint_at_kill
    steps = list(TrainingMetric.objects.filter(run=run).values_list("step", flat=True))
    assert steps == list(range(1, 41))
    assert ModelVersion.objects.filter(training_run=run).count() == 1


def test_the_same_message_delivered_twice_at_once_trains_once(tmp_path: Path, settings) -> None:
    from workers.training import run_training

    snapshot = build_test_snapshot(tmp_path=tmp_path / "songs")
    run = training_run_create(
        stage="sft",
        base_version=_tiny_version(),
        snapshot=snapshot,
        preset="smoke",
        overrides={"max_steps": 6},
        enqueue=False,
    )
    with celery_worker(
        queues="gpu_training",
        media_root=settings.MEDIA_ROOT,
        data_dir=tmp_path / "data",
        pool="threads",
        concurrency=2,
    ) as worker:
        for _ in range(2):  # as a broker redelivery would: the same task id twice
            run_training.apply_async(args=[run.pk], task_id=run.celery_task_id)
        _wait(lambda: _status(run) in FINISHED, worker, what="the run")
        time.sleep(2)  # the duplicate returned long before: it only tried the lock
    results = re.findall(r"run_training\[[^\]]+\] succeeded in [\d.]+s: (\{[^}]*\})", worker.output)
    assert len(results) == 2, worker.output[-3000:]
    assert sum("'skipped'" in result for result in results) == 1
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.SUCCEEDED and run.attempts == 1
    assert ModelVersion.objects.filter(training_run=run).count() == 1
