"""Loading a checkpoint once per worker process.

A GPU worker keeps exactly one model in memory: asking for another model version unloads the
current one first, because two 8 B models do not fit one GPU. torch and transformers are imported
here, inside the functions, so a Celery parent process that merely imports the task module never
initialises CUDA before it forks its children.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modeling.config import ModelConfig

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    config: ModelConfig
    model: Any
    processor: Any
    device: str
    dtype: Any
    load_seconds: float


_lock = threading.Lock()
_current: LoadedModel | None = None


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def resolve_dtype(dtype: str, device: str) -> Any:
    import torch

    if dtype == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[
            dtype
        ]
    except KeyError:
        raise ValueError(
            f"unknown dtype {dtype!r}; use auto, bfloat16, float16 or float32"
        ) from None


def load_model(config: ModelConfig) -> LoadedModel:
    """Load (or return the already loaded) model and processor for ``config``.

    Raises ValueError for a hub id without a pinned revision.
    """
    global _current
    with _lock:
        if _current is not None and _current.config.key() == config.key():
            return _current
        is_hub_id = "/" in config.checkpoint and not config.checkpoint.startswith(("/", "."))
        if is_hub_id and not Path(config.checkpoint).exists() and not config.revision:
            # Checked before unloading: a bad request must not cost the worker its loaded model.
            raise ValueError(
                f"{config.checkpoint} is a hub id without a pinned revision; register the commit"
            )
        unload_model()
        from transformers import AutoProcessor, MusicFlamingoForConditionalGeneration

        device = resolve_device(config.device)
        dtype = resolve_dtype(config.dtype, device)
        started = time.perf_counter()
        common: dict[str, Any] = {"revision": config.revision or None}
        if config.local_files_only:
            common["local_files_only"] = True
        model = MusicFlamingoForConditionalGeneration.from_pretrained(
            config.checkpoint,
            dtype=dtype,
            attn_implementation=config.attn_implementation,
            **common,
        )
        model.to(device)  # type: ignore[arg-type]
        model.eval()
        processor = AutoProcessor.from_pretrained(config.checkpoint, **common)
        _current = LoadedModel(
            config=config,
            model=model,
            processor=processor,
            device=device,
            dtype=dtype,
            load_seconds=time.perf_counter() - started,
        )
        log.info(
            "loaded %s on %s (%s) in %.1fs", config.checkpoint, device, dtype, _current.load_seconds
        )
        return _current


def unload_model() -> None:
    """Drop the loaded model and give its GPU memory back."""
    global _current
    if _current is None:
        return
    _current = None
    gc.collect()
    import torch

    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def loaded_model() -> LoadedModel | None:
    return _current
