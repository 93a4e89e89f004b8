"""Rendered music for the analysis tests: music21 pieces through FluidSynth, built once and cached.

The corpus lives under ${WORKBENCH_CORPUS_DIR:-var/corpus} (keyed by the builder's version), so
only the first run on a machine pays for rendering.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_corpus_builder() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_corpus", REPO / "scripts" / "build_corpus.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _require_fluidsynth() -> None:
    if (
        shutil.which("fluidsynth") is None
        or not Path("/usr/share/sounds/sf2/FluidR3_GM.sf2").exists()
    ):
        pytest.fail(
            "The analysis tests render music with Debian's fluidsynth and fluid-soundfont-gm: "
            "apt-get install -y fluidsynth fluid-soundfont-gm (scripts/test.sh does this)."
        )


@pytest.fixture(scope="session")
def corpus_builder() -> ModuleType:
    _require_fluidsynth()
    return load_corpus_builder()


@pytest.fixture(scope="session")
def eval_corpus(corpus_builder: ModuleType) -> tuple[Path, list[dict[str, Any]]]:
    """110 held-out pieces (never used to choose the analyser's parameters) and their root dir."""
    manifest = corpus_builder.build_corpus("eval", 110)
    records = [json.loads(line) for line in manifest.read_text().splitlines() if line]
    return manifest.parent, records


@pytest.fixture(scope="session")
def drum_piece(eval_corpus: tuple[Path, list[dict[str, Any]]]) -> tuple[Path, dict[str, Any]]:
    """A rendered chorale with a drum track: harmony, a steady beat and over 20 seconds."""
    root, records = eval_corpus
    record = next(
        r
        for r in records
        if r["drums"] and r["collection"] == "bach chorale" and r["audio_seconds"] > 25
    )
    return root / record["audio"], record
