"""Music for the analysis tests.

Unit tests use ``synth_song``: a small song synthesised in numpy with a known beat and key (well
under a second to make). The accuracy and long-file tests use music21 pieces rendered through
FluidSynth (``eval_corpus``, ``drum_piece``, ``long_file``), built once and cached under
${WORKBENCH_CORPUS_DIR:-var/corpus} (keyed by the builder's version), so only the first run on a
machine pays for rendering; tests that use them are marked ``corpus`` (tests/conftest.py).
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
def synth_song(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """A 26-second stereo 44.1 kHz FLAC with drums and an I-IV-V-I cadence, and its truth."""
    import soundfile as sf

    from tests.audio_files import synthesise_song

    data, truth = synthesise_song(seconds=26.0)
    path = tmp_path_factory.mktemp("synth") / "song.flac"
    sf.write(path, data, 44100, format="FLAC", subtype="PCM_16")
    return path, truth


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
def long_file(corpus_builder: ModuleType) -> Path:
    """A stereo 44.1 kHz FLAC of 32 minutes: asc-music's recordings looped (or rendered pieces)."""
    return corpus_builder.build_long_file(32.0)


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
