"""GRPO on Music Flamingo: TRL's ``GRPOTrainer`` with the audio in every forward pass.

Stock ``GRPOTrainer`` (TRL 1.16.0) handles images only. Given prompts whose audio parts carry the
samples, its rollouts hear the audio (the processor expands ``<sound>`` and ``generate`` gets the
features), but the forward passes that make the loss (the policy's log-probabilities, the
reference model's for β > 0, the old policy's when generation and optimisation steps are
misaligned) get only ``input_ids``: the model then reads the bare ``<sound>`` embeddings, the audio
encoder never runs, no error is raised and the loss still moves. ``AudioGRPOTrainer`` closes that
gap with four overrides and nothing copied from TRL:

* ``_generate_and_score_completions`` loads each row's audio (``audio_loader``), and adds each
  row's ``input_features``/``input_features_mask`` to the batch it returns, as per-row lists, so
  TRL's shuffling and splitting of the generation batch keeps them with their rows;
* ``_tokenize_prompts`` puts the samples into the prompts' audio parts for the rollout, and keeps
  the features the processor made from them (the loss passes use exactly those);
* ``_get_per_token_logps_and_entropies`` passes the rows' features to the model, chunk by chunk;
* ``compute_loss`` (public) says which rows' features the loss pass uses.

The dataset's prompts keep their empty ``{"type": "audio"}`` placeholders: the samples go into a
copy only for the rollout, so TRL's prompt logs (gathered across processes) stay small.

TRL is pinned exactly (``TRL_VERSION``) and ``check_trl_compatibility`` verifies, when the class
is built and again when a trainer is constructed, that the version matches and that each overridden method still exists with
the parameters these overrides rely on (``HOOKS``), so an upgrade fails loudly here instead of
silently training without the audio again. TRL's vLLM rollout path handles images only, so it is
refused.

``torch``/``trl`` load lazily: the class is built on first use
(``from modeling.training.grpo import AudioGRPOTrainer`` works, via the module ``__getattr__``).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from modeling.rewards import REWARDS
from modeling.training.config import TrainingConfig, common_training_args

TRL_VERSION = "1.16.0"

# GRPOTrainer methods AudioGRPOTrainer overrides → the parameters (in order) its overrides rely on.
HOOKS: dict[str, tuple[str, ...]] = {
    "_generate_and_score_completions": ("self", "inputs"),
    "_tokenize_prompts": ("self", "prompts"),
    "_get_per_token_logps_and_entropies": (
        "self", "model", "input_ids", "attention_mask", "logits_to_keep", "batch_size",
        "compute_entropy", "compute_aux_loss", "pixel_values", "image_grid_thw", "num_images",
        "pixel_attention_mask", "spatial_shapes", "num_tiles", "image_sizes", "token_type_ids",
        "mm_token_type_ids", "image_position_ids",
    ),
    "compute_loss": ("self", "model", "inputs", "return_outputs", "num_items_in_batch"),
}  # fmt: skip

# Batch keys the per-row audio features travel under from the rollout to the loss pass.
FEATURES = "input_features"
FEATURES_MASK = "input_features_mask"

AudioLoader = Callable[[Mapping[str, Any]], np.ndarray]


class TRLCompatibilityError(RuntimeError):
    """The installed TRL is not the one ``AudioGRPOTrainer`` was written against."""


def check_trl_compatibility(trainer_class: type | None = None, version: str | None = None) -> None:
    """Raise ``TRLCompatibilityError`` unless TRL is exactly ``TRL_VERSION`` and every method in
    ``HOOKS`` exists on ``trainer_class`` (default: TRL's ``GRPOTrainer``) with those parameters.

    ``version`` defaults to the installed ``trl.__version__``.
    """
    if trainer_class is None or version is None:
        import trl

        trainer_class = trainer_class or trl.GRPOTrainer
        version = version or trl.__version__
    if version != TRL_VERSION:
        raise TRLCompatibilityError(
            f"AudioGRPOTrainer was written for TRL {TRL_VERSION}, found {version}: check that "
            f"{', '.join(HOOKS)} still carry no audio into the loss forward passes and keep the "
            "signatures in modeling/training/grpo.py HOOKS, then update the pin"
        )
    for name, expected in HOOKS.items():
        method = getattr(trainer_class, name, None)
        if method is None:
            raise TRLCompatibilityError(f"GRPOTrainer.{name} is gone (TRL {version})")
        found = tuple(inspect.signature(method).parameters)
        if found != expected:
            raise TRLCompatibilityError(
                f"GRPOTrainer.{name} changed its parameters (TRL {version}): expected "
                f"{expected}, found {found}"
            )


@dataclass(frozen=True)
class RowAudio:
    """Per-row audio features: ``features[i]`` is row i's ``(windows, mel bins, frames)`` tensor
    (one 30-second window per 750 audio tokens), ``masks[i]`` its ``(windows, frames)`` mask."""

    features: Sequence[Any]
    masks: Sequence[Any]

    def __len__(self) -> int:
        return len(self.features)

    def batch(self, start: int, end: int, *, device: Any, dtype: Any) -> dict[str, Any]:
        """Rows ``start:end`` as the model's ``input_features``/``input_features_mask``, windows
        concatenated in row order (as the processor batches them)."""
        import torch

        return {
            FEATURES: torch.cat(list(self.features[start:end])).to(device=device, dtype=dtype),
            FEATURES_MASK: torch.cat(list(self.masks[start:end])).to(device=device),
        }


def windows_per_row(processor: Any, samples: Sequence[np.ndarray]) -> list[int]:
    """How many 30-second windows the processor makes of each clip (it cuts at ``max_audio_len``)."""
    extractor = processor.feature_extractor
    window = int(extractor.sampling_rate * extractor.chunk_length)
    most = int(processor.max_audio_len // extractor.chunk_length)
    return [min(max(1, -(-len(s) // window)), most) for s in samples]


def _with_audio(prompt: list[dict[str, Any]], samples: np.ndarray) -> list[dict[str, Any]]:
    """``prompt`` with its one ``{"type": "audio"}`` part carrying ``samples`` (a new list)."""
    filled, count = [], 0
    for message in prompt:
        content = message.get("content")
        if isinstance(content, list):
            parts = []
            for part in content:
                if isinstance(part, dict) and part.get("type") == "audio":
                    part = {"type": "audio", "audio": samples}
                    count += 1
                parts.append(part)
            message = {**message, "content": parts}
        filled.append(message)
    if count != 1:
        raise ValueError(f"a GRPO prompt needs exactly one audio part, found {count}")
    return filled


def _model_dtype(model: Any) -> Any:
    """The dtype the audio encoder computes in (its weights come first in Music Flamingo)."""
    return next(p.dtype for p in model.parameters() if p.is_floating_point())


@functools.cache
def _trainer_class() -> type:
    check_trl_compatibility()
    from trl import GRPOTrainer

    class AudioGRPOTrainer(GRPOTrainer):
        """``GRPOTrainer`` whose loss forward passes see the audio the rollouts heard.

        ``audio_loader(row)`` returns a row's 16 kHz mono float32 samples. Every row's prompt has
        exactly one ``{"type": "audio"}`` part. Transformers generation only (no vLLM).
        """

        def __init__(
            self, *, model: Any, args: Any, audio_loader: AudioLoader, **kwargs: Any
        ) -> None:
            check_trl_compatibility()  # again here: cheap, and TRL may have been swapped since
            if isinstance(model, str):
                raise TypeError("AudioGRPOTrainer needs a loaded model, not a name")
            if args.use_vllm:
                raise ValueError("TRL's vLLM rollouts handle images only; use transformers")
            if kwargs.get("rollout_func") is not None or kwargs.get("tools"):
                raise ValueError("custom rollouts and tools would bypass the audio")
            # GRPOTrainer reads image_token_id (the token a rollout must never sample); for this
            # model that token is the audio placeholder.
            model.config.image_token_id = model.config.audio_token_id
            self.audio_loader = audio_loader
            self._rollout_samples: list[np.ndarray] | None = None
            self._forward_audio: RowAudio | None = None
            super().__init__(model=model, args=args, **kwargs)

        def _generate_and_score_completions(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
            loaded: dict[str, np.ndarray] = {}  # a group's rows share their audio: load it once
            for row in inputs:
                key = repr(row.get("audio"))
                if key not in loaded:
                    loaded[key] = self.audio_loader(row)
            self._rollout_samples = [loaded[repr(row.get("audio"))] for row in inputs]
            try:
                output = super()._generate_and_score_completions(inputs)
                audio = self._forward_audio
                if audio is None or len(audio) != len(inputs):
                    raise RuntimeError("the rollout produced no audio features for the batch")
                output[FEATURES], output[FEATURES_MASK] = list(audio.features), list(audio.masks)
                return output
            finally:
                self._rollout_samples = None
                self._forward_audio = None

        def _tokenize_prompts(self, prompts: list) -> tuple:
            samples = self._rollout_samples
            if samples is None or len(samples) != len(prompts):
                raise RuntimeError("prompts reached the rollout without their rows' audio")
            filled = [_with_audio(p, s) for p, s in zip(prompts, samples, strict=True)]
            prompt_ids, images, fields = super()._tokenize_prompts(filled)
            windows = windows_per_row(self.processing_class, samples)
            features, masks = fields[FEATURES], fields[FEATURES_MASK]
            if features.size(0) != sum(windows):
                raise RuntimeError(
                    f"the processor made {features.size(0)} audio windows, expected {sum(windows)}"
                )
            features = features.to(_model_dtype(self.model))  # a bf16 model rejects float32 input
            fields = {**fields, FEATURES: features}
            self._forward_audio = RowAudio(features.split(windows), masks.split(windows))
            return prompt_ids, images, fields

        def _get_per_token_logps_and_entropies(
            self,
            model: Any,
            input_ids: Any,
            attention_mask: Any,
            logits_to_keep: int,
            batch_size: int | None = None,
            **kwargs: Any,
        ) -> tuple[Any, Any, Any]:
            import torch

            audio = self._forward_audio
            if audio is None or len(audio) != input_ids.size(0):
                raise RuntimeError("a GRPO forward pass without its rows' audio features")
            rows = input_ids.size(0)
            batch_size = batch_size or rows
            dtype = _model_dtype(model)
            logps, entropies, aux = [], [], []
            # TRL chunks the rows the same way; one chunk per call lets each carry its own audio.
            for start in range(0, rows, batch_size):
                end = min(start + batch_size, rows)
                heard = functools.partial(
                    model, **audio.batch(start, end, device=input_ids.device, dtype=dtype)
                )
                chunk = super()._get_per_token_logps_and_entropies(
                    heard,
                    input_ids[start:end],
                    attention_mask[start:end],
                    logits_to_keep,
                    batch_size=end - start,
                    **kwargs,
                )
                logps.append(chunk[0])
                entropies.append(chunk[1])
                aux.append(chunk[2])
            return (
                torch.cat(logps),
                None if entropies[0] is None else torch.cat(entropies),
                None if aux[0] is None else torch.stack(aux).mean(),
            )

        def compute_loss(
            self,
            model: Any,
            inputs: dict[str, Any],
            return_outputs: bool = False,
            num_items_in_batch: Any = None,
        ) -> Any:
            self._forward_audio = RowAudio(inputs[FEATURES], inputs[FEATURES_MASK])
            try:
                return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            finally:
                self._forward_audio = None

    return AudioGRPOTrainer


def __getattr__(name: str) -> Any:
    if name == "AudioGRPOTrainer":
        return _trainer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reward_functions(
    reward_weights: Mapping[str, float],
) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """The TRL reward functions and weights for the non-zero ``reward_weights``, in registry order.

    >>> funcs, weights = reward_functions({"accuracy": 1.0, "format": 0.5, "preference": 0})
    >>> [f.__name__ for f in funcs], weights
    (['format', 'accuracy'], [0.5, 1.0])
    """
    unknown = sorted(set(reward_weights) - set(REWARDS))
    if unknown:
        raise ValueError(
            f"unknown reward function(s) {', '.join(unknown)}; known: {', '.join(REWARDS)}"
        )
    used = [name for name in REWARDS if reward_weights.get(name)]
    if not used:
        raise ValueError("GRPO needs at least one reward function with a non-zero weight")
    return [REWARDS[name].trl for name in used], [float(reward_weights[name]) for name in used]


def grpo_args(config: TrainingConfig, output_dir: Path, weights: Sequence[float]) -> Any:
    """The ``GRPOConfig`` of a run: the shared arguments plus the GRPO settings and reward weights."""
    from trl import GRPOConfig

    return GRPOConfig(
        **common_training_args(config, output_dir),
        num_generations=config.num_generations,
        max_completion_length=config.max_completion_length,
        beta=config.beta,
        loss_type=config.loss_type,
        temperature=config.temperature,
        reward_weights=list(weights),
    )


def build_grpo_trainer(
    *,
    model: Any,
    processor: Any,
    train_dataset: Any,
    config: TrainingConfig,
    reward_weights: Mapping[str, float],
    output_dir: Path,
    callbacks: list,
    audio_loader: AudioLoader,
) -> Any:
    """An ``AudioGRPOTrainer`` for a GRPO stage.

    ``model`` is already peft-wrapped when ``config.use_lora`` (β > 0 then uses the base model with
    the adapter disabled as the reference; without LoRA TRL loads a reference copy from the
    model's checkpoint). Rows are contract GRPO rows; their ``answer``/``options``/``metadata``
    columns reach the reward functions, which are ``REWARDS[name].trl`` for every non-zero weight.
    Checkpoints go to ``output_dir``. TRL logs each function's mean as ``rewards/<name>/mean``.
    """
    funcs, weights = reward_functions(reward_weights)
    trainer_class = _trainer_class()
    return trainer_class(
        model=model,
        reward_funcs=funcs,
        args=grpo_args(config, output_dir, weights),
        train_dataset=train_dataset,
        processing_class=processor,
        callbacks=callbacks,
        audio_loader=audio_loader,
    )
