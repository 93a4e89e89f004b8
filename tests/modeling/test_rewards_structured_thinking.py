"""The paper's structured-thinking reward on realistic captions against expert-verified metadata."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from modeling.parsing import parse_generation
from modeling.rewards.structured_thinking import (
    CATEGORIES,
    answer_claims,
    mentions,
    score_structured_thinking,
    structured_thinking_reward,
)

OUTPUTS = Path(__file__).parent / "outputs"

YAMAN_GOLD = {
    "tempo_bpm": 60.0,
    "key": "C# lydian",
    "meter": "teentaal",
    "genres": ["Hindustani classical"],
    "instruments": ["Sitar", "Tanpura", "Tabla"],
    "vocals": ["none"],
    "languages": ["none"],
    "culture": "Hindustani classical",
    "sections": [
        {"label": "alap", "start": 0.0},
        {"label": "jor", "start": 135.0},
        {"label": "gat", "start": 280.0},
        {"label": "jhala", "start": 450.0},
    ],
    "theory": ["tivra Ma", "Kalyan thaat"],
}


def read(name: str) -> str:
    return (OUTPUTS / name).read_text()


def category(score_details: dict, name: str) -> dict:
    return next(c for c in score_details["categories"] if c["name"] == name)


def test_a_good_hindustani_caption_earns_nearly_everything() -> None:
    score = score_structured_thinking(read("think_hindustani_yaman.txt"), YAMAN_GOLD)
    credits = {c["name"]: c["credit"] for c in score.details["categories"]}
    assert credits["BPM"] == 1.0
    assert credits["Meter"] == 1.0
    assert credits["Genre"] == 1.0
    assert credits["Instruments"] == 1.0
    assert credits["Vocal Character"] == 1.0  # "entirely instrumental" = gold "none"
    assert credits["Languages"] == 1.0
    assert credits["Culture"] == 1.0
    assert credits["Structure"] == pytest.approx(2 * 1 * 0.8 / 1.8)  # 4 of 5 claimed, all 4 gold
    # The caption names C♯ with no mode: read as C♯ major, which is not C♯ lydian.
    assert credits["Key"] == 0.0
    assert score.value == pytest.approx(sum(credits.values()) / len(credits))
    # Tivra Ma and the thaat are named only in the reasoning, which is not the caption.
    assert credits["Theory"] == 0.0
    assert score.details["unmatched"] == ["Key", "Theory"]
    assert category(score.details, "Languages")["why"] == "none, as the gold says"


def test_categories_without_gold_do_not_count() -> None:
    score = score_structured_thinking(read("think_hindustani_yaman.txt"), {"tempo_bpm": 60})
    assert score.value == 1.0
    assert [c["name"] for c in score.details["categories"]] == ["BPM"]


@pytest.mark.parametrize(
    "metadata",
    [{}, {"genres": []}, {"key": "  "}, {"tempo_bpm": None}, {"sections": []}, {"unrelated": "x"}],
)
def test_it_is_none_without_any_gold(metadata: dict) -> None:
    score = score_structured_thinking(read("think_hindustani_yaman.txt"), metadata)
    assert score.value is None
    assert score.details == {"categories": [], "matched": [], "unmatched": []}


def test_tempo_octave_errors_get_half_credit() -> None:
    score = score_structured_thinking("<answer>A shuffle at 60 BPM.</answer>", {"tempo_bpm": 120})
    assert score.value == 0.5
    assert category(score.details, "BPM")["why"] == "half or double the tempo"


def test_a_relative_key_gets_mirex_partial_credit() -> None:
    caption = read("caption_synthpop_markdown.txt")  # F♯ minor
    assert score_structured_thinking(caption, {"key": "A major"}).value == 0.3
    assert score_structured_thinking(caption, {"key": "G♭ minor"}).value == 1.0
    assert score_structured_thinking(caption, {"key": "C# minor"}).value == 0.5
    assert score_structured_thinking(caption, {"key": "F# major"}).value == 0.2


def test_missing_claims_score_zero_and_say_so() -> None:
    score = score_structured_thinking(
        "<answer>A pleasant song.</answer>", {"key": "C major", "meter": "4/4"}
    )
    assert score.value == 0.0
    assert [c["why"] for c in score.details["categories"]] == ["no key claimed", "no meter claimed"]
    assert score.details["unmatched"] == ["Key", "Meter"]


def test_instrument_lists_use_jaccard_overlap_on_canonical_names() -> None:
    caption = "<answer>Fender Rhodes, electric bass, a drum machine and a theremin.</answer>"
    gold = {"instruments": ["electric piano", "bass guitar", "drum machine", "guitar"]}
    score = score_structured_thinking(caption, gold)
    instruments = category(score.details, "Instruments")
    assert instruments["credit"] == 3 / 5
    assert "missing guitar" in instruments["why"] and "extra theremin" in instruments["why"]


def test_negated_instruments_are_not_claimed() -> None:
    score = score_structured_thinking(
        "<answer>Solo piano, with no drums.</answer>", {"instruments": ["piano"]}
    )
    assert score.value == 1.0


def test_only_the_answer_is_the_caption_not_the_reasoning() -> None:
    raw = "<think>Maybe 120 BPM in 4/4 with a sitar.</think><answer>A calm piece.</answer>"
    score = score_structured_thinking(
        raw, {"tempo_bpm": 120, "meter": "4/4", "instruments": ["sitar"]}
    )
    assert score.value == 0.0


def test_a_caption_without_tags_is_read_whole() -> None:
    score = score_structured_thinking(
        read("caption_synthpop_markdown.txt"), {"tempo_bpm": 118, "meter": "common time"}
    )
    assert score.value == 1.0


def test_stored_claims_give_the_same_result_as_computing_them() -> None:
    raw = read("caption_synthpop_markdown.txt")
    gold = {
        "tempo_bpm": 118,
        "key": "F# minor",
        "genres": ["synth-pop", "disco"],
        "vocals": ["female lead vocals"],
    }
    stored = json.loads(json.dumps(parse_generation(raw)["claims"]))
    assert answer_claims(raw) == parse_generation(raw)["claims"]
    assert score_structured_thinking(raw, gold, stored) == score_structured_thinking(raw, gold)


def test_given_claims_are_used_instead_of_the_text() -> None:
    claims = {"tempo_bpm": {"value": 90.0}, "key": None, "meter": None, "sections": []}
    score = score_structured_thinking("<answer>At 120 BPM.</answer>", {"tempo_bpm": 90}, claims)
    assert score.value == 1.0


def test_section_headings_are_not_claims() -> None:
    raw = "<answer>**Vocals:** None; it is instrumental.\n\n**Guitar:** absent.</answer>"
    assert [c["value"] for c in answer_claims(raw)["instruments"]] == []


def test_terms_are_found_by_words_ignoring_case_accents_and_punctuation() -> None:
    score = score_structured_thinking(
        read("think_hindustani_yaman.txt"),
        {"theory": ["Lydian mode", "ālāp–jor–jhala", "twelve-tone row"], "dynamics": ["ecstatic"]},
    )
    assert category(score.details, "Theory")["credit"] == 2 / 3
    assert category(score.details, "Theory")["claimed"] == ["Lydian mode", "ālāp–jor–jhala"]
    assert category(score.details, "Dynamics")["credit"] == 1.0


def test_mentions_need_whole_words() -> None:
    assert mentions("Heavy sidechain compression.", "side-chain compression") is False
    assert mentions("Heavy side-chain compression.", "Side chain compression")
    assert mentions("Lots of crescendos", "crescendo")
    assert not mentions("Rapture", "rap")
    assert mentions("歌詞は愛と別れ", "別れ")
    assert mentions("In F♯ minor", "F# minor")


def test_structure_uses_boundaries_within_three_seconds() -> None:
    raw = "<answer>Intro at 0:00, verse at 0:20, chorus at 0:52, bridge at 1:40.</answer>"
    gold = {
        "sections": [
            {"label": "intro", "start": 0},
            {"label": "verse", "start": 18},
            {"label": "chorus", "start": 48},
        ]
    }
    structure = category(score_structured_thinking(raw, gold).details, "Structure")
    assert structure["credit"] == pytest.approx(2 * (2 / 4) * (2 / 3) / (2 / 4 + 2 / 3))
    assert structure["claimed"] == [0.0, 20.0, 52.0, 100.0]
    assert structure["why"].startswith("2 of 3 boundaries")


def test_unicode_captions() -> None:
    raw = "<think>🎻</think><answer>Ｅｎｋａ ballad in B♭ minor at ７２ BPM, sung in Japanese: 演歌。</answer>"
    score = score_structured_thinking(
        raw, {"key": "Bb minor", "tempo_bpm": 72, "lyric_themes": ["演歌"]}
    )
    assert score.value == 1.0


def test_the_workbench_categories_are_marked_as_additions() -> None:
    additions = [c.name for c in CATEGORIES if c.source == "workbench"]
    assert additions == ["Languages", "Culture"]
    assert len([c for c in CATEGORIES if c.source == "paper"]) == 11


def test_details_are_small_and_json_serialisable() -> None:
    score = score_structured_thinking(read("think_hindustani_yaman.txt"), YAMAN_GOLD)
    text = json.dumps(score.details)
    assert len(text) < 3000
    assert "recording begins" not in text


def test_the_trl_wrapper_reads_the_metadata_column() -> None:
    rows = structured_thinking_reward(
        [
            read("think_hindustani_yaman.txt"),
            [{"role": "assistant", "content": "<answer>At 60 BPM.</answer>"}],
            "x",
            "y",
        ],
        metadata=[{"tempo_bpm": 60}, {"tempo_bpm": 120}, None, {}],
        prompts=[""] * 4,
        answer=[None] * 4,
    )
    assert rows == [1.0, 0.5, None, None]
    assert structured_thinking_reward.__name__ == "structured_thinking"
    assert structured_thinking_reward(["x"]) == [None]
