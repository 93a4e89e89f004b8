"""GRPO on the tiny model: the audio reaches the rollouts and every loss forward pass.

Stock ``GRPOTrainer`` lowers nothing on the audio path (its loss passes never run the encoder), so
these tests look at gradients just before each optimizer step, not at the loss. The rows' metadata
names the tiny tokenizer's words as "dynamics" terms: a random model's text mentions a varying share
of them, so the ``structured_thinking`` reward differs inside a group, the advantages are not all
zero and neither is the gradient.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from modeling import tiny
from modeling.training.config import training_config
from modeling.training.grpo import build_grpo_trainer, grpo_args, reward_functions
from modeling.training.runner import TrainingHooks, TrainingJob, load_for_training, run_training
from tests.audio_files import write_tone
from tests.tiny_models import tiny_model_path

REWARD_WEIGHTS = {"format": 1.0, "accuracy": 1.0, "structured_thinking": 1.0}
QUESTION = "What is the tempo in BPM?"
# Every word of the text the tiny tokenizer was trained on.
TINY_WORDS = sorted({w.lower() for w in re.findall(r"[A-Za-z]+", " ".join(tiny._CORPUS))})


def grpo_row(index: int, audio: dict[str, str]) -> dict[str, Any]:
    return {
        "id": f"grpo-{index}-question",
        "song_id": index + 1,
        "audio": audio,
        "genre": "rock",
        "culture": "",
        "prompt": [
            {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": QUESTION}]}
        ],
        "answer": "120",
        "options": None,
        "metadata": {"tempo_bpm": 120.0, "dynamics": TINY_WORDS},
        "analysis": {},
        "source": "question",
    }


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A snapshot folder whose two GRPO rows hear a 3 s and a 35 s tone (one and two windows)."""
    root = tmp_path_factory.mktemp("grpo-snapshot")
    (root / "audio").mkdir()
    rows = []
    for index, (seconds, freq) in enumerate(((3.0, 220.0), (35.0, 330.0))):
        relative = f"audio/song-{index}.wav"
        path = write_tone(root / relative, seconds=seconds, freq=freq)
        audio = {"path": relative, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()}
        rows.append(grpo_row(index, audio))
    dataset_dir = root / "datasets" / "grpo-test"
    for fmt in ("sft", "grpo", "dpo"):
        for split in ("train", "eval"):
            path = dataset_dir / fmt / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            chosen = rows if fmt == "grpo" else []
            path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in chosen))
    (dataset_dir / "manifest.json").write_text(json.dumps({"name": "grpo-test"}))
    return {"dataset_dir": dataset_dir, "audio_root": root}


def make_job(snapshot: dict[str, Path], output_dir: Path, *, use_lora: bool, **overrides: Any):
    return TrainingJob(
        base_checkpoint=str(tiny_model_path()),
        base_revision=None,
        dataset_dir=snapshot["dataset_dir"],
        audio_root=snapshot["audio_root"],
        output_dir=output_dir,
        config=training_config(
            "grpo",
            preset="smoke",
            use_lora=use_lora,
            overrides={"max_completion_length": 24, **overrides},
        ),
        reward_weights=REWARD_WEIGHTS,
        device="cpu",
    )


def grad_probe() -> Any:
    """A callback that sums |grad| of the audio encoder, the projector and the LoRA weights just
    before each optimizer step, and records, for every audio-encoder forward pass of the policy,
    whether autograd was on (a loss pass) or off (a rollout or a reference pass)."""
    import torch
    from transformers import TrainerCallback

    class GradProbe(TrainerCallback):
        def __init__(self) -> None:
            self.norms: list[dict[str, float]] = []
            self.encoder_passes: list[bool] = []

        def on_train_begin(self, args, state, control, model=None, **kwargs):
            tower = next(m for name, m in model.named_modules() if name.endswith("audio_tower"))
            tower.register_forward_hook(
                lambda *_: self.encoder_passes.append(torch.is_grad_enabled())
            )

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
            norms = {"audio_tower": 0.0, "projector": 0.0, "lora": 0.0}
            for name, parameter in model.named_parameters():
                if parameter.grad is None:
                    continue
                value = float(parameter.grad.abs().sum())
                for key, part in (
                    ("audio_tower", "audio_tower"),
                    ("projector", "multi_modal_projector"),
                    ("lora", "lora_"),
                ):
                    if part in name:
                        norms[key] += value
            self.norms.append(norms)

    return GradProbe()


def grpo_trainer(job: TrainingJob, callbacks: list) -> Any:
    from modeling.training.data import audio_loader, load_rows

    model, processor = load_for_training(job)
    return build_grpo_trainer(
        model=model,
        processor=processor,
        train_dataset=load_rows(job.dataset_dir, "grpo", "train"),
        config=job.config,
        reward_weights=job.reward_weights,
        output_dir=job.checkpoints_dir,
        callbacks=callbacks,
        audio_loader=audio_loader(job.audio_root, job.config.max_audio_seconds),
    )


class Recorder(TrainingHooks):
    def __init__(self) -> None:
        self.logs: list[dict[str, float]] = []

    def on_log(self, *, step: int, total_steps: int, values: dict[str, float]) -> None:
        self.logs.append(values)


@pytest.mark.training
def test_a_grpo_run_trains_two_steps_hearing_the_audio_and_logs_each_reward_mean(
    snapshot: dict[str, Path], tmp_path: Path
) -> None:
    import torch

    encoder_passes: list[bool] = []

    def on_forward(module: Any, args: Any, output: Any) -> None:
        if type(module).__name__ == "AudioFlamingo3Encoder":
            encoder_passes.append(torch.is_grad_enabled())

    hooks = Recorder()
    handle = torch.nn.modules.module.register_module_forward_hook(on_forward)
    try:
        result = run_training(make_job(snapshot, tmp_path / "run", use_lora=True), hooks)
    finally:
        handle.remove()

    assert (result.status, result.step) == ("completed", 2)
    assert result.adapter_dir is not None and (result.adapter_dir / "adapter_config.json").is_file()
    assert len(hooks.logs) == 2
    for values in hooks.logs:
        assert {"reward", "reward/format", "reward/accuracy", "reward/structured_thinking"} <= set(
            values
        )
        assert values["reward/structured_thinking"] > 0  # the metadata column reached the reward
        assert values["reward/accuracy"] == 0  # the answer column did too: 0, not missing
    # Per step: the rollout (no autograd) and the loss pass (autograd) both ran the encoder.
    assert encoder_passes.count(True) == 2
    assert encoder_passes.count(False) >= 2


@pytest.mark.training
def test_lora_grpo_sends_gradient_through_the_audio_into_the_projector(
    snapshot: dict[str, Path], tmp_path: Path
) -> None:
    probe = grad_probe()
    trainer = grpo_trainer(make_job(snapshot, tmp_path, use_lora=True), [probe])
    trainer.train()

    assert trainer.state.global_step == 2
    assert all(step["projector"] > 0 and step["lora"] > 0 for step in probe.norms)
    assert all(step["audio_tower"] == 0 for step in probe.norms)  # frozen under LoRA
    assert probe.encoder_passes == [False, True, False, True]  # rollout, loss; per step


@pytest.mark.training
def test_full_grpo_with_a_reference_model_sends_gradient_into_the_audio_encoder(
    snapshot: dict[str, Path], tmp_path: Path
) -> None:
    import torch

    probe = grad_probe()
    trainer = grpo_trainer(make_job(snapshot, tmp_path, use_lora=False, beta=0.04), [probe])
    assert trainer.ref_model is not None
    reference_passes: list[bool] = []
    trainer.ref_model.model.audio_tower.register_forward_hook(
        lambda *_: reference_passes.append(torch.is_grad_enabled())
    )
    trainer.train()

    assert len(probe.norms) == 2
    assert all(step["audio_tower"] > 0 and step["projector"] > 0 for step in probe.norms)
    assert reference_passes == [False, False]  # the reference's log-probs heard the audio too
    assert all("kl" in entry for entry in trainer.state.log_history[:2])


@pytest.mark.training
def test_lora_grpo_with_beta_takes_the_reference_with_the_adapter_off_and_the_audio_on(
    snapshot: dict[str, Path], tmp_path: Path
) -> None:
    probe = grad_probe()
    trainer = grpo_trainer(make_job(snapshot, tmp_path, use_lora=True, beta=0.04), [probe])
    assert trainer.ref_model is None  # PEFT: the reference is the model with the adapter disabled
    trainer.train()

    assert all(step["projector"] > 0 for step in probe.norms)
    # Per step: rollout, reference log-probs (both without autograd), then the loss pass.
    assert probe.encoder_passes == [False, False, True] * 2
    kl = [entry["kl"] for entry in trainer.state.log_history[:2]]
    assert kl[0] == pytest.approx(0, abs=1e-6)  # the adapter starts as a no-op
    assert kl[1] > 0  # after one update the policy has moved away from the reference


@pytest.mark.training
def test_the_stock_grpo_trainer_sends_no_gradient_into_the_audio(
    snapshot: dict[str, Path], tmp_path: Path
) -> None:
    """Why the subclass exists: with the same rows (the audio as a file path in the prompt, so the
    rollouts do hear it) and the same rewards, TRL's own trainer leaves the encoder out of the
    loss, and the probe above sees it."""
    from trl import GRPOTrainer

    from modeling.training.data import load_rows

    job = make_job(snapshot, tmp_path, use_lora=False)
    root = snapshot["audio_root"]

    def with_path(row: dict[str, Any]) -> dict[str, Any]:
        audio_part = {"type": "audio", "path": str(root / row["audio"]["path"])}
        text_part = row["prompt"][0]["content"][1]
        return {"prompt": [{"role": "user", "content": [audio_part, text_part]}]}

    rows = load_rows(job.dataset_dir, "grpo", "train").map(with_path)
    model, processor = load_for_training(job)
    model.config.image_token_id = model.config.audio_token_id  # else construction fails
    funcs, weights = reward_functions(REWARD_WEIGHTS)
    probe = grad_probe()
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=list[Any](funcs),
        args=grpo_args(job.config, job.checkpoints_dir, weights),
        train_dataset=rows,
        processing_class=processor,
        callbacks=[probe],
    )
    trainer.train()

    assert trainer.state.global_step == 2
    assert all(step["audio_tower"] == 0 and step["projector"] == 0 for step in probe.norms)
    assert probe.encoder_passes == [False, False]  # the rollouts only


@pytest.mark.training
def test_each_row_keeps_its_own_audio_through_the_shuffled_generation_batch(
    snapshot: dict[str, Path], tmp_path: Path
) -> None:
    """Two songs of one and two windows in one generation batch of 10, which TRL shuffles and
    splits into two accumulation steps: every row reaching the loss carries its own song's
    features, matching the audio tokens in its own prompt."""
    import torch

    from modeling.training.data import audio_loader, load_rows

    job = make_job(
        snapshot,
        tmp_path,
        use_lora=False,
        max_audio_seconds=40.0,
        gradient_accumulation_steps=2,
        max_steps=1,
    )
    trainer = grpo_trainer(job, [])
    processor = trainer.processing_class
    load = audio_loader(job.audio_root, job.config.max_audio_seconds)
    songs = []  # (features, audio tokens in the prompt) per song
    for row in load_rows(job.dataset_dir, "grpo", "train"):
        heard = processor(text=["<sound>"], audio=[load(row)], return_tensors="pt")
        tokens = int((heard["input_ids"] == processor.audio_token_id).sum())
        songs.append((heard["input_features"], tokens))
    assert sorted(features.size(0) for features, _ in songs) == [1, 2]

    rows_seen: list[tuple[int, int]] = []  # (song, audio tokens in the row's prompt)
    compute_loss = trainer.compute_loss

    def checked(model: Any, inputs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        for features, prompt_ids in zip(
            inputs["input_features"], inputs["prompt_ids"], strict=True
        ):
            song = next(i for i, (f, _) in enumerate(songs) if torch.equal(f, features))
            rows_seen.append((song, int((prompt_ids == processor.audio_token_id).sum())))
        return compute_loss(model, inputs, *args, **kwargs)

    trainer.compute_loss = checked
    trainer.train()

    assert len(rows_seen) == 10
    assert sorted(song for song, _ in rows_seen) == [0] * 5 + [1] * 5
    assert all(tokens == songs[song][1] for song, tokens in rows_seen)


def test_only_reward_functions_with_a_weight_are_used_with_their_weights(
    snapshot: dict[str, Path], tmp_path: Path
) -> None:
    job = dataclasses.replace(
        make_job(snapshot, tmp_path, use_lora=True),
        reward_weights={"accuracy": 2.0, "format": 0.5, "preference": 0.0},
    )
    trainer = grpo_trainer(job, [])
    assert trainer.reward_func_names == ["format", "accuracy"]
    assert trainer.reward_weights.tolist() == [0.5, 2.0]
    assert trainer.model.config.image_token_id == trainer.model.config.audio_token_id


def test_it_refuses_reward_weights_that_use_no_function() -> None:
    with pytest.raises(ValueError, match="non-zero weight"):
        reward_functions({"format": 0.0})
    with pytest.raises(ValueError, match="unknown reward function"):
        reward_functions({"fluency": 1.0})


def test_the_docstring_examples_hold() -> None:
    import doctest

    from modeling.training import grpo

    result = doctest.testmod(grpo)
    assert result.attempted >= 1
    assert result.failed == 0
