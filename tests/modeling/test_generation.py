"""The tiny model through the loader, the backend and the batcher: real forward passes on CPU."""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np
import pytest
import torch

from modeling.audio import PreparedAudio
from modeling.backends import GenerationRequest, GenerationResult, TransformersBackend
from modeling.batching import generate_all, generate_resilient, plan_batches
from modeling.config import BatchingConfig, DecodingParams, ModelConfig
from modeling.loader import load_model, loaded_model
from tests.tiny_models import tiny_model_path

DECODING = DecodingParams(max_new_tokens=8, temperature=1.0)


def _audio(seconds: float) -> PreparedAudio:
    rng = np.random.default_rng(int(seconds * 10))
    samples = (rng.standard_normal(int(16000 * seconds)) * 0.1).astype(np.float32)
    return PreparedAudio(samples, 16000, 1, seconds, 0.0, seconds)


def _request(key: int, seconds: float, decoding: DecodingParams = DECODING) -> GenerationRequest:
    return GenerationRequest(key, _audio(seconds), "Describe this track.", decoding, 1000 + key)


@pytest.fixture(scope="module")
def backend() -> TransformersBackend:
    return TransformersBackend(load_model(ModelConfig(str(tiny_model_path()), device="cpu")))


class OutOfMemoryAbove:
    """The real backend, except that batches larger than ``limit`` raise CUDA's OOM error."""

    def __init__(self, inner: TransformersBackend, limit: int) -> None:
        self.inner, self.limit, self.sizes = inner, limit, []

    def generate(self, batch: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.sizes.append(len(batch))
        if len(batch) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return self.inner.generate(batch)


class FailsOn:
    """The real backend, except that any batch holding ``bad_key`` raises (a corrupt input)."""

    def __init__(self, inner: TransformersBackend, bad_key: int) -> None:
        self.inner, self.bad_key = inner, bad_key

    def generate(self, batch: Sequence[GenerationRequest]) -> list[GenerationResult]:
        if any(r.key == self.bad_key for r in batch):
            raise ValueError("features contain NaN")
        return self.inner.generate(batch)


def test_the_model_is_loaded_once_per_process(backend: TransformersBackend) -> None:
    again = load_model(ModelConfig(str(tiny_model_path()), device="cpu"))
    assert again is backend.loaded is loaded_model()


def test_a_ragged_batch_generates_one_result_per_item_with_tokens_counted(
    backend: TransformersBackend,
) -> None:
    results = backend.generate([_request(1, 5), _request(2, 45)])
    assert [r.key for r in results] == [1, 2]
    assert all(r.ok and 1 <= r.output_tokens <= 8 for r in results)
    # 25 audio tokens per second of audio, plus the chat prompt: the 45 s item is much longer.
    assert results[1].input_tokens - results[0].input_tokens == pytest.approx(40 * 25, abs=5)
    assert results[0].rng == {"seed": 1001, "batch_size": 2, "batch_position": 0}


def test_the_same_seed_and_batch_give_the_same_text(backend: TransformersBackend) -> None:
    first = backend.generate([_request(1, 5)])[0].text
    assert backend.generate([_request(1, 5)])[0].text == first


def test_a_bfloat16_model_accepts_the_processors_float32_features() -> None:
    loaded = load_model(ModelConfig(str(tiny_model_path()), device="cpu", dtype="bfloat16"))
    try:
        assert loaded.model.dtype == torch.bfloat16
        result = TransformersBackend(loaded).generate([_request(3, 3)])[0]
        assert result.ok and result.output_tokens >= 1
    finally:
        load_model(ModelConfig(str(tiny_model_path()), device="cpu"))


def test_batches_are_packed_by_audio_length_and_decoding() -> None:
    greedy = DecodingParams(max_new_tokens=8, do_sample=False)
    requests = [_request(1, 70), _request(2, 5), _request(3, 40), _request(4, 6, greedy)]
    batches = plan_batches(requests, BatchingConfig(max_batch_size=2, max_batch_windows=80))
    assert [[r.key for r in batch] for batch in batches] == [[2, 3], [1], [4]]


def test_out_of_memory_splits_the_batch_until_it_fits(backend: TransformersBackend) -> None:
    oom = OutOfMemoryAbove(backend, limit=1)
    results = generate_resilient(oom, [_request(k, 4) for k in (1, 2, 3, 4)])
    assert [r.key for r in results] == [1, 2, 3, 4]
    assert all(r.ok for r in results)
    assert oom.sizes == [4, 2, 1, 1, 2, 1, 1]


def test_an_item_that_does_not_fit_even_alone_fails_with_a_reason(
    backend: TransformersBackend,
) -> None:
    results = generate_resilient(OutOfMemoryAbove(backend, limit=0), [_request(1, 4)])
    assert results[0].error.startswith("GPU out of memory even alone")


def test_a_failing_item_does_not_lose_its_batch_siblings(backend: TransformersBackend) -> None:
    requests = [_request(k, 4) for k in (1, 2, 3)]
    results = [
        r
        for batch in generate_all(FailsOn(backend, bad_key=2), requests, BatchingConfig())
        for r in batch
    ]
    assert {r.key: r.ok for r in results} == {1: True, 2: False, 3: True}
    assert "ValueError: features contain NaN" in results[1].error


def test_a_hub_id_without_a_pinned_revision_is_refused_and_keeps_the_loaded_model() -> None:
    before = load_model(ModelConfig(str(tiny_model_path()), device="cpu"))
    with pytest.raises(ValueError, match="without a pinned revision"):
        load_model(ModelConfig("nvidia/music-flamingo-think-2601-hf"))
    assert loaded_model() is before


class _Tensor:
    """Stands in for the GPU tensors a failed forward pass leaves in its frames."""


class FramesHoldMemory(OutOfMemoryAbove):
    def __init__(self, inner: TransformersBackend, limit: int) -> None:
        super().__init__(inner, limit)
        self.held: list[weakref.ref[_Tensor]] = []
        self.alive_at_retry: list[bool] = []

    def generate(self, batch: Sequence[GenerationRequest]) -> list[GenerationResult]:
        self.alive_at_retry.extend(ref() is not None for ref in self.held)
        activations = _Tensor()
        self.held.append(weakref.ref(activations))
        return super().generate(batch)


def test_a_batch_is_retried_only_after_the_failed_pass_has_released_its_memory(
    backend: TransformersBackend,
) -> None:
    frames = FramesHoldMemory(backend, limit=1)
    results = generate_resilient(frames, [_request(1, 3), _request(2, 3)])
    assert all(r.ok for r in results)
    assert frames.alive_at_retry and not any(frames.alive_at_retry)
