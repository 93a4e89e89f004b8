"""The tiny random Music Flamingo, built once per test process (about a second) into a temp dir."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path


@functools.cache
def tiny_model_path() -> Path:
    from modeling.tiny import build_tiny_model

    return build_tiny_model(Path(tempfile.mkdtemp(prefix="tiny-flamingo-")) / "model")
