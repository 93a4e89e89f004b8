"""Ground truth from the experts' verified metadata: majorities, ties, per-field sameness."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from modeling.rewards.ground_truth import Agreement, agree, ground_truth


def entry(value: object, status: str = "confirmed", source: str = "expert") -> dict:
    return {"value": value, "status": status, "source": source}


def test_a_single_expert_is_the_ground_truth_marked_single() -> None:
    assert agree("meter", [(4, "7/8")]) == Agreement("meter", "7/8", "single", [4], [])


def test_nobody_verifying_is_status_none() -> None:
    assert agree("meter", []) == Agreement("meter", None, "none", [], [])
    assert agree("genres", [(1, []), (2, "  "), (3, None)]).status == "none"


def test_a_two_way_tie_is_no_agreement() -> None:
    result = agree("meter", [(1, "4/4"), (2, "12/8")])
    assert (result.value, result.status, result.dissenters) == (None, "no_agreement", [1, 2])


def test_no_strict_majority_among_three_different_answers() -> None:
    assert agree("key", [(1, "C major"), (2, "A minor"), (3, "G major")]).status == "no_agreement"


def test_two_against_two_is_a_tie_and_three_against_one_a_majority() -> None:
    tie = agree("meter", [(1, "3/4"), (2, "3/4"), (3, "6/8"), (4, "6/8")])
    assert tie.status == "no_agreement"
    majority = agree("meter", [(1, "3/4"), (2, "3/4"), (3, "6/8"), (4, "3/4")])
    assert (majority.value, majority.status, majority.supporters, majority.dissenters) == (
        "3/4",
        "majority",
        [1, 2, 4],
        [3],
    )


def test_tempos_within_four_percent_agree_and_the_median_is_taken() -> None:
    result = agree("tempo_bpm", [(1, 120.0), (2, 123.0), (3, 118.0)])
    assert (result.value, result.status) == (120.0, "unanimous")


def test_a_tempo_at_double_time_is_a_different_answer() -> None:
    result = agree("tempo_bpm", [(1, 70.0), (2, 140.0), (3, 71.0)])
    assert (result.value, result.supporters, result.dissenters) == (70.5, [1, 3], [2])


def test_keys_agree_by_pitch_class_and_mode() -> None:
    result = agree("key", [(1, "F♯ minor"), (2, "Gb minor"), (3, "f# minor")])
    assert (result.value, result.status) == ("F♯ minor", "unanimous")
    assert agree("key", [(1, "A minor"), (2, "C major")]).status == "no_agreement"
    assert agree("key", [(1, "D dorian"), (2, "D dorian")]).value == "D dorian"


def test_lists_agree_as_casefolded_sets() -> None:
    result = agree(
        "instruments", [(1, ["Sitar", "Tabla"]), (2, ["tabla", "sitar "]), (3, ["sitar"])]
    )
    assert (result.value, result.supporters, result.dissenters) == (["Sitar", "Tabla"], [1, 2], [3])


def test_text_agrees_ignoring_case_and_spacing() -> None:
    result = agree("culture", [(1, "Hindustani  classical"), (2, "hindustani classical")])
    assert result.status == "unanimous"


def test_non_latin_text() -> None:
    assert agree("culture", [(1, "演歌"), (2, "演歌"), (3, "J-pop")]).value == "演歌"


def test_ground_truth_keeps_only_confirmed_or_corrected_values() -> None:
    metadata, agreements = ground_truth(
        [
            (
                1,
                {
                    "tempo_bpm": entry(92.0),
                    "key": entry("D minor", "unsure"),
                    "genres": entry(["fado"], "corrected"),
                },
            ),
            (2, {"tempo_bpm": entry(93.0, source="analysis"), "key": entry("F major", "unsure")}),
            (3, {"tempo_bpm": entry(140.0, "unsure")}),
        ]
    )
    assert metadata == {"tempo_bpm": 92.5, "genres": ["fado"]}
    assert agreements["tempo_bpm"].status == "unanimous"
    assert agreements["key"] == Agreement("key", None, "none", [], [])
    assert agreements["genres"].status == "single"


def test_disagreement_leaves_the_field_out_of_the_metadata_but_records_it() -> None:
    metadata, agreements = ground_truth(
        [(1, {"meter": entry("4/4")}), (2, {"meter": entry("2/4")})]
    )
    assert metadata == {}
    assert agreements["meter"].status == "no_agreement"


def test_agreements_are_json_friendly() -> None:
    _, agreements = ground_truth(
        [(1, {"vocals": entry(["female lead"])}), (2, {"vocals": entry(["Female lead"])})]
    )
    data = json.loads(json.dumps({f: asdict(a) for f, a in agreements.items()}))
    assert data["vocals"] == {
        "field": "vocals",
        "value": ["female lead"],
        "status": "unanimous",
        "supporters": [1, 2],
        "dissenters": [],
    }


def test_empty_or_odd_verified_metadata_is_tolerated() -> None:
    assert ground_truth([]) == ({}, {})
    metadata, agreements = ground_truth([(1, {}), (2, {"key": "not a dict"})])
    assert metadata == {}
    assert agreements["key"].status == "none"


@pytest.mark.parametrize("value", [120, 120.0])
def test_integer_and_float_tempos_are_the_same(value: float) -> None:
    assert agree("tempo_bpm", [(1, value), (2, 120.0)]).status == "unanimous"
