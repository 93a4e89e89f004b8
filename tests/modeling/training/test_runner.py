"""run_training end to end on the tiny model: progress, stop, resume, and the weights it leaves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modeling.training.runner import (
    TrainingHooks,
    TrainingJob,
    TrainingResult,
    last_checkpoint,
    log_values,
    run_training,
)


class RecordingHooks(TrainingHooks):
    def __init__(self, stop_after: int | None = None) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.stop_after = stop_after
        self.polls = 0

    def on_start(self, **kwargs: Any) -> None:
        self.events.append(("start", kwargs))

    def on_log(self, **kwargs: Any) -> None:
        self.events.append(("log", kwargs))

    def on_checkpoint(self, **kwargs: Any) -> None:
        self.events.append(("checkpoint", kwargs))

    def should_stop(self) -> bool:
        self.polls += 1
        return self.stop_after is not None and self.polls >= self.stop_after

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [fields for name, fields in self.events if name == kind]


@pytest.mark.training
def test_hooks_hear_start_and_every_step_with_rate_and_eta(make_job) -> None:
    hooks = RecordingHooks()
    result = run_training(make_job("sft"), hooks)
    assert hooks.of("start") == [{"total_steps": 2, "resumed_from_step": 0}]
    logs = hooks.of("log")
    assert [log["step"] for log in logs] == [1, 2]
    for log in logs:
        assert log["total_steps"] == 2
        values = log["values"]
        assert {
            "loss",
            "learning_rate",
            "epoch",
            "grad_norm",
            "steps_per_second",
            "eta_seconds",
        } <= set(values)
        assert values["steps_per_second"] > 0
        assert all(isinstance(v, float) for v in values.values())
    assert logs[0]["values"]["eta_seconds"] > 0
    assert logs[-1]["values"]["eta_seconds"] == 0
    assert result.status == "completed"
    assert (result.step, result.total_steps) == (2, 2)
    assert result.metrics["loss"] == logs[-1]["values"]["loss"]
    assert "train_runtime" in result.metrics


@pytest.mark.training
def test_stopping_saves_a_checkpoint_and_the_next_run_resumes_from_it(make_job) -> None:
    job = make_job("sft", use_lora=True)
    hooks = RecordingHooks(stop_after=1)
    cancelled = run_training(job, hooks)
    assert cancelled.status == "cancelled"
    assert cancelled.step == 1
    assert (cancelled.final_dir, cancelled.adapter_dir) == (None, None)
    checkpoint = job.output_dir / "checkpoints" / "checkpoint-1"
    assert hooks.of("checkpoint") == [{"step": 1, "path": checkpoint}]
    assert last_checkpoint(job.output_dir) == (1, checkpoint)
    assert not (job.output_dir / "final").exists()

    again = RecordingHooks()
    resumed = run_training(job, again)
    assert again.of("start") == [{"total_steps": 2, "resumed_from_step": 1}]
    assert [log["step"] for log in again.of("log")] == [2]
    assert resumed.status == "completed"
    assert resumed.step == 2
    assert last_checkpoint(job.output_dir)[0] == 2


def test_last_checkpoint_skips_a_half_written_one(tmp_path: Path) -> None:
    assert last_checkpoint(tmp_path) is None
    for step, complete in ((3, True), (10, True), (12, False)):
        folder = tmp_path / "checkpoints" / f"checkpoint-{step}"
        folder.mkdir(parents=True)
        if complete:
            (folder / "trainer_state.json").write_text("{}")
    (tmp_path / "checkpoints" / "runs").mkdir()
    assert last_checkpoint(tmp_path) == (10, tmp_path / "checkpoints" / "checkpoint-10")


def _generate(final_dir: Path, wav: Path) -> str:
    from modeling.audio import prepare_audio
    from modeling.backends import GenerationRequest, TransformersBackend
    from modeling.config import DecodingParams, ModelConfig
    from modeling.loader import load_model, unload_model

    try:
        backend = TransformersBackend(
            load_model(ModelConfig(checkpoint=str(final_dir), device="cpu"))
        )
        decoding = DecodingParams(max_new_tokens=4, min_new_tokens=4, do_sample=False)
        request = GenerationRequest(
            key=1, audio=prepare_audio(wav), prompt="Describe.", decoding=decoding, seed=0
        )
        [result] = backend.generate([request])
    finally:
        unload_model()
    assert result.ok, result.error
    assert result.output_tokens == 4
    return result.text


@pytest.mark.training
def test_lora_runs_leave_an_adapter_and_merged_weights_that_generate(
    make_job, snapshot, tiny_model
) -> None:
    import torch
    from peft import PeftConfig
    from transformers import AutoProcessor, MusicFlamingoForConditionalGeneration

    result = run_training(make_job("sft", use_lora=True))
    assert result.adapter_dir == result.final_dir.parent / "adapter"
    adapter = PeftConfig.from_pretrained(result.adapter_dir)
    assert "multi_modal_projector" in adapter.modules_to_save
    model = MusicFlamingoForConditionalGeneration.from_pretrained(result.final_dir)
    assert not any("lora" in name for name, _ in model.named_parameters())
    base = MusicFlamingoForConditionalGeneration.from_pretrained(tiny_model)
    merged, original = model.state_dict(), base.state_dict()
    changed = {name for name in original if not torch.equal(original[name], merged[name])}
    assert any("multi_modal_projector" in name for name in changed)
    assert any("self_attn.q_proj" in name for name in changed)
    assert not any("audio_tower" in name for name in changed)
    AutoProcessor.from_pretrained(result.final_dir)
    _generate(result.final_dir, snapshot["audio_root"] / "audio" / "song-0.wav")


@pytest.mark.training
def test_full_fine_tuning_leaves_changed_weights_that_generate(
    make_job, snapshot, tiny_model
) -> None:
    import torch
    from transformers import MusicFlamingoForConditionalGeneration

    result = run_training(make_job("sft", use_lora=False))
    assert result.adapter_dir is None
    before = MusicFlamingoForConditionalGeneration.from_pretrained(tiny_model).state_dict()
    after = MusicFlamingoForConditionalGeneration.from_pretrained(result.final_dir).state_dict()
    changed = {name for name in before if not torch.equal(before[name], after[name])}
    assert any("audio_tower" in name for name in changed)
    _generate(result.final_dir, snapshot["audio_root"] / "audio" / "song-1.wav")


def test_a_stage_without_rows_fails_readably(make_job, tmp_path: Path, snapshot) -> None:
    import shutil

    empty = tmp_path / "snapshot"
    shutil.copytree(snapshot["dataset_dir"], empty)
    (empty / "dpo" / "train.jsonl").write_text("")
    job = make_job("dpo")
    job = TrainingJob.from_dict({**job.as_dict(), "dataset_dir": str(empty)})
    with pytest.raises(ValueError, match="no dpo training rows for stage dpo"):
        run_training(job)


def test_a_job_round_trips_through_json(make_job) -> None:
    job = make_job("grpo")
    job = TrainingJob.from_dict({**job.as_dict(), "reward_weights": {"format": 1.0}})
    assert TrainingJob.from_dict(json.loads(json.dumps(job.as_dict()))) == job


def test_a_result_round_trips_through_json(tmp_path: Path) -> None:
    result = TrainingResult("completed", 2, 2, tmp_path / "final", None, {"train_loss": 1.5})
    assert TrainingResult.from_dict(json.loads(json.dumps(result.as_dict()))) == result


def test_grpo_reward_means_get_the_workbench_names() -> None:
    logs = {
        "loss": 0.1,
        "reward": 0.5,
        "rewards/format/mean": 0.25,
        "rewards/format/std": 0.1,
        "note": "x",
    }
    assert log_values(logs, "grpo") == {
        "loss": 0.1,
        "reward": 0.5,
        "reward/format": 0.25,
        "rewards/format/std": 0.1,
    }


@pytest.mark.training
def test_a_stop_that_arrives_with_the_last_step_still_completes_the_run(make_job) -> None:
    result = run_training(make_job("sft"), RecordingHooks(stop_after=2))
    assert result.status == "completed"
    assert result.final_dir is not None and (result.final_dir / "config.json").is_file()
