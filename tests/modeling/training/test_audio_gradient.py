"""Each stage's trainer runs the audio encoder in the loss and sends it gradient.

The stock TRL trainers lower the loss on this model without ever running the audio encoder, so a
passing loss proves nothing: these tests look at the encoder's gradient after a real step.
"""

from __future__ import annotations

from typing import Any

import pytest

from modeling.training.runner import build_trainer

pytestmark = pytest.mark.training  # every test here trains the tiny model for a step or two


def grad_probe() -> Any:
    """A callback that records, before each optimizer step, the gradient norm of every parameter
    group we care about, and counts the audio encoder's forward passes."""
    from transformers import TrainerCallback

    class GradProbe(TrainerCallback):
        def __init__(self) -> None:
            self.norms: list[dict[str, float]] = []
            self.audio_forwards = 0

        def on_train_begin(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
            tower = next(m for name, m in model.named_modules() if name.endswith("audio_tower"))
            tower.register_forward_hook(
                lambda *_: setattr(self, "audio_forwards", self.audio_forwards + 1)
            )

        def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):  # type: ignore[no-untyped-def]
            norms = {"audio_tower": 0.0, "projector": 0.0, "lora": 0.0}
            for name, parameter in model.named_parameters():
                if parameter.grad is None:
                    continue
                value = float(parameter.grad.abs().sum())
                if "audio_tower" in name:
                    norms["audio_tower"] += value
                if "multi_modal_projector" in name:
                    norms["projector"] += value
                if "lora_" in name:
                    norms["lora"] += value
            self.norms.append(norms)

    return GradProbe()


@pytest.mark.parametrize("stage", ["sft", "cot", "dpo"])
def test_full_fine_tuning_sends_gradient_into_the_audio_encoder(make_job, stage: str) -> None:
    probe = grad_probe()
    trainer = build_trainer(make_job(stage, use_lora=False), callbacks=[probe])
    trainer.train()
    assert trainer.state.global_step == 2
    assert len(probe.norms) == 2
    assert all(step["audio_tower"] > 0 for step in probe.norms)
    assert probe.audio_forwards >= 2


@pytest.mark.parametrize("stage", ["sft", "dpo"])
def test_lora_trains_the_projector_on_the_audio_and_the_adapters(make_job, stage: str) -> None:
    probe = grad_probe()
    trainer = build_trainer(make_job(stage, use_lora=True), callbacks=[probe])
    trainer.train()
    assert all(step["projector"] > 0 and step["lora"] > 0 for step in probe.norms)
    assert all(step["audio_tower"] == 0 for step in probe.norms)  # frozen under LoRA
    assert probe.audio_forwards >= 2
    trainable = {n for n, p in trainer.model.named_parameters() if p.requires_grad}
    assert any("multi_modal_projector" in n for n in trainable)
    assert not any("audio_tower" in n for n in trainable)


def test_the_stock_sft_trainer_never_runs_the_audio_encoder(make_job, snapshot, tiny_model) -> None:
    """Why the collator exists: TRL's own path trains on the text alone, and the probe sees it."""
    from transformers import AutoProcessor, MusicFlamingoForConditionalGeneration
    from trl import SFTConfig, SFTTrainer

    from modeling.training.data import load_rows

    rows = load_rows(snapshot["dataset_dir"], "sft", "train").select_columns(["messages"])
    model = MusicFlamingoForConditionalGeneration.from_pretrained(tiny_model)
    processor = AutoProcessor.from_pretrained(tiny_model)
    probe = grad_probe()
    trainer = SFTTrainer(
        model=model,
        args=SFTConfig(
            output_dir=str(make_job("sft").output_dir),
            max_steps=2,
            per_device_train_batch_size=1,
            learning_rate=1e-4,
            report_to=[],
            use_cpu=True,
            save_strategy="no",
        ),
        train_dataset=rows,
        processing_class=processor.tokenizer,
        callbacks=[probe],
    )
    trainer.train()
    assert trainer.state.global_step == 2
    assert probe.audio_forwards == 0
    assert all(step["audio_tower"] == 0 and step["projector"] == 0 for step in probe.norms)
