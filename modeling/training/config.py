"""Every hyperparameter a training run records, and the named presets it starts from.

``paper`` is the Music Flamingo recipe (SFT lr 1.5e-5, CoT warm-up lr 1e-5, GRPO lr 1e-6 with group
size 5; cosine schedule, warm-up 0.03, no weight decay, one epoch, bf16 on GPUs). TRL's own defaults
differ (``loss_type="dapo"``, β = 0), so nothing here falls back to them silently. ``smoke`` is two
steps on a CPU with the tiny model: what the tests and the learning check run.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STAGES = ("sft", "cot", "grpo", "dpo")
# Which snapshot rows each stage trains on (cot: the sft rows whose target reasons in <think>).
STAGE_FORMAT = {"sft": "sft", "cot": "sft", "grpo": "grpo", "dpo": "dpo"}
LR_SCHEDULERS = ("linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
                 "constant_with_warmup")  # fmt: skip
GRPO_LOSS_TYPES = ("grpo", "dapo", "dr_grpo", "bnpo")


@dataclass(frozen=True)
class TrainingConfig:
    """Hyperparameters of one stage. Batch sizes are per device; the global batch is
    ``per_device_train_batch_size × gradient_accumulation_steps × number of GPUs``.

    For GRPO the batch counts completions, so it must be a multiple of ``num_generations``.
    ``max_length`` limits the text tokens after the audio (the audio tokens are never cut: a
    sequence cut inside them crashes the model). ``bf16=None`` means bf16 on CUDA, float32 on CPU.
    """

    stage: str
    learning_rate: float
    per_device_train_batch_size: int
    gradient_accumulation_steps: int
    num_train_epochs: float = 1.0
    max_steps: int = -1
    lr_scheduler_type: str = "cosine"
    warmup_ratio: float = 0.03
    weight_decay: float = 0.0
    bf16: bool | None = None
    seed: int = 0
    use_lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    max_audio_seconds: float = 1200.0
    max_length: int | None = None
    logging_steps: int = 1
    save_steps: int = 50
    # GRPO
    num_generations: int = 5
    max_completion_length: int = 1024
    beta: float = 0.04
    loss_type: str = "grpo"
    temperature: float = 1.0
    # DPO
    dpo_beta: float = 0.1

    def __post_init__(self) -> None:
        _validate(self)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingConfig:
        unknown = sorted(set(data) - _FIELDS)
        if unknown:
            raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
        return cls(**dict(data))


_FIELDS = {f.name for f in dataclasses.fields(TrainingConfig)}

_COMMON: dict[str, Any] = {
    "lr_scheduler_type": "cosine",
    "warmup_ratio": 0.03,
    "weight_decay": 0.0,
    "num_train_epochs": 1.0,
    "bf16": None,
}
_SMOKE: dict[str, Any] = {
    "max_steps": 2,
    "per_device_train_batch_size": 1,
    "gradient_accumulation_steps": 1,
    "learning_rate": 1e-4,
    "warmup_ratio": 0.0,
    "lr_scheduler_type": "constant",
    "max_audio_seconds": 5.0,
    "logging_steps": 1,
    "save_steps": 50,
    "bf16": False,
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # Batch 128 = 8 per device × 16 accumulation on one GPU; more GPUs multiply it.
    "paper": {
        "sft": {**_COMMON, "learning_rate": 1.5e-5, "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 16},
        "cot": {**_COMMON, "learning_rate": 1e-5, "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 16},
        # 64 prompts × group size 5 = 320 completions per step. The paper gives no β; 0.04 is the
        # DeepSeekMath GRPO value (TRL's default is 0, which drops the reference model entirely).
        "grpo": {**_COMMON, "learning_rate": 1e-6, "per_device_train_batch_size": 10,
                 "gradient_accumulation_steps": 32, "num_generations": 5, "loss_type": "grpo",
                 "beta": 0.04, "temperature": 1.0, "max_completion_length": 1024},
        # Not in the paper: the usual DPO settings (β 0.1, a small learning rate).
        "dpo": {**_COMMON, "learning_rate": 1e-6, "per_device_train_batch_size": 8,
                "gradient_accumulation_steps": 8, "dpo_beta": 0.1},
    },
    "smoke": {
        "sft": dict(_SMOKE),
        "cot": dict(_SMOKE),
        "grpo": {**_SMOKE, "per_device_train_batch_size": 5, "num_generations": 5,
                 "max_completion_length": 16, "beta": 0.0, "learning_rate": 1e-3},
        "dpo": dict(_SMOKE),
    },
}  # fmt: skip


def training_config(
    stage: str,
    *,
    preset: str = "paper",
    overrides: Mapping[str, Any] | None = None,
    use_lora: bool = True,
) -> TrainingConfig:
    """The ``preset``'s settings for ``stage`` with ``overrides`` on top.

    Raises ValueError with a message a person can act on for an unknown stage, preset or setting,
    or a value out of range.
    """
    if stage not in STAGES:
        raise ValueError(f"unknown training stage {stage!r}; choose one of {', '.join(STAGES)}")
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - _FIELDS)
    if unknown:
        raise ValueError(f"unknown training setting(s): {', '.join(unknown)}")
    if "stage" in overrides and overrides["stage"] != stage:
        raise ValueError("the stage cannot be overridden; pick the stage itself")
    values = {**PRESETS[preset][stage], "use_lora": use_lora, **overrides, "stage": stage}
    return TrainingConfig(**values)


def _validate(config: TrainingConfig) -> None:
    def check(ok: bool, message: str) -> None:
        if not ok:
            raise ValueError(message)

    check(config.stage in STAGES, f"unknown training stage {config.stage!r}")
    check(0 < config.learning_rate <= 1, "learning_rate must be in (0, 1]")
    check(config.per_device_train_batch_size >= 1, "per_device_train_batch_size must be ≥ 1")
    check(config.gradient_accumulation_steps >= 1, "gradient_accumulation_steps must be ≥ 1")
    check(config.num_train_epochs > 0, "num_train_epochs must be positive")
    check(
        config.max_steps == -1 or config.max_steps >= 1, "max_steps must be -1 (use epochs) or ≥ 1"
    )
    check(config.lr_scheduler_type in LR_SCHEDULERS,
          f"lr_scheduler_type must be one of {', '.join(LR_SCHEDULERS)}")  # fmt: skip
    check(0 <= config.warmup_ratio < 1, "warmup_ratio must be in [0, 1)")
    check(0 <= config.weight_decay <= 1, "weight_decay must be in [0, 1]")
    check(config.lora_r >= 1, "lora_r must be ≥ 1")
    check(config.lora_alpha >= 1, "lora_alpha must be ≥ 1")
    check(0 <= config.lora_dropout < 1, "lora_dropout must be in [0, 1)")
    check(0 < config.max_audio_seconds <= 1200, "max_audio_seconds must be in (0, 1200]")
    check(config.max_length is None or config.max_length >= 8, "max_length must be None or ≥ 8")
    check(config.logging_steps >= 1, "logging_steps must be ≥ 1")
    check(config.save_steps >= 1, "save_steps must be ≥ 1")
    check(config.num_generations >= 2, "num_generations (GRPO group size) must be ≥ 2")
    check(config.max_completion_length >= 1, "max_completion_length must be ≥ 1")
    check(config.beta >= 0, "beta must be ≥ 0")
    check(
        config.loss_type in GRPO_LOSS_TYPES,
        f"loss_type must be one of {', '.join(GRPO_LOSS_TYPES)}",
    )
    check(0 < config.temperature <= 5, "temperature must be in (0, 5]")
    check(config.dpo_beta > 0, "dpo_beta must be positive")
    if config.stage == "grpo":
        completions = config.per_device_train_batch_size * config.gradient_accumulation_steps
        check(
            completions % config.num_generations == 0,
            f"per_device_train_batch_size × gradient_accumulation_steps ({completions}) must be a "
            f"multiple of num_generations ({config.num_generations}) for GRPO",
        )


def common_training_args(config: TrainingConfig, output_dir: Any) -> dict[str, Any]:
    """The keyword arguments every TRL config of ours shares (SFTConfig, DPOConfig, GRPOConfig)."""
    import torch

    on_gpu = torch.cuda.is_available() and os.environ.get("ACCELERATE_USE_CPU", "").lower() not in (
        "1",
        "true",
        "yes",
    )  # the runner sets ACCELERATE_USE_CPU for a job pinned to the CPU
    bf16 = on_gpu if config.bf16 is None else config.bf16
    return {
        "output_dir": str(output_dir),
        "learning_rate": config.learning_rate,
        "per_device_train_batch_size": config.per_device_train_batch_size,
        "gradient_accumulation_steps": config.gradient_accumulation_steps,
        "num_train_epochs": config.num_train_epochs,
        "max_steps": config.max_steps,
        "lr_scheduler_type": config.lr_scheduler_type,
        # transformers 5 takes the warm-up ratio as a float in [0, 1) of warmup_steps.
        "warmup_steps": config.warmup_ratio,
        "weight_decay": config.weight_decay,
        "bf16": bf16,
        "use_cpu": not on_gpu,
        "seed": config.seed,
        "logging_steps": config.logging_steps,
        "save_strategy": "steps",
        "save_steps": config.save_steps,
        "save_total_limit": 2,  # a full 8 B checkpoint with optimizer state is ~100 GB
        "report_to": [],
        "remove_unused_columns": False,
        "disable_tqdm": True,
        # The collators decode audio and compute mel features on the CPU (about a second for 20
        # minutes); on a GPU two workers keep that off the training step's critical path.
        "dataloader_num_workers": 2 if on_gpu else 0,
    }
