"""Music-aware matchers: tempo octave errors, the MIREX weighted key score, metre, term sets and
segment boundaries, checked against mir_eval where it defines the same measure."""

from __future__ import annotations

import itertools

import mir_eval
import numpy as np
import pytest

from modeling.rewards.music import (
    boundary_f,
    bpm_credit,
    canonical_set,
    key_credit,
    meter_credit,
    parse_key,
    set_overlap,
)

# --- tempo ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claimed", "gold", "credit"),
    [
        (120.0, 120.0, 1.0),
        (124.8, 120.0, 1.0),  # exactly 4 % above
        (115.2, 120.0, 1.0),  # exactly 4 % below
        (125.0, 120.0, 0.0),
        (60.0, 120.0, 0.5),  # half
        (240.0, 120.0, 0.5),  # double
        (62.0, 120.0, 0.5),  # 2 × 62 = 124, within 4 %
        (65.0, 120.0, 0.0),
        (40.0, 120.0, 0.0),  # a third is not an octave error
        (180.0, 120.0, 0.0),
        (None, 120.0, 0.0),
    ],
)
def test_tempo_credit(claimed: float | None, gold: float, credit: float) -> None:
    assert bpm_credit(claimed, gold) == credit


# --- key -----------------------------------------------------------------------------------------

# The MIREX key-detection weights on their examples (reference C major / A minor): same key 1,
# perfect fifth (the estimate a fifth above) 0.5, relative 0.3, parallel 0.2, anything else 0.
MIREX_EXAMPLES = [
    ("C major", "C major", 1.0),
    ("C major", "G major", 0.5),
    ("C major", "A minor", 0.3),
    ("C major", "C minor", 0.2),
    ("C major", "D major", 0.0),
    ("A minor", "A minor", 1.0),
    ("A minor", "E minor", 0.5),
    ("A minor", "C major", 0.3),
    ("A minor", "A major", 0.2),
    ("A minor", "B minor", 0.0),
]


@pytest.mark.parametrize(("gold", "claimed", "credit"), MIREX_EXAMPLES)
def test_the_published_mirex_key_examples(gold: str, claimed: str, credit: float) -> None:
    assert key_credit(claimed, gold) == credit


@pytest.mark.parametrize(("gold", "claimed"), [("C major", "F major"), ("A minor", "D minor")])
def test_a_fifth_below_also_earns_half_our_rule_not_mirex(gold: str, claimed: str) -> None:
    """MIREX credits only the estimate a fifth above; a subdominant is the same kind of slip."""
    assert key_credit(claimed, gold) == 0.5


NAMES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def test_it_agrees_with_mir_eval_on_every_major_minor_pair_except_descending_fifths() -> None:
    keys = [f"{n} {m}" for n in NAMES for m in ("major", "minor")]
    for gold, claimed in itertools.product(keys, keys):
        ours, theirs = key_credit(claimed, gold), mir_eval.key.weighted_score(gold, claimed)
        descending_fifth = (
            gold.split()[1] == claimed.split()[1]
            and (parse_key(claimed)[0] - parse_key(gold)[0]) % 12 == 5  # type: ignore[index]
        )
        assert ours == (0.5 if descending_fifth else theirs), (gold, claimed)


@pytest.mark.parametrize(
    ("claimed", "gold"),
    [
        ("F♯ minor", "Gb minor"),
        ("A♯ major", "Bb major"),
        ("C# minor", "D♭ minor"),
        ("E# major", "F major"),
        ("Cb major", "B major"),
    ],
)
def test_enharmonic_spellings_are_the_same_key(claimed: str, gold: str) -> None:
    assert key_credit(claimed, gold) == 1.0


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("F♯ minor", (6, "minor")),
        ("f# Minor", (6, "minor")),
        ("Bb major", (10, "major")),
        ("B♭", (10, "major")),
        ("Em", (4, "minor")),
        ("Ebm", (3, "minor")),
        ("A-flat major", (8, "major")),
        ("C sharp minor", (1, "minor")),
        ("Ｆ＃ minor", (6, "minor")),  # full width, NFKC
        ("A aeolian", (9, "minor")),
        ("C ionian", (0, "major")),
        ("D dorian", (2, "dorian")),
        ("B minor", (11, "minor")),
        ("H minor", None),
        ("melancholic", None),
    ],
)
def test_parse_key(text: str, parsed: tuple[int, str] | None) -> None:
    assert parse_key(text) == parsed


def test_modal_keys_only_score_when_exact() -> None:
    assert key_credit("D dorian", "D dorian") == 1.0
    assert key_credit("D minor", "D dorian") == 0.0
    assert key_credit("A dorian", "D dorian") == 0.0
    assert key_credit("D dorian", "D minor") == 0.0


def test_an_unreadable_or_missing_claim_earns_nothing() -> None:
    assert key_credit(None, "C major") == 0.0
    assert key_credit("sad", "C major") == 0.0


# --- metre ---------------------------------------------------------------------------------------


def test_metre_matches_after_the_claims_parser_normalises_it() -> None:
    assert meter_credit("4/4", "4/4") == 1.0
    assert meter_credit("common time", "4/4") == 1.0
    assert meter_credit("cut time", "2/2") == 1.0
    assert meter_credit("6/8", "3/4") == 0.0
    assert meter_credit("teentaal", "Teentaal") == 1.0
    assert meter_credit(None, "4/4") == 0.0


# --- sets ----------------------------------------------------------------------------------------


def test_set_overlap_is_jaccard_on_canonical_names() -> None:
    assert set_overlap(["Sitar", "Tabla", "Tanpura"], ["sitar", "tablas"], "instruments") == 2 / 3
    assert set_overlap(["drum kit"], ["drum kit", "bass guitar"], "instruments") == 0.5
    assert set_overlap(["oud"], ["qanun"], "instruments") == 0.0


def test_aliases_map_to_the_claims_vocabulary() -> None:
    assert canonical_set(["Electric Bass", "Fender Rhodes"], "instruments") == {
        "bass guitar",
        "electric piano",
    }
    assert canonical_set(["Synth Pop", "K-Pop"], "genres") == {"synth-pop", "k-pop"}
    assert canonical_set(["Castilian"], "languages") == {"spanish"}


def test_unknown_terms_are_casefolded_and_hyphens_collapsed() -> None:
    assert canonical_set(["Glitch-Hop Fusion", "ＤＲＯＮＥ"]) == {"glitch hop fusion", "drone"}


def test_vocals_compare_with_singular_nouns() -> None:
    assert (
        set_overlap(
            ["female vocals", "backing singers"], ["female vocal", "backing singer"], "vocals"
        )
        == 1.0
    )


def test_none_means_instrumental_for_vocals_and_no_language() -> None:
    assert set_overlap(["none"], ["instrumental"], "vocals") == 1.0
    assert set_overlap(["none"], [], "languages") == 1.0
    assert set_overlap(["none"], ["english"], "languages") == 0.0


def test_non_latin_terms_compare_by_casefold() -> None:
    assert set_overlap(["Ελληνικά", "日本語"], ["ελληνικά", "日本語"]) == 1.0


# --- boundaries ----------------------------------------------------------------------------------


def test_boundaries_match_one_to_one_within_three_seconds() -> None:
    assert boundary_f([0.0, 30.0, 60.0], [0.0, 30.0, 60.0]) == 1.0
    assert boundary_f([0.0, 30.0, 60.0], [2.9, 33.1, 57.0]) == pytest.approx(
        2 * (2 / 3) * (2 / 3) / (4 / 3)
    )
    # Two claims near one gold boundary earn one hit.
    assert boundary_f([30.0], [29.0, 31.0]) == pytest.approx(2 * 0.5 * 1.0 / 1.5)
    assert boundary_f([30.0], []) == 0.0
    assert boundary_f([30.0], [40.0]) == 0.0


def test_boundary_hits_agree_with_mir_eval_matching() -> None:
    rng = np.random.default_rng(6)
    for _ in range(200):
        gold = sorted(set(np.round(rng.uniform(0, 120, rng.integers(1, 8)), 1).tolist()))
        claimed = sorted(set(np.round(rng.uniform(0, 120, rng.integers(1, 8)), 1).tolist()))
        hits = len(mir_eval.util.match_events(np.array(gold), np.array(claimed), 3.0))
        precision, recall = hits / len(claimed), hits / len(gold)
        expected = 0.0 if hits == 0 else 2 * precision * recall / (precision + recall)
        assert boundary_f(gold, claimed) == pytest.approx(expected)
