"""The demo's generations: the tiny model really run per demo song, and a labelled sample output."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations import demo_audio
from annotations.demo_generations import (
    SAMPLE_MODEL_NAME,
    TINY_MODEL_NAME,
    seed_demo_generations,
)
from annotations.models import Generation
from annotations.services.audio_files import audio_file_add
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_demo_song_gets_tiny_model_output_and_a_parsed_sample_with_hints(
    tmp_path: Path,
) -> None:
    piece = demo_audio.DemoPiece("Demo groove", 96, 4, (("G3", "B3", "D4"),), True, 8.0)
    song = factories.SongFactory(title="Demo groove", artist="Flamingo Workbench demo")
    audio_file_add(song=song, source=demo_audio.write(piece, tmp_path / "demo.wav"))

    seed_demo_generations(data_dir=tmp_path / "data")
    seed_demo_generations(data_dir=tmp_path / "data")  # idempotent

    tiny = Generation.objects.filter(song=song, model_version__name=TINY_MODEL_NAME)
    assert tiny.count() == 2
    assert set(tiny.values_list("status", flat=True)) == {"succeeded"}
    sample = Generation.objects.get(song=song, model_version__name=SAMPLE_MODEL_NAME)
    assert sample.model_version.status == "retired"
    assert "hand-written" in sample.model_version.notes
    assert len(sample.parsed["steps"]) == 4
    assert sample.parsed["sections"][0]["heading"].startswith("Instrumentation")
    assert sample.parsed["claims"]["tempo_bpm"]
    # The sample says 140 BPM; the demo groove is analysed at about 96.
    assert sample.hints.filter(kind="tempo").exists()
