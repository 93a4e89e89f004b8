"""What analyse_file writes and returns, checked on a synthesised song with drums."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from audio_analysis import ANALYSER_VERSION, AnalysisResult, analyse_file, render

FACT_KEYS = {
    "analyser_version",
    "duration_seconds",
    "sample_rate",
    "channels",
    "analysis_sample_rate",
    "tempo_bpm",
    "tempo_confidence",
    "tempo_candidates",
    "beat_count",
    "meter",
    "meter_confidence",
    "downbeat_count",
    "key_tonic",
    "key_mode",
    "key_label",
    "key_confidence",
    "key_candidates",
    "chroma_mean",
    "onset_density_per_second",
    "loudness_mean_dbfs",
    "loudness_peak_dbfs",
    "loudness_range_db",
    "sections",
    "spectrogram_width",
    "spectrogram_height",
    "spectrogram_start_seconds",
    "spectrogram_end_seconds",
}


@pytest.fixture(scope="module")
def analysed(
    synth_song: tuple[Path, dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> tuple[AnalysisResult, Path, dict[str, Any], list[tuple[float, str]]]:
    path, record = synth_song
    out = tmp_path_factory.mktemp("analysis")
    calls: list[tuple[float, str]] = []
    result = analyse_file(path, out, progress=lambda f, stage: calls.append((f, stage)))
    return result, out, record, calls


def test_facts_have_the_agreed_keys_and_are_json(analysed) -> None:
    result, _, _, _ = analysed
    assert set(result.facts) == FACT_KEYS
    assert json.loads(json.dumps(result.facts)) == result.facts
    assert result.facts["analyser_version"] == ANALYSER_VERSION


def test_facts_describe_the_rendered_piece(analysed) -> None:
    result, _, record, _ = analysed
    facts = result.facts
    assert facts["sample_rate"] == 44100 and facts["channels"] == 2
    assert facts["duration_seconds"] == pytest.approx(record["audio_seconds"], abs=0.05)
    assert abs(facts["tempo_bpm"] / record["tempo_bpm"] - 1) <= 0.04
    assert facts["key_label"] == f"{facts['key_tonic']} {facts['key_mode']}"
    assert next(c["label"] for c in facts["key_candidates"]) == facts["key_label"]
    assert len(facts["key_candidates"]) == 3 and 0 <= facts["key_confidence"] <= 1
    assert len(facts["chroma_mean"]) == 12 and max(facts["chroma_mean"]) == 1.0
    assert (
        facts["loudness_peak_dbfs"] <= 0
        and facts["loudness_mean_dbfs"] < facts["loudness_peak_dbfs"]
    )
    sections = facts["sections"]
    assert sections[0]["start"] == 0 and sections[-1]["end"] == facts["duration_seconds"]
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(sections))


def test_beats_json_holds_increasing_times_inside_the_file(analysed) -> None:
    result, out, record, _ = analysed
    beats = json.loads((out / result.artifacts["beats"]).read_text())
    times, downbeats = beats["beats"], beats["downbeats"]
    assert len(times) == result.facts["beat_count"] >= 0.8 * len(record["beats"])
    assert (
        times == sorted(times) and times[0] >= 0 and times[-1] <= result.facts["duration_seconds"]
    )
    assert set(downbeats) <= set(times) and len(downbeats) == result.facts["downbeat_count"]


def test_peaks_come_in_zoom_levels_that_cover_the_duration(analysed) -> None:
    result, out, _, _ = analysed
    index = json.loads((out / result.artifacts["peaks"]).read_text())
    duration = result.facts["duration_seconds"]
    levels = index["levels"]
    assert len(levels) >= 3
    assert [lv["pixels_per_second"] for lv in levels] == sorted(
        lv["pixels_per_second"] for lv in levels
    )
    assert levels[0]["length"] <= render.MAX_COARSE_VALUES
    for level in levels:
        payload = json.loads((out / level["file"]).read_text())
        assert payload["pixels_per_second"] == level["pixels_per_second"]
        assert len(payload["data"]) == level["length"]
        assert level["length"] == pytest.approx(duration * level["pixels_per_second"], abs=4)
        assert min(payload["data"]) >= 0 and max(payload["data"]) <= 1
        assert all(round(v, 3) == v for v in payload["data"])
    assert max(json.loads((out / levels[-1]["file"]).read_text())["data"]) == pytest.approx(
        10 ** (result.facts["loudness_peak_dbfs"] / 20), abs=0.002
    )


def test_spectrogram_png_matches_the_facts(analysed) -> None:
    result, out, _, _ = analysed
    with Image.open(out / result.artifacts["spectrogram"]) as image:
        assert image.format == "PNG"
        assert image.size == (result.facts["spectrogram_width"], result.facts["spectrogram_height"])
    assert 100 < result.facts["spectrogram_width"] <= render.MAX_IMAGE_WIDTH
    assert result.facts["spectrogram_end_seconds"] == result.facts["duration_seconds"]


def test_loudness_curve_spans_the_file(analysed) -> None:
    result, out, _, _ = analysed
    curve = json.loads((out / result.artifacts["loudness"]).read_text())
    assert len(curve["dbfs"]) * curve["hop_seconds"] == pytest.approx(
        result.facts["duration_seconds"], abs=0.5
    )
    assert max(curve["dbfs"]) <= 0


def test_progress_is_reported_in_order_and_sparingly(analysed) -> None:
    _, _, _, calls = analysed
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(calls) <= 20


@pytest.mark.parametrize("duration", [5.0, 30.0, 300.0, 1800.0, 7200.0, 36000.0])
def test_peak_levels_keep_the_overview_small_at_any_length(duration: float) -> None:
    levels = render.peak_levels(duration)
    assert len(levels) >= 3
    assert duration * levels[0] <= render.MAX_COARSE_VALUES
    assert levels[-1] >= render.FINEST_PPS_FLOOR


def test_peaks_stay_small_when_the_header_underestimates_the_length(tmp_path: Path) -> None:
    import numpy as np

    accumulator = render.PeakAccumulator(8000, render.peak_levels(60.0))  # header said 1 minute
    signal = np.abs(np.sin(np.arange(8000 * 3600, dtype=np.float32)))  # the stream ran an hour
    for start in range(0, len(signal), 1 << 16):
        accumulator.add(signal[start : start + (1 << 16)])
    index = accumulator.write(tmp_path, 3600.0)
    assert index["levels"][0]["length"] <= render.MAX_COARSE_VALUES
    assert index["levels"][-1]["pixels_per_second"] == float(render.peak_levels(60.0)[-1])


def test_sections_shorter_than_a_few_beats_fold_into_a_neighbour() -> None:
    import doctest

    from audio_analysis import pipeline

    assert doctest.testmod(pipeline).failed == 0
    spans = pipeline._merge_short([(0.0, 4.0), (4.0, 7.0), (7.0, 14.0), (14.0, 1260.0)], 21.0)
    assert spans == [(0.0, 14.0), (14.0, 1260.0)] or spans == [(0.0, 1260.0)]
    assert all(end - start >= 21.0 for start, end in spans)
