"""Every format the workbench accepts decodes to the same analysis; bad content is refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from audio_analysis import AnalysisError, AnalysisResult, analyse_file

FORMATS = {
    "wav": {"format": "WAV", "subtype": "PCM_16"},
    "flac": {"format": "FLAC", "subtype": "PCM_16"},
    "ogg": {"format": "OGG", "subtype": "VORBIS"},
    "opus": {"format": "OGG", "subtype": "OPUS"},
    "mp3": {"format": "MP3", "subtype": "MPEG_LAYER_III"},
    "aiff": {"format": "AIFF", "subtype": "PCM_16"},
}


@pytest.fixture(scope="module")
def excerpt(synth_song: tuple[Path, dict[str, Any]]) -> tuple[np.ndarray, int]:
    """The first 25 s of a synthesised song, resampled to 48 kHz for Opus's sake."""
    import soxr

    data, rate = sf.read(synth_song[0], dtype="float32", always_2d=True)
    data = data[: 25 * rate]
    return soxr.resample(data, rate, 48000), 48000


@pytest.fixture(scope="module")
def reference(
    excerpt: tuple[np.ndarray, int], tmp_path_factory: pytest.TempPathFactory
) -> AnalysisResult:
    data, rate = excerpt
    path = tmp_path_factory.mktemp("ref") / "reference.flac"
    sf.write(path, data, rate, format="FLAC", subtype="PCM_24")
    return analyse_file(path, path.parent / "out")


@pytest.mark.parametrize("extension", sorted(FORMATS))
def test_each_accepted_format_gives_the_lossless_analysis(
    extension: str, excerpt: tuple[np.ndarray, int], reference: AnalysisResult, tmp_path: Path
) -> None:
    data, rate = excerpt
    path = tmp_path / f"excerpt.{extension}"
    sf.write(path, data, rate, **FORMATS[extension])
    result = analyse_file(path, tmp_path / "out")
    # Lossy codecs pad the start (encoder delay) by up to ~0.1 s.
    assert result.facts["duration_seconds"] == pytest.approx(25.0, abs=0.15)
    assert result.facts["channels"] == 2 and result.facts["sample_rate"] == rate
    assert result.facts["key_label"] == reference.facts["key_label"]
    assert abs(result.facts["tempo_bpm"] / reference.facts["tempo_bpm"] - 1) <= 0.02


def test_a_mono_file_at_another_rate_is_analysed_at_the_analysis_rate(
    excerpt: tuple[np.ndarray, int], reference: AnalysisResult, tmp_path: Path
) -> None:
    import soxr

    data, rate = excerpt
    path = tmp_path / "mono.wav"
    sf.write(path, soxr.resample(data.mean(axis=1), rate, 16000), 16000)
    result = analyse_file(path, tmp_path / "out")
    assert result.facts["channels"] == 1 and result.facts["sample_rate"] == 16000
    assert result.facts["analysis_sample_rate"] == 22050
    assert result.facts["key_label"] == reference.facts["key_label"]


def test_it_refuses_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    path.write_bytes(b"")
    with pytest.raises(AnalysisError, match="the file is empty"):
        analyse_file(path, tmp_path / "out")


def test_it_refuses_corrupt_bytes_behind_an_audio_name(tmp_path: Path) -> None:
    path = tmp_path / "song.flac"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    with pytest.raises(AnalysisError, match="not a readable audio file"):
        analyse_file(path, tmp_path / "out")


def test_it_refuses_another_kind_of_file_named_like_audio(tmp_path: Path) -> None:
    path = tmp_path / "song.mp3"
    path.write_text(json.dumps({"not": "audio"}) * 200)
    with pytest.raises(AnalysisError, match="not a readable audio file"):
        analyse_file(path, tmp_path / "out")


def test_it_refuses_a_valid_header_without_samples(tmp_path: Path) -> None:
    path = tmp_path / "song.wav"
    sf.write(path, np.zeros((0, 2), dtype=np.float32), 44100)
    with pytest.raises(AnalysisError, match="contains no audio"):
        analyse_file(path, tmp_path / "out")


def test_silence_has_no_key_or_tempo_but_all_artifacts(tmp_path: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros((44100 * 10, 2), dtype=np.float32), 44100)
    result = analyse_file(path, tmp_path / "out")
    assert result.facts["key_label"] is None and result.facts["tempo_bpm"] is None
    assert result.facts["beat_count"] == 0
    assert all((tmp_path / "out" / name).exists() for name in result.artifacts.values())
