"""One training stage, start to finish: rows → trainer → checkpoints → merged weights + adapter.

``run_training`` is what the Celery task calls in-process (CPU tests, one GPU) and what
``python -m modeling.training`` calls under ``accelerate launch`` (several GPUs). It knows nothing
of the database: progress, checkpoints and cancellation go through ``TrainingHooks``.

Layout of ``job.output_dir``::

    checkpoints/checkpoint-<step>/   TRL checkpoints (resume after a crash or a cancel)
    adapter/                         the LoRA adapter (peft format), when ``use_lora``
    final/                           merged full weights + processor (Hugging Face format)
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from modeling.training.config import STAGE_FORMAT, TrainingConfig, common_training_args
from modeling.training.data import audio_loader, is_reasoning_row, load_rows

log = logging.getLogger(__name__)

DEVICES = ("auto", "cpu", "cuda")
# The language model's attention projections; the projector is trained in full (modules_to_save)
# so that what the model hears can change, not only what it says.
LORA_TARGET_MODULES = r".*language_model.*\.(q_proj|k_proj|v_proj|o_proj)"
LORA_MODULES_TO_SAVE = ["multi_modal_projector"]
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class TrainingJob:
    """Everything one run needs, as plain values (it travels as JSON to ``accelerate launch``)."""

    base_checkpoint: str
    base_revision: str | None
    dataset_dir: Path
    audio_root: Path
    output_dir: Path
    config: TrainingConfig
    reward_weights: Mapping[str, float] = field(default_factory=dict)
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.device not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {self.device!r}")

    def as_dict(self) -> dict[str, Any]:
        return {
            "base_checkpoint": self.base_checkpoint,
            "base_revision": self.base_revision,
            "dataset_dir": str(self.dataset_dir),
            "audio_root": str(self.audio_root),
            "output_dir": str(self.output_dir),
            "config": self.config.as_dict(),
            "reward_weights": dict(self.reward_weights),
            "device": self.device,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingJob:
        return cls(
            base_checkpoint=data["base_checkpoint"],
            base_revision=data.get("base_revision"),
            dataset_dir=Path(data["dataset_dir"]),
            audio_root=Path(data["audio_root"]),
            output_dir=Path(data["output_dir"]),
            config=TrainingConfig.from_dict(data["config"]),
            reward_weights={k: float(v) for k, v in (data.get("reward_weights") or {}).items()},
            device=data.get("device", "auto"),
        )

    @property
    def checkpoints_dir(self) -> Path:
        return self.output_dir / "checkpoints"


class TrainingHooks:
    """What a run reports and asks while it trains; subclass and override. Defaults do nothing.

    Under several processes every rank calls the hooks; write only on rank 0 (``__main__`` does).
    """

    def on_start(self, *, total_steps: int, resumed_from_step: int) -> None:
        """Training begins (``resumed_from_step`` is 0 for a fresh run)."""

    def on_log(self, *, step: int, total_steps: int, values: dict[str, float]) -> None:
        """Every ``logging_steps``: loss, learning_rate, epoch, grad_norm, steps_per_second,
        eta_seconds, and the stage's own values (grpo: ``reward`` and ``reward/<name>``; dpo:
        ``rewards/margins``, ``rewards/accuracies``, ...)."""

    def on_checkpoint(self, *, step: int, path: Path) -> None:
        """A checkpoint was written to ``path`` (complete: it can be resumed from)."""

    def should_stop(self) -> bool:
        """Polled after every optimizer step; True saves a checkpoint and stops the run."""
        return False


class Hooks(Protocol):
    """What ``run_training`` calls, matched by shape: a ``TrainingHooks`` subclass, or any class
    with these four methods (the workbench's ``RunHooks``, whose module may not import this one
    at import time)."""

    def on_start(self, *, total_steps: int, resumed_from_step: int) -> None: ...

    def on_log(self, *, step: int, total_steps: int, values: dict[str, float]) -> None: ...

    def on_checkpoint(self, *, step: int, path: Path) -> None: ...

    def should_stop(self) -> bool: ...


@dataclass
class TrainingResult:
    status: str  # "completed" | "cancelled"
    step: int
    total_steps: int
    final_dir: Path | None
    adapter_dir: Path | None
    metrics: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "step": self.step,
            "total_steps": self.total_steps,
            "final_dir": str(self.final_dir) if self.final_dir else None,
            "adapter_dir": str(self.adapter_dir) if self.adapter_dir else None,
            "metrics": self.metrics,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainingResult:
        final_dir, adapter_dir = data.get("final_dir"), data.get("adapter_dir")
        return cls(
            status=data["status"],
            step=int(data["step"]),
            total_steps=int(data["total_steps"]),
            final_dir=Path(final_dir) if final_dir else None,
            adapter_dir=Path(adapter_dir) if adapter_dir else None,
            metrics=dict(data.get("metrics") or {}),
        )


def last_checkpoint(output_dir: Path) -> tuple[int, Path] | None:
    """The newest complete checkpoint under ``output_dir/checkpoints`` as (step, path), or None.

    A checkpoint counts once its ``trainer_state.json`` exists: Trainer writes it last, so a folder
    left by a worker killed mid-save is skipped.
    """
    folder = Path(output_dir) / "checkpoints"
    if not folder.is_dir():
        return None
    found = []
    for path in folder.iterdir():
        match = _CHECKPOINT.match(path.name)
        if match and (path / "trainer_state.json").is_file():
            found.append((int(match.group(1)), path))
    return max(found) if found else None


def run_training(job: TrainingJob, hooks: Hooks | None = None) -> TrainingResult:
    """Train ``job.config.stage`` on the snapshot's train split and write ``job.output_dir``.

    Resumes from the newest checkpoint in ``output_dir/checkpoints`` when there is one (a crashed
    or cancelled run goes on from there). Returns "cancelled" (no final weights) when
    ``hooks.should_stop()`` turned true, else "completed" with the merged weights in ``final/`` and,
    for LoRA, the adapter in ``adapter/``. Raises ValueError when the stage has no rows.
    """
    hooks = hooks or TrainingHooks()
    progress = _progress_callback(hooks, job.config.stage)
    with _device(job.device):
        trainer = build_trainer(job, callbacks=[progress])
        resume = last_checkpoint(job.output_dir)
        if resume:
            log.info("resuming %s from %s", job.output_dir, resume[1])
        output = trainer.train(resume_from_checkpoint=str(resume[1]) if resume else None)
        state = trainer.state
        metrics = {**progress.last_values, **_floats(output.metrics)}
        # A stop that arrives with the last step changes nothing: the run is complete.
        if progress.stopped and state.global_step < state.max_steps:
            return TrainingResult(
                "cancelled", state.global_step, state.max_steps, None, None, metrics
            )
        final_dir, adapter_dir = _save_final(trainer, job)
    return TrainingResult(
        "completed", state.global_step, state.max_steps, final_dir, adapter_dir, metrics
    )


def build_trainer(job: TrainingJob, *, callbacks: list) -> Any:
    """The stage's TRL trainer on the job's rows and base model (LoRA-wrapped when configured).

    Public so that tests and benchmarks can drive the very trainer a run uses.
    """
    from transformers import set_seed

    config = job.config
    set_seed(config.seed)
    rows = load_rows(job.dataset_dir, STAGE_FORMAT[config.stage], "train")
    if config.stage == "cot" and len(rows):
        rows = rows.filter(is_reasoning_row)
    if not len(rows):
        raise ValueError(
            f"the snapshot has no {STAGE_FORMAT[config.stage]} training rows for stage {config.stage}"
            + (" (cot needs targets with <think>)" if config.stage == "cot" else "")
        )
    model, processor = load_for_training(job)
    common = {
        "model": model,
        "processor": processor,
        "train_dataset": rows,
        "config": config,
        "output_dir": job.checkpoints_dir,
        "callbacks": callbacks,
        "audio_loader": audio_loader(job.audio_root, config.max_audio_seconds),
    }
    if config.stage in ("sft", "cot"):
        from modeling.training.sft import build_sft_trainer

        return build_sft_trainer(**common)
    if config.stage == "dpo":
        from modeling.training.dpo import build_dpo_trainer

        return build_dpo_trainer(**common)
    from modeling.training.grpo import build_grpo_trainer

    # build_grpo_trainer keeps the non-zero weights and refuses a job without one.
    return build_grpo_trainer(**common, reward_weights=job.reward_weights)


def load_for_training(job: TrainingJob) -> tuple[Any, Any]:
    """The base model (trainable, LoRA-wrapped when ``use_lora``) and its processor."""
    import torch
    from transformers import AutoProcessor, MusicFlamingoForConditionalGeneration

    config = job.config
    bf16 = common_training_args(config, job.checkpoints_dir)["bf16"]
    revision: dict[str, Any] = {"revision": job.base_revision} if job.base_revision else {}
    model: Any = MusicFlamingoForConditionalGeneration.from_pretrained(
        job.base_checkpoint, dtype=torch.bfloat16 if bf16 else torch.float32, **revision
    )
    processor = AutoProcessor.from_pretrained(job.base_checkpoint, **revision)
    if config.use_lora:
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=config.lora_r,
            lora_alpha=config.lora_alpha,
            lora_dropout=config.lora_dropout,
            target_modules=LORA_TARGET_MODULES,
            modules_to_save=list(LORA_MODULES_TO_SAVE),
            task_type="CAUSAL_LM",
        )
        model = get_peft_model(model, lora)
    return model, processor


def _save_final(trainer: Any, job: TrainingJob) -> tuple[Path, Path | None]:
    """Write ``final/`` (merged full weights + processor) and, for LoRA, ``adapter/``.

    The merge reloads the base weights and applies the saved adapter instead of merging the live
    model, so it is the same under FSDP/DeepSpeed (where the live weights are sharded) as on one
    device, and ``final/`` is exactly base + the adapter that was published.
    """
    final_dir = job.output_dir / "final"
    if not job.config.use_lora:
        trainer.save_model(str(final_dir))  # gathers sharded weights; writes the processor too
        return final_dir, None
    adapter_dir = job.output_dir / "adapter"
    trainer.save_model(str(adapter_dir))
    if trainer.is_world_process_zero():
        from peft import PeftModel
        from transformers import MusicFlamingoForConditionalGeneration

        revision: dict[str, Any] = {"revision": job.base_revision} if job.base_revision else {}
        base = MusicFlamingoForConditionalGeneration.from_pretrained(
            job.base_checkpoint, dtype="auto", **revision
        )
        merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
        merged.save_pretrained(str(final_dir))
        trainer.processing_class.save_pretrained(str(final_dir))
    trainer.accelerator.wait_for_everyone()
    return final_dir, adapter_dir


def cuda_device_count() -> int:
    """The CUDA devices torch sees on this machine (0 without any).

    Counting does not initialise ``torch.cuda``: the caller (a launcher's parent) holds no CUDA
    context afterwards.
    """
    import torch

    return torch.cuda.device_count()


@contextlib.contextmanager
def _device(device: str) -> Iterator[None]:
    """``device="cpu"`` on a machine with a GPU: accelerate reads this before it picks a device."""
    if device != "cpu":
        yield
        return
    previous = os.environ.get("ACCELERATE_USE_CPU")
    os.environ["ACCELERATE_USE_CPU"] = "true"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ACCELERATE_USE_CPU", None)
        else:
            os.environ["ACCELERATE_USE_CPU"] = previous


def _floats(values: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in values.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }


# TRL's GRPO log names → the names the workbench charts.
_GRPO_REWARD = re.compile(r"^rewards/(.+)/mean$")


def log_values(logs: Mapping[str, Any], stage: str) -> dict[str, float]:
    """The numeric values of one TRL log record, with GRPO's ``rewards/<name>/mean`` renamed to
    ``reward/<name>`` (``reward`` stays the weighted total)."""
    values = _floats(logs)
    if stage == "grpo":
        for key in list(values):
            match = _GRPO_REWARD.match(key)
            if match:
                values[f"reward/{match.group(1)}"] = values.pop(key)
    return values


def _progress_callback(hooks: Hooks, stage: str) -> Any:
    """A TrainerCallback that forwards progress to ``hooks`` and stops the run when asked."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        def __init__(self) -> None:
            self.stopped = False
            self.last_values: dict[str, float] = {}
            self._started_at: float | None = None
            self._started_step = 0

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self._started_step = state.global_step
            hooks.on_start(total_steps=state.max_steps, resumed_from_step=state.global_step)

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if self._started_at is None:
                self._started_at = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            if _agreed(hooks.should_stop()):
                self.stopped = True
                control.should_save = True
                control.should_training_stop = True

        def on_log(
            self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any
        ) -> None:
            if not logs or "train_runtime" in logs:  # the closing summary: it goes in the result
                return
            values = log_values(logs, stage)
            done = state.global_step - self._started_step
            if self._started_at is not None and done > 0:
                rate = done / max(time.perf_counter() - self._started_at, 1e-9)
                values["steps_per_second"] = rate
                values["eta_seconds"] = max(state.max_steps - state.global_step, 0) / rate
            self.last_values = values
            hooks.on_log(step=state.global_step, total_steps=state.max_steps, values=values)

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            hooks.on_checkpoint(step=state.global_step, path=path)

    return ProgressCallback()


def _agreed(stop: bool) -> bool:
    """Rank 0's answer on every rank: ranks that stopped at different steps would hang."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return stop
    decision = [stop]
    dist.broadcast_object_list(decision, src=0)
    return bool(decision[0])
