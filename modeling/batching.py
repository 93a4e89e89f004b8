"""Packing requests into batches, and surviving what a batch can do wrong.

- Requests are sorted by audio length and packed up to a count and a total of 30 s windows, so a
  batch pads little and its memory is bounded by the longest audio it holds.
- Only requests with the same decoding parameters share a batch (``generate`` takes one set).
- CUDA out of memory: the batch is split in halves and each half retried, down to single items;
  an item that does not fit alone fails with that reason.
- Any other error in a batch of several: the same halving isolates the item that causes it, so
  one bad input never loses its siblings' outputs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

from modeling.backends import (
    GenerationBackend,
    GenerationRequest,
    GenerationResult,
    is_out_of_memory,
)
from modeling.config import BatchingConfig

log = logging.getLogger(__name__)


def plan_batches(
    requests: Sequence[GenerationRequest], config: BatchingConfig
) -> list[list[GenerationRequest]]:
    """Group by decoding parameters, sort by audio windows (then length), pack greedily.

    >>> plan_batches([], BatchingConfig())
    []
    """
    by_decoding: dict[object, list[GenerationRequest]] = {}
    for request in requests:
        by_decoding.setdefault(request.decoding, []).append(request)
    batches: list[list[GenerationRequest]] = []
    for group in by_decoding.values():
        group.sort(key=lambda r: (r.audio.windows, len(r.audio.samples), r.key))
        current: list[GenerationRequest] = []
        for request in group:
            # Every item of a batch is padded to the longest one's windows.
            windows_if_added = max([r.audio.windows for r in current] + [request.audio.windows])
            if current and (
                len(current) >= config.max_batch_size
                or windows_if_added * (len(current) + 1) > config.max_batch_windows
            ):
                batches.append(current)
                current = []
            current.append(request)
        if current:
            batches.append(current)
    return batches


def _free_cuda_cache() -> None:
    import sys

    torch = sys.modules.get("torch")  # only if a backend already imported it
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def generate_resilient(
    backend: GenerationBackend, batch: Sequence[GenerationRequest]
) -> list[GenerationResult]:
    """Results for every item of ``batch``: outputs, or a readable error per failed item."""
    try:
        results = backend.generate(batch)
    except Exception as exc:
        oom = is_out_of_memory(exc)
        reason = (
            "GPU out of memory even alone (audio too long for this GPU?)"
            if oom
            else f"{type(exc).__name__}: {exc}"
        )
        log.warning(
            "batch of %d failed (%s)%s",
            len(batch),
            "out of memory" if oom else reason,
            "; splitting and retrying" if len(batch) > 1 else "",
            exc_info=not oom,
        )
    else:
        if len(results) != len(batch):
            raise RuntimeError(f"backend returned {len(results)} results for {len(batch)} requests")
        return results
    # Retried only here, outside the except block: inside it the traceback keeps the failed
    # batch's frames, and so its GPU tensors, alive, and the retry would run out of memory too.
    if oom:
        _free_cuda_cache()
    if len(batch) == 1:
        return [GenerationResult(key=batch[0].key, error=reason)]
    half = len(batch) // 2
    return generate_resilient(backend, batch[:half]) + generate_resilient(backend, batch[half:])


def generate_all(
    backend: GenerationBackend,
    requests: Sequence[GenerationRequest],
    config: BatchingConfig,
    *,
    on_batch_start: Callable[[list[GenerationRequest]], None] | None = None,
) -> Iterator[list[GenerationResult]]:
    """Run every request, yielding each batch's results as soon as it finishes (for progress)."""
    for batch in plan_batches(requests, config):
        if on_batch_start is not None:
            on_batch_start(batch)
        yield generate_resilient(backend, batch)
