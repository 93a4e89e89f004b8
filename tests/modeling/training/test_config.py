from __future__ import annotations

import pytest

from modeling.training.config import PRESETS, STAGES, TrainingConfig, training_config


def test_the_paper_preset_is_the_default_and_carries_the_papers_numbers() -> None:
    sft, cot, grpo = (training_config(s) for s in ("sft", "cot", "grpo"))
    assert sft.learning_rate == 1.5e-5
    assert sft.per_device_train_batch_size * sft.gradient_accumulation_steps == 128
    assert cot.learning_rate == 1e-5
    assert grpo.learning_rate == 1e-6
    assert grpo.num_generations == 5
    assert grpo.per_device_train_batch_size * grpo.gradient_accumulation_steps == 64 * 5
    for config in (sft, cot, grpo):
        assert config.lr_scheduler_type == "cosine"
        assert config.warmup_ratio == 0.03
        assert config.weight_decay == 0.0
        assert config.num_train_epochs == 1.0
        assert config.bf16 is None  # bf16 wherever there is a GPU
    # Not TRL's defaults (dapo, β = 0).
    assert grpo.loss_type == "grpo"
    assert grpo.beta > 0


def test_every_preset_covers_every_stage_with_a_valid_config() -> None:
    for preset in PRESETS:
        for stage in STAGES:
            assert training_config(stage, preset=preset).stage == stage


def test_the_smoke_preset_is_two_small_steps() -> None:
    for stage in STAGES:
        config = training_config(stage, preset="smoke")
        assert config.max_steps == 2
        assert config.per_device_train_batch_size <= 5
    grpo = training_config("grpo", preset="smoke")
    assert grpo.per_device_train_batch_size % grpo.num_generations == 0


def test_overrides_and_lora_apply_on_top_of_the_preset() -> None:
    config = training_config(
        "sft", overrides={"learning_rate": 2e-5, "max_steps": 10}, use_lora=False
    )
    assert (config.learning_rate, config.max_steps, config.use_lora) == (2e-5, 10, False)


def test_a_config_round_trips_through_a_dict() -> None:
    config = training_config("dpo", preset="smoke", overrides={"dpo_beta": 0.2})
    assert TrainingConfig.from_dict(config.as_dict()) == config


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"stage": "ppo"}, "unknown training stage 'ppo'; choose one of sft, cot, grpo, dpo"),
        ({"stage": "sft", "preset": "fast"}, "unknown preset 'fast'"),
        ({"stage": "sft", "overrides": {"lr": 1e-5}}, "unknown training setting(s): lr"),
        ({"stage": "sft", "overrides": {"learning_rate": 0}}, "learning_rate must be in (0, 1]"),
        ({"stage": "sft", "overrides": {"warmup_ratio": 1.5}}, "warmup_ratio must be in [0, 1)"),
        ({"stage": "sft", "overrides": {"max_steps": 0}}, "max_steps must be -1"),
        (
            {"stage": "sft", "overrides": {"lr_scheduler_type": "cosin"}},
            "lr_scheduler_type must be",
        ),
        ({"stage": "sft", "overrides": {"max_audio_seconds": 3600}}, "max_audio_seconds"),
        ({"stage": "grpo", "overrides": {"loss_type": "ppo"}}, "loss_type must be one of"),
        (
            {
                "stage": "grpo",
                "overrides": {"per_device_train_batch_size": 3, "gradient_accumulation_steps": 1},
            },
            "must be a multiple of num_generations (5)",
        ),
        ({"stage": "sft", "overrides": {"stage": "dpo"}}, "the stage cannot be overridden"),
    ],
)
def test_it_rejects_bad_settings_with_a_readable_message(kwargs: dict, message: str) -> None:
    stage = kwargs.pop("stage")
    with pytest.raises(ValueError, match=None) as raised:
        training_config(stage, **kwargs)
    assert message in str(raised.value)


def test_unknown_keys_in_a_stored_config_are_refused() -> None:
    data = training_config("sft").as_dict() | {"optimizer": "lion"}
    with pytest.raises(ValueError, match="unknown training setting"):
        TrainingConfig.from_dict(data)
