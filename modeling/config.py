"""What it takes to load a model version and to sample from it, as plain dataclasses.

The web side fills these from a ``ModelVersion`` row and settings; a GPU box can fill them by hand.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Music Flamingo hears at most 20 minutes (40 windows of 30 s); the processor would cut there too,
# silently, so we cut first and record what was heard.
MAX_AUDIO_SECONDS = 20 * 60
SAMPLE_RATE = 16_000
WINDOW_SECONDS = 30


@dataclass(frozen=True)
class ModelConfig:
    """Where a checkpoint is and how to place it.

    ``checkpoint`` is a local directory or a hub id; a hub id must come with a pinned ``revision``
    (a commit) so two workers can never load different weights under one model version.
    ``device="auto"`` means CUDA when present, else CPU. ``dtype="auto"`` means bfloat16 on CUDA and
    float32 on CPU (CPU bfloat16 matmuls are slow and not what the GPU runs anyway).
    """

    checkpoint: str
    revision: str | None = None
    dtype: str = "auto"
    device: str = "auto"
    attn_implementation: str | None = "sdpa"
    local_files_only: bool = False

    def key(self) -> tuple[Any, ...]:
        return (self.checkpoint, self.revision, self.dtype, self.device, self.attn_implementation)


@dataclass(frozen=True)
class DecodingParams:
    """Sampling settings, stored verbatim on every generation so it can be reproduced."""

    max_new_tokens: int = 1024
    # Forces outputs to a length (benchmarks: equal work per row); 0 lets end-of-turn stop them.
    min_new_tokens: int = 0
    do_sample: bool = True
    temperature: float = 0.7
    top_p: float = 0.95
    top_k: int = 0
    repetition_penalty: float = 1.0

    def __post_init__(self) -> None:
        if not 1 <= self.max_new_tokens <= 8192:
            raise ValueError("max_new_tokens must be between 1 and 8192")
        if self.do_sample and not 0 < self.temperature <= 5:
            raise ValueError("temperature must be in (0, 5] when sampling")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ValueError("min_new_tokens must be between 0 and max_new_tokens")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.top_k < 0:
            raise ValueError("top_k must be 0 (off) or positive")
        if not 0.5 <= self.repetition_penalty <= 2:
            raise ValueError("repetition_penalty must be between 0.5 and 2")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DecodingParams:
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def generate_kwargs(self) -> dict[str, Any]:
        """Arguments for ``model.generate``; greedy decoding drops the sampling knobs."""
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.do_sample,
            "repetition_penalty": self.repetition_penalty,
        }
        if self.min_new_tokens:
            kwargs["min_new_tokens"] = self.min_new_tokens
        if self.do_sample:
            kwargs.update(temperature=self.temperature, top_p=self.top_p, top_k=self.top_k)
        return kwargs


@dataclass(frozen=True)
class BatchingConfig:
    """How requests are packed: by count and by total audio windows (what fills GPU memory)."""

    max_batch_size: int = 8
    max_batch_windows: int = 80
    extra: dict[str, Any] = field(default_factory=dict)
