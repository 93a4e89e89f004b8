"""Reading a frozen dataset snapshot: ``<format>/<split>.jsonl`` rows and the audio they point at.

Rows name their audio by a path relative to the storage root, so the same snapshot trains on any
machine that mounts the storage; ``load_audio`` resolves it against ``audio_root``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from modeling.audio import prepare_audio

FORMATS = ("sft", "grpo", "dpo")
SPLITS = ("train", "eval")


def load_rows(dataset_dir: str | Path, fmt: str, split: str) -> Any:
    """The snapshot's ``fmt``/``split`` rows as a ``datasets.Dataset`` (possibly empty).

    Raises FileNotFoundError when the snapshot has no such file (not a snapshot folder).
    """
    import datasets

    if fmt not in FORMATS:
        raise ValueError(f"unknown dataset format {fmt!r}; one of {', '.join(FORMATS)}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; one of {', '.join(SPLITS)}")
    path = Path(dataset_dir) / fmt / f"{split}.jsonl"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: is {dataset_dir} a dataset snapshot?")
    if path.stat().st_size == 0:
        return datasets.Dataset.from_list([])
    # keep_in_memory: a snapshot is small text, and the Arrow cache would land beside the storage.
    return datasets.load_dataset(
        "json", data_files=str(path), split="train", keep_in_memory=True, cache_dir=None
    )


def is_reasoning_row(row: Mapping[str, Any]) -> bool:
    """An sft row whose target reasons in ``<think>`` (the chain-of-thought warm-up's rows)."""
    return any(
        "<think>" in (part.get("text") or "")
        for message in row["messages"]
        if message["role"] == "assistant"
        for part in message["content"]
    )


def load_audio(audio: Mapping[str, Any], audio_root: str | Path, max_seconds: float) -> np.ndarray:
    """16 kHz mono float32 samples of a row's ``audio`` (``{"path", "sha256"}``), cut at
    ``max_seconds``. Decoded files are cached per process (DPO pairs and GRPO groups reuse a song; 16 files of
    20 minutes are ~1.2 GB at most)."""
    return _cached_audio(str(Path(audio_root) / audio["path"]), float(max_seconds))


@functools.lru_cache(maxsize=16)
def _cached_audio(path: str, max_seconds: float) -> np.ndarray:
    samples = prepare_audio(path, max_seconds=max_seconds).samples
    samples.setflags(write=False)
    return samples


def audio_loader(
    audio_root: str | Path, max_seconds: float
) -> Callable[[Mapping[str, Any]], np.ndarray]:
    """``row -> samples`` for the collators and the GRPO trainer."""

    def load(row: Mapping[str, Any]) -> np.ndarray:
        return load_audio(row["audio"], audio_root, max_seconds)

    return load
