"""find_hints: claims that contradict the analysis, tied to their spans."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from modeling.hints import find_hints
from modeling.parsing import parse_generation

OUTPUTS = Path(__file__).parent / "outputs"

FACTS = {
    "tempo_bpm": 92.3,
    "tempo_confidence": 0.8,
    "key_tonic": "F#",
    "key_mode": "minor",
    "key_confidence": 0.7,
    "duration_seconds": 200.0,
}


def hints_for(raw: str, **facts: Any) -> list[dict[str, Any]]:
    return find_hints(parse_generation(raw), {**FACTS, **facts})


def test_a_tempo_that_is_neither_close_nor_half_nor_double_is_hinted() -> None:
    raw = "<think>Step 1: drums.</think><answer>A driving groove at 128 BPM in F♯ minor.</answer>"
    [hint] = hints_for(raw)
    assert hint["kind"] == "tempo" and hint["target"] == "answer"
    assert raw[hint["start"] : hint["end"]] == hint["quoted_text"] == "128 BPM"
    assert (hint["claimed"], hint["measured"]) == (128.0, 92.3)
    assert (
        hint["message"] == "Caption says 128 BPM; analysis measured 92.3 BPM (not half or double)."
    )
    assert hint["confidence"] == 0.8


@pytest.mark.parametrize("bpm", ["92", "96", "88", "184", "46", "90–94"])
def test_close_half_and_double_tempos_are_not_hinted(bpm: str) -> None:
    assert hints_for(f"A groove at {bpm} BPM.", key_tonic=None) == []


@pytest.mark.parametrize("bpm", ["100", "84", "120", "140", "70"])
def test_tempos_more_than_eight_percent_off_are_hinted(bpm: str) -> None:
    assert [h["kind"] for h in hints_for(f"A groove at {bpm} BPM.", key_tonic=None)] == ["tempo"]


@pytest.mark.parametrize(
    "key",
    [
        "F♯ minor",
        "F# minor",
        "G♭ minor",
        "Gb minor",
        "A major",
        "F♯ aeolian",
        "F♯ dorian",
        "B dorian",
    ],
)
def test_the_measured_key_its_relative_and_enharmonics_are_not_hinted(key: str) -> None:
    assert hints_for(f"The song is in {key}.", tempo_bpm=None) == []


@pytest.mark.parametrize(
    ("key", "claimed"),
    [
        ("F♯ major", "F♯ major"),
        ("C minor", "C minor"),
        ("D major", "D major"),
        ("E♭ minor", "E♭ minor"),
    ],
)
def test_other_keys_are_hinted(key: str, claimed: str) -> None:
    [hint] = hints_for(f"The song is in {key}.", tempo_bpm=None)
    assert (hint["kind"], hint["claimed"], hint["measured"]) == ("key", claimed, "F♯ minor")
    assert hint["quoted_text"] == key
    assert hint["message"] == (
        f"Caption says {claimed}; analysis measured F♯ minor (neither that key nor its relative, "
        "A major)."
    )


def test_a_passing_modulation_is_not_hinted() -> None:
    raw = "The verse is in F♯ minor; the bridge modulates to C major."
    assert hints_for(raw, tempo_bpm=None) == []


def test_a_key_without_mode_counts_the_relative_tonic() -> None:
    assert hints_for("In the key of A.", tempo_bpm=None) == []
    assert [h["claimed"] for h in hints_for("In the key of D.", tempo_bpm=None)] == ["D"]


def test_timestamps_beyond_the_song_are_hinted_with_their_section() -> None:
    raw = "<answer>The chorus at 1:05, the bridge at 3:45 and the outro 3:10–3:30.</answer>"
    hints = hints_for(raw, tempo_bpm=None, key_tonic=None)
    assert [(h["kind"], h["quoted_text"], h["claimed"]) for h in hints] == [
        ("timestamp", "3:45", 225.0),
        ("timestamp", "3:10–3:30", 210.0),
    ]
    assert (
        hints[0]["message"] == "Caption places the bridge at 3:45, but the song is only 3:20 long."
    )
    assert hints[0]["measured"] == 200.0


def test_a_whole_minute_mention_gets_its_precision_as_tolerance() -> None:
    # "the 4-minute mark" on a 3:58 song is rounding, not a hallucination; 5 minutes is not.
    assert hints_for("Around the 4-minute mark it fades.", duration_seconds=238.0) == []
    [hint] = hints_for("Around the 5-minute mark it fades.", duration_seconds=238.0)
    assert hint["kind"] == "timestamp"


def test_hints_cover_the_reasoning_too() -> None:
    raw = "<think>Step 1: the pulse is 140 BPM.</think><answer>At 92 BPM in F♯ minor.</answer>"
    [hint] = hints_for(raw)
    assert (hint["target"], hint["quoted_text"]) == ("think", "140 BPM")
    assert hint["message"].startswith("Reasoning says 140 BPM;")


def test_missing_facts_produce_no_hints() -> None:
    raw = "A 200 BPM track in C major; the outro at 9:59."
    none = {"tempo_bpm": None, "key_tonic": None, "key_mode": None, "duration_seconds": None}
    assert find_hints(parse_generation(raw), none) == []
    assert find_hints(parse_generation(raw), {}) == []


def test_the_enka_fixture_against_a_wrong_analysis() -> None:
    raw = (OUTPUTS / "think_enka_japanese.txt").read_text(encoding="utf-8")
    facts = {"tempo_bpm": 100.0, "key_tonic": "C#", "key_mode": "major", "duration_seconds": 150.0}
    hints = find_hints(parse_generation(raw), facts)
    # B♭ minor is C♯ major's relative (D♭ = C♯), so no key hint; both tempo mentions and the
    # timestamps past 2:30 are.
    assert {h["kind"] for h in hints} == {"tempo", "timestamp"}
    assert sorted({(h["target"], h["quoted_text"]) for h in hints if h["kind"] == "tempo"}) == [
        ("answer", "72 BPM"),
        ("think", "72 BPM"),
    ]
    assert [h["quoted_text"] for h in hints if h["kind"] == "timestamp"] == ["2:50"]
    for hint in hints:
        assert raw[hint["start"] : hint["end"]] == hint["quoted_text"]


def test_the_synthpop_fixture_agrees_with_a_matching_analysis() -> None:
    raw = (OUTPUTS / "caption_synthpop_markdown.txt").read_text(encoding="utf-8")
    facts = {"tempo_bpm": 117.5, "key_tonic": "A", "key_mode": "major", "duration_seconds": 231.0}
    assert find_hints(parse_generation(raw), facts) == []


def test_a_modal_key_is_judged_by_its_parent_scale() -> None:
    raw = (OUTPUTS / "caption_flamenco_paragraphs.txt").read_text(encoding="utf-8")
    parsed = parse_generation(raw)
    # A Phrygian has the notes of F major, like D minor: consistent. E minor's are G major's.
    assert find_hints(parsed, {"key_tonic": "D", "key_mode": "minor"}) == []
    [hint] = find_hints(parsed, {"key_tonic": "E", "key_mode": "minor"})
    assert (hint["claimed"], hint["quoted_text"]) == ("A phrygian", "A Phrygian")
