"""Training runs as services: launch validation, in-process training of the tiny model on a small
snapshot folder, the lock that keeps one run from training twice, cancel, resume, recovery, and
the subprocess launcher."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings

from annotations.core.errors import ValidationFailed
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import ModelVersion
from annotations.rewards.services.reward_profiles import reward_profile_is_frozen
from annotations.training.models import TrainingMetric, TrainingRun
from annotations.training.services import creation, execution, launchers
from annotations.training.services.model_versions import model_version_register_local
from tests import factories
from tests.audio_files import write_tone
from tests.tiny_models import tiny_model_path

pytestmark = pytest.mark.django_db

SMOKE = {"save_steps": 1}


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": text}]}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def write_training_snapshot(
    media_root: str | Path,
    *,
    name: str = "train-test",
    formats: tuple[str, ...] = ("sft", "grpo", "dpo"),
) -> DatasetSnapshot:
    """A frozen snapshot row and its folder (the contract's layout) with two real 3-second WAVs:
    three SFT conversations, two GRPO questions with a verified answer, two DPO pairs."""
    storage = Path(media_root)
    audio = []
    for index, freq in enumerate((220.0, 330.0)):
        relative = f"audio/train-{name}-{index}.wav"
        (storage / "audio").mkdir(parents=True, exist_ok=True)
        path = write_tone(storage / relative, seconds=3.0, freq=freq)
        audio.append({"path": relative, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})

    def base(fmt: str, index: int) -> dict[str, Any]:
        return {
            "id": f"{fmt}-{index}",
            "song_id": index + 1,
            "audio": audio[index % 2],
            "genre": "rock",
            "culture": "",
        }

    rows = {
        "sft": [
            {
                **base("sft", i),
                "messages": [
                    _user("Describe this track. Think first."),
                    _assistant(
                        "<think>Step 1: the drums play a steady backbeat.</think>"
                        f"<answer>A rock song at {120 + i} BPM with drums and bass.</answer>"
                    ),
                ],
                "source": "accepted_trace",
            }
            for i in range(3)
        ],
        "grpo": [
            {
                **base("grpo", i),
                "prompt": [_user("What is the tempo in BPM?")],
                "answer": "120",
                "options": None,
                "metadata": {"tempo_bpm": 120.0},
                "analysis": {},
                "source": "question",
            }
            for i in range(2)
        ],
        "dpo": [
            {
                **base("dpo", i),
                "prompt": [_user("Describe this track.")],
                "chosen": [_assistant("A rock song at 120 BPM with drums and bass.")],
                "rejected": [_assistant("A waltz in G major with sitar.")],
                "source": "ranking",
            }
            for i in range(2)
        ],
    }
    relative_dir = f"datasets/{name}"
    folder = storage / relative_dir
    files = {}
    for fmt, fmt_rows in rows.items():
        fmt_rows = fmt_rows if fmt in formats else []
        for split, split_rows in (("train", fmt_rows), ("eval", fmt_rows[:1])):
            text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in split_rows)
            (folder / fmt).mkdir(parents=True, exist_ok=True)
            (folder / fmt / f"{split}.jsonl").write_text(text)
            files[f"{fmt}/{split}.jsonl"] = {
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "rows": len(split_rows),
            }
    manifest = {"name": name, "files": files, "filters": {}, "eval_fraction": 0.3}
    (folder / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
    return factories.DatasetSnapshotFactory(
        name=name, storage_path=relative_dir, status=DatasetSnapshot.Status.FROZEN
    )


def tiny_version(name: str = "tiny-base") -> ModelVersion:
    return model_version_register_local(name=name, directory=tiny_model_path(), dtype="float32")


@pytest.fixture
def snapshot(settings) -> DatasetSnapshot:
    return write_training_snapshot(settings.MEDIA_ROOT)


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[int, str]]:
    """What would have gone to the broker (run id, task id)."""
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        creation,
        "training_run_enqueue",
        lambda *, run_id, task_id: sent.append((run_id, task_id)),
    )
    return sent


def _launch(snapshot: DatasetSnapshot, **kwargs: Any) -> TrainingRun:
    values: dict[str, Any] = {
        "stage": "sft",
        "base_version": kwargs.pop("base_version", None) or tiny_version(),
        "snapshot": snapshot,
        "preset": "smoke",
        "overrides": SMOKE,
    }
    values.update(kwargs)
    return creation.training_run_create(**values)


# --- Launch --------------------------------------------------------------------------------------


def test_a_launch_records_the_config_and_enqueues_after_commit(
    snapshot, admin_user, enqueued, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        run = _launch(snapshot, overrides={"max_steps": 3, "learning_rate": 2e-4}, actor=admin_user)
    assert run.status == TrainingRun.Status.QUEUED
    assert run.config["max_steps"] == 3 and run.config["learning_rate"] == 2e-4
    assert run.config["per_device_train_batch_size"] == 1  # the smoke preset's, not overridden
    assert run.config["stage"] == "sft" and run.config["use_lora"] is True
    assert run.output_dir == f"training/runs/{run.pk}"
    assert run.launched_by == admin_user
    assert enqueued == [(run.pk, run.celery_task_id)]


def test_it_refuses_a_snapshot_that_is_not_frozen(snapshot, enqueued) -> None:
    DatasetSnapshot.objects.filter(pk=snapshot.pk).update(status=DatasetSnapshot.Status.BUILDING)
    snapshot.refresh_from_db()
    with pytest.raises(ValidationFailed, match="only a frozen snapshot"):
        _launch(snapshot)
    assert not TrainingRun.objects.exists() and not enqueued


def test_it_refuses_a_stage_whose_format_has_no_training_rows(settings, enqueued) -> None:
    snapshot = write_training_snapshot(settings.MEDIA_ROOT, name="sft-only", formats=("sft",))
    with pytest.raises(ValidationFailed, match="no DPO training rows"):
        _launch(snapshot, stage="dpo")


def test_grpo_needs_a_reward_profile(snapshot, enqueued) -> None:
    with pytest.raises(ValidationFailed, match="GRPO needs a reward profile"):
        _launch(snapshot, stage="grpo")


def test_a_bad_hyperparameter_is_a_readable_error(snapshot, enqueued) -> None:
    with pytest.raises(ValidationFailed, match="learning_rate must be in"):
        _launch(snapshot, overrides={"learning_rate": 5.0})
    with pytest.raises(ValidationFailed, match="unknown training setting"):
        _launch(snapshot, overrides={"learning_rat": 1e-4})


def test_using_a_profile_freezes_it(snapshot, enqueued) -> None:
    profile = factories.RewardProfileFactory(weights={"format": 1.0})
    assert not reward_profile_is_frozen(profile)
    _launch(snapshot, stage="grpo", reward_profile=profile, overrides={})
    assert reward_profile_is_frozen(profile)


# --- Cancel --------------------------------------------------------------------------------------


def test_cancelling_a_queued_run_cancels_it_at_once(snapshot, enqueued) -> None:
    run = creation.training_run_cancel(run=_launch(snapshot))
    assert run.status == TrainingRun.Status.CANCELLED and run.finished_at is not None
    # Its message still arrives: the delivery finds nothing to do.
    assert execution.training_run_execute(run_id=run.pk).status == TrainingRun.Status.CANCELLED
    assert run.attempts == 0


def test_cancelling_a_running_run_asks_it_to_stop(snapshot, enqueued) -> None:
    run = _launch(snapshot)
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING)
    run = creation.training_run_cancel(run=run)
    assert run.status == TrainingRun.Status.RUNNING and run.cancel_requested_at is not None


def test_a_finished_run_cannot_be_cancelled(snapshot, enqueued) -> None:
    run = _launch(snapshot)
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.SUCCEEDED)
    with pytest.raises(ValidationFailed, match="already succeeded"):
        creation.training_run_cancel(run=run)


# --- Execute (in-process, the tiny model) --------------------------------------------------------


@pytest.mark.training
def test_an_sft_run_trains_registers_a_version_and_keeps_its_metrics(snapshot, enqueued) -> None:
    run = _launch(snapshot)
    run = execution.training_run_execute(run_id=run.pk, task_id="t-1")
    assert run is not None
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert (run.step, run.total_steps, run.progress, run.attempts) == (2, 2, 1.0, 1)
    assert run.last_checkpoint_step == 2 and run.started_at and run.finished_at
    version = ModelVersion.objects.get(training_run=run)
    assert version.parent == run.base_version
    assert (Path(django_settings.MEDIA_ROOT) / version.checkpoint_uri / "config.json").is_file()
    rows = list(TrainingMetric.objects.filter(run=run).order_by("step"))
    assert [row.step for row in rows] == [1, 2]
    assert {"loss", "learning_rate", "steps_per_second"} <= set(rows[-1].values)
    # A late duplicate delivery of the finished run changes nothing.
    again = execution.training_run_execute(run_id=run.pk, task_id="t-2")
    assert again is not None and again.attempts == 1 and again.celery_task_id == "t-1"


def test_a_delivery_that_finds_the_run_held_returns_quietly(snapshot, enqueued) -> None:
    run = _launch(snapshot)
    other = execution._lock_connection()  # another worker's session holding the run
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (execution._LOCK_CLASS, run.pk))
        assert execution.training_run_execute(run_id=run.pk, task_id="dup") is None
    finally:
        other.close()
    run.refresh_from_db()
    assert run.status == TrainingRun.Status.QUEUED and run.attempts == 0


@pytest.mark.training
def test_a_cancel_stops_the_run_after_a_checkpoint_and_a_lost_worker_resumes_from_it(
    snapshot, enqueued
) -> None:
    run = _launch(snapshot, overrides={"save_steps": 1, "max_steps": 3})
    # Asked to stop before its first step ends: it stops after step 1, with a checkpoint.
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested_at="2026-01-01T00:00:00Z")
    run = execution.training_run_execute(run_id=run.pk)
    assert run is not None
    assert run.status == TrainingRun.Status.CANCELLED, run.error
    assert run.step == 1 and run.last_checkpoint_step == 1
    assert (creation.run_dir(run) / "checkpoints" / "checkpoint-1").is_dir()
    assert not ModelVersion.objects.filter(training_run=run).exists()

    # Now pretend its worker died at step 2 after logging it: running, lock free.
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, cancel_requested_at=None, step=2
    )
    TrainingMetric.objects.create(run=run, step=2, values={"loss": 99.0})
    run = execution.training_run_execute(run_id=run.pk, redelivered=True)
    assert run is not None
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.attempts == 2 and run.step == 3
    assert run.metrics["resumed_from_step"] == 1
    steps = list(TrainingMetric.objects.filter(run=run).values_list("step", "values"))
    assert [step for step, _ in steps] == [1, 2, 3]
    assert dict(steps)[2]["loss"] != 99.0  # the dead worker's step 2 was trained again


def test_a_failure_is_recorded_readably(snapshot, enqueued) -> None:
    run = _launch(snapshot, base_version=factories.ModelVersionFactory(checkpoint_uri="/nowhere"))
    run = execution.training_run_execute(run_id=run.pk)
    assert run is not None
    assert run.status == TrainingRun.Status.FAILED
    assert "/nowhere" in run.error and run.finished_at is not None


# --- Recovery ------------------------------------------------------------------------------------


def test_recovery_re_enqueues_running_runs_whose_worker_is_gone(snapshot, enqueued) -> None:
    orphan, held = _launch(snapshot), _launch(snapshot, base_version=tiny_version("tiny-2"))
    TrainingRun.objects.filter(pk__in=[orphan.pk, held.pk]).update(
        status=TrainingRun.Status.RUNNING
    )
    enqueued.clear()
    other = execution._lock_connection()
    try:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (execution._LOCK_CLASS, held.pk))
        assert execution.training_runs_recover() == [orphan.pk]
    finally:
        other.close()
    orphan.refresh_from_db()
    assert enqueued == [(orphan.pk, orphan.celery_task_id)]


# --- Launchers -----------------------------------------------------------------------------------


@pytest.mark.parametrize("config", ["fsdp", "deepspeed_zero3"])
def test_the_accelerate_command_launches_the_training_module_with_a_shipped_config(
    settings, snapshot, enqueued, config, monkeypatch
) -> None:
    settings.WORKBENCH_TRAINING_LAUNCHER = "accelerate"
    settings.WORKBENCH_ACCELERATE_CONFIG = config
    monkeypatch.setattr(launchers, "_gpu_count", lambda: 4)
    run = _launch(snapshot)
    job = execution.training_job_for(run)
    command = launchers.launcher_command(job)
    assert command[1:3] == ["-m", "accelerate.commands.launch"]
    config_file = Path(command[command.index("--config_file") + 1])
    assert config_file.is_file() and config_file.name == f"{config}.yaml"
    assert command[command.index("--num_processes") + 1] == "4"
    assert command[command.index("-m", 3) :] == [
        "-m",
        "modeling.training",
        "--job",
        str(job.output_dir / "job.json"),
    ]


@pytest.mark.subprocess
@pytest.mark.training
def test_a_run_in_a_child_process_streams_its_events_into_the_rows(
    settings, snapshot, enqueued
) -> None:
    settings.WORKBENCH_TRAINING_LAUNCHER = "subprocess"
    run = _launch(snapshot)
    run = execution.training_run_execute(run_id=run.pk)
    assert run is not None
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.step == 2 and run.last_checkpoint_step == 2
    assert list(TrainingMetric.objects.filter(run=run).values_list("step", flat=True)) == [1, 2]
    assert ModelVersion.objects.filter(training_run=run).exists()
    assert (creation.run_dir(run) / "events.jsonl").is_file()


@pytest.mark.subprocess
@pytest.mark.training
def test_a_cancel_reaches_a_child_process_through_its_stop_file(
    settings, snapshot, enqueued
) -> None:
    settings.WORKBENCH_TRAINING_LAUNCHER = "subprocess"
    run = _launch(snapshot, overrides={"max_steps": 3, "save_steps": 10})
    TrainingRun.objects.filter(pk=run.pk).update(cancel_requested_at="2026-01-01T00:00:00Z")
    run = execution.training_run_execute(run_id=run.pk)
    assert run is not None
    assert run.status == TrainingRun.Status.CANCELLED, run.error
    assert run.step == 1 and run.last_checkpoint_step == 1
    assert (creation.run_dir(run) / "checkpoints" / "checkpoint-1").is_dir()


@pytest.mark.subprocess
def test_a_failing_child_process_fails_the_run_with_its_error(settings, snapshot, enqueued) -> None:
    settings.WORKBENCH_TRAINING_LAUNCHER = "subprocess"
    run = _launch(snapshot, base_version=factories.ModelVersionFactory(checkpoint_uri="/nowhere"))
    run = execution.training_run_execute(run_id=run.pk)
    assert run is not None
    assert run.status == TrainingRun.Status.FAILED and "/nowhere" in run.error


# --- The SQLite lease (the demo's stand-in for the advisory lock) ---------------------------------


def test_the_lease_is_taken_once_and_freed_by_a_stale_heartbeat(snapshot, enqueued) -> None:
    from datetime import timedelta

    from django.utils import timezone

    run = _launch(snapshot)
    with execution._lease(run.pk) as first:
        assert first
        with execution._lease(run.pk) as second:
            assert not second  # a live holder (this very process)
        stale = timezone.now() - timedelta(seconds=execution.LEASE_SECONDS + 1)
        TrainingRun.objects.filter(pk=run.pk).update(heartbeat_at=stale)
        with execution._lease(run.pk) as after_silence:
            assert after_silence


def test_the_lease_of_a_dead_process_on_this_machine_is_free_at_once(snapshot, enqueued) -> None:
    import socket
    import subprocess

    from django.utils import timezone

    dead = subprocess.Popen(["true"])
    dead.wait()
    run = _launch(snapshot)
    TrainingRun.objects.filter(pk=run.pk).update(
        worker=f"{socket.gethostname()}:{dead.pid}", heartbeat_at=timezone.now()
    )
    with execution._lease(run.pk) as taken:
        assert taken


@pytest.mark.subprocess
@pytest.mark.training
def test_a_run_under_accelerate_launch_trains_and_reports_back(
    settings, snapshot, enqueued, tmp_path
) -> None:
    # One CPU process: the same `accelerate launch ... -m modeling.training --job` a GPU machine
    # runs with the FSDP or DeepSpeed config, here with a config file given by path.
    config = tmp_path / "cpu.yaml"
    config.write_text(
        "compute_environment: LOCAL_MACHINE\ndistributed_type: 'NO'\nmachine_rank: 0\n"
        "num_machines: 1\nnum_processes: 1\nmixed_precision: 'no'\nuse_cpu: true\n"
    )
    settings.WORKBENCH_TRAINING_LAUNCHER = "accelerate"
    settings.WORKBENCH_ACCELERATE_CONFIG = str(config)
    run = execution.training_run_execute(run_id=_launch(snapshot).pk)
    assert run is not None
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    assert run.step == 2 and ModelVersion.objects.filter(training_run=run).exists()
    events = (creation.run_dir(run) / "events.jsonl").read_text().splitlines()
    assert [json.loads(line)["event"] for line in events][-1] == "result"


def test_a_run_whose_worker_died_after_a_cancel_request_ends_cancelled_without_training(
    snapshot, enqueued
) -> None:
    run = _launch(snapshot)
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.RUNNING, attempts=1, cancel_requested_at="2026-01-01T00:00:00Z"
    )
    run = execution.training_run_execute(run_id=run.pk, redelivered=True)
    assert run is not None
    assert run.status == TrainingRun.Status.CANCELLED and run.attempts == 1
    assert not TrainingMetric.objects.filter(run=run).exists()


def test_logged_steps_are_written_in_batches_and_at_every_checkpoint() -> None:
    run = factories.TrainingRunFactory(status=TrainingRun.Status.RUNNING)
    now = [0.0]
    hooks = execution.RunHooks(run, clock=lambda: now[0])
    hooks.on_log(step=1, total_steps=4, values={"loss": 2.0, "learning_rate": 1e-5})
    now[0] = 0.5
    hooks.on_log(step=2, total_steps=4, values={"loss": 1.5, "eval_loss": 1.7})
    assert not TrainingMetric.objects.filter(run=run).exists()  # still within FLUSH_SECONDS

    now[0] = 1.2
    hooks.on_log(step=3, total_steps=4, values={"loss": 1.0, "eta_seconds": 3.0})
    rows = {(m.kind, m.step): m.values for m in TrainingMetric.objects.filter(run=run)}
    assert rows == {
        ("train", 1): {"loss": 2.0, "learning_rate": 1e-5},
        ("train", 2): {"loss": 1.5},
        ("eval", 2): {"eval_loss": 1.7},
        ("train", 3): {"loss": 1.0, "eta_seconds": 3.0},
    }
    run.refresh_from_db()
    assert (run.step, run.total_steps, run.progress, run.eta_seconds) == (3, 4, 0.75, 3.0)

    now[0] = 1.3
    hooks.on_log(step=4, total_steps=4, values={"loss": 0.5})
    hooks.on_checkpoint(step=4, path=Path("checkpoint-4"))  # a resume must find step 4's row
    assert TrainingMetric.objects.get(run=run, kind="train", step=4).values == {"loss": 0.5}
    run.refresh_from_db()
    assert (run.step, run.last_checkpoint_step, run.progress) == (4, 4, 1.0)
