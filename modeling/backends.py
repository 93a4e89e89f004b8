"""The boundary between "generate these" and how: callers hand a batch, get one result per item.

``GenerationBackend`` is all the rest of the code knows. ``TransformersBackend`` runs
``model.generate`` on a loaded checkpoint; a vLLM backend can implement the same protocol later
without touching the batching, the worker or the services.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from modeling.audio import PreparedAudio
from modeling.config import DecodingParams, ModelConfig
from modeling.loader import LoadedModel


@dataclass(frozen=True)
class GenerationRequest:
    """One output to produce. ``key`` is the caller's id for it (a Generation pk)."""

    key: int
    audio: PreparedAudio
    prompt: str
    decoding: DecodingParams
    seed: int


@dataclass
class GenerationResult:
    key: int
    text: str = ""
    error: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    # How this item's randomness was drawn: a batch samples from one generator seeded with its
    # first item's seed, so reproducing a sibling exactly means rerunning that same batch (or the
    # item alone, when batch_size is 1).
    rng: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error


class GenerationBackend(Protocol):
    def generate(self, batch: Sequence[GenerationRequest]) -> list[GenerationResult]:
        """One result per request, in order. May raise: the batcher splits and retries."""
        ...


def is_out_of_memory(exc: BaseException) -> bool:
    """CUDA (and MPS/XPU) out-of-memory errors, recognised without importing torch."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    return isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower()


class TransformersBackend:
    """``model.generate`` on a loaded Music Flamingo; one forward batch per call."""

    def __init__(self, loaded: LoadedModel) -> None:
        self.loaded = loaded

    def prompt_text(self, question: str) -> str:
        conversation = [
            {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": question}]}
        ]
        return self.loaded.processor.apply_chat_template(
            conversation, tokenize=False, add_generation_prompt=True
        )

    def generate(self, batch: Sequence[GenerationRequest]) -> list[GenerationResult]:
        import torch

        if len({r.decoding for r in batch}) != 1:
            raise ValueError("a batch must share its decoding parameters")
        processor, model = self.loaded.processor, self.loaded.model
        started = time.perf_counter()
        inputs = processor(
            text=[self.prompt_text(r.prompt) for r in batch],
            audio=[r.audio.samples for r in batch],
            return_tensors="pt",
        )
        inputs.pop("num_audio_tokens", None)
        inputs = inputs.to(self.loaded.device)
        # A bf16 model fed float32 features fails with "Input type (float) and bias type
        # (BFloat16)": the processor always returns float32.
        inputs["input_features"] = inputs["input_features"].to(self.loaded.dtype)
        prepared = time.perf_counter()
        seed = batch[0].seed
        torch.manual_seed(seed)
        with torch.inference_mode():
            output = model.generate(**inputs, **batch[0].decoding.generate_kwargs())
        if self.loaded.device.startswith("cuda"):
            torch.cuda.synchronize()
        generated = time.perf_counter()
        prompt_length = inputs["input_ids"].shape[1]
        new_tokens = output[:, prompt_length:]
        eos_ids = model.generation_config.eos_token_id
        eos_ids = set(eos_ids if isinstance(eos_ids, list) else [eos_ids])
        results = []
        for index, request in enumerate(batch):
            row = new_tokens[index].tolist()
            # Rows end at their first end-of-turn token; what follows is padding.
            count = next((i + 1 for i, token in enumerate(row) if token in eos_ids), len(row))
            results.append(
                GenerationResult(
                    key=request.key,
                    text=processor.tokenizer.decode(row[:count], skip_special_tokens=True),
                    input_tokens=int(inputs["attention_mask"][index].sum()),
                    output_tokens=count,
                    rng={"seed": seed, "batch_size": len(batch), "batch_position": index},
                    timings={
                        "prepare": prepared - started,
                        "generate": generated - prepared,
                        "batch_size": float(len(batch)),
                    },
                )
            )
        return results


def _transformers(config: ModelConfig) -> GenerationBackend:
    from modeling.loader import load_model

    return TransformersBackend(load_model(config))


# Name → factory. A vLLM backend registers here; the worker picks one by name from settings.
BACKENDS: dict[str, Callable[[ModelConfig], GenerationBackend]] = {"transformers": _transformers}


def create_backend(name: str, config: ModelConfig) -> GenerationBackend:
    """The backend ``name`` serving ``config``'s checkpoint (loaded once per process)."""
    try:
        factory = BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"unknown generation backend {name!r}; known: {sorted(BACKENDS)}"
        ) from None
    return factory(config)
