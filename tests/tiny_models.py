"""The tiny random Music Flamingo, built once per test process (about a second) into a temp dir."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path


@functools.cache
def tiny_model_path() -> Path:
    from modeling.tiny import build_tiny_model

    root = Path(tempfile.mkdtemp(prefix="tiny-flamingo-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return build_tiny_model(root / "model")
