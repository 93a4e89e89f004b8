"""The offset invariant over generated and mutated text, and UTF-16 conversion for browsers.

Property-style without an extra dependency: seeded random strings drawn from the pieces real
outputs are made of (tags, headings, timestamps, keys, CJK, emoji, combining marks), and the
fixture outputs cut and spliced at random points.
"""

from __future__ import annotations

import doctest
import json
import random
from pathlib import Path
from types import ModuleType

import pytest

import modeling.claims
import modeling.hints
import modeling.parsing
from modeling.hints import find_hints
from modeling.parsing import codepoint_offsets, parse_generation, utf16_offsets
from tests.modeling.spans import assert_offsets_hold

OUTPUTS = Path(__file__).parent / "outputs"

PIECES = [
    "<think>",
    "</think>",
    "<answer>",
    "</answer>",
    "< /think >",
    "<ANSWER>",
    "\n",
    "\n\n",
    " ",
    "  ",
    "\t",
    "\u3000",
    "\u00a0",
    "## Vocals\n",
    "**Harmony/Theory:** ",
    "Structure & Dynamics:\n",
    "- ",
    "1. ",
    "Step 2: ",
    "First, ",
    "Finally, ",
    "The song is in F♯ minor",
    "B♭ major",
    "A-flat major",
    "E minor chord",
    " at 1:23",
    " 0:45–1:30",
    " at 2 min 10",
    " 2m10s",
    " around the 3-minute mark",
    " 90 seconds in",
    " 01:02:03",
    " 118 BPM",
    " 90-95 bpm",
    " 4/4",
    " 6/8",
    " teentaal",
    "tabla",
    " sitar ",
    "kora",
    " oud",
    "erhu",
    " no drums",
    " without vocals",
    " female lead vocal",
    " sung in Hindi",
    "synth-pop",
    "Hindustani classical",
    " chorus",
    " bridge",
    ".",
    ". ",
    "!",
    "?",
    "…",
    "。",
    "—",
    "–",
    ":",
    ";",
    ",",
    "(",
    ")",
    "「港の灯り」",
    "涙の酒",
    "🎸",
    "🎌",
    "👩🏽‍🎤",
    "e\u0301",
    "café",
    "İstanbul",
    "ß",
    "ﬁ",
    "Ⅻ",
    "\u200d",
    "\ufeff",
    "\U0001d11e",
    "𝄪",
    "x",
    "Zz",
    "42",
    "la la la la ",
    "loop loop ",
]


def random_text(rng: random.Random) -> str:
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 60)))


def check(raw: str) -> None:
    parsed = parse_generation(raw)
    assert_offsets_hold(raw, parsed)
    assert json.loads(json.dumps(parsed, ensure_ascii=False)) == parsed
    facts = {"tempo_bpm": 101.0, "key_tonic": "C", "key_mode": "major", "duration_seconds": 30.0}
    for hint in find_hints(parsed, facts):
        assert raw[hint["start"] : hint["end"]] == hint["quoted_text"]


@pytest.mark.parametrize("seed", range(8))
def test_random_outputs_keep_every_offset(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        check(random_text(rng))


@pytest.mark.parametrize("path", sorted(OUTPUTS.glob("*.txt")), ids=lambda p: p.stem)
def test_fixtures_cut_and_spliced_keep_every_offset(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    rng = random.Random(path.stem)
    for _ in range(25):
        cut = rng.randint(0, len(raw))
        check(raw[:cut])  # truncated anywhere, mid-tag and mid-word included
        where = rng.randint(0, len(raw))
        check(raw[:where] + rng.choice(PIECES) + raw[where:])


def test_a_very_long_loop_parses_in_reasonable_time() -> None:
    raw = "<think>Step 1: a march.</think><answer>" + "The tuba plays the same bar. " * 800
    parsed = parse_generation(raw)
    loop = next(p for p in parsed["problems"] if p["code"] == "runaway_repetition")
    assert loop["repeats"] >= 700


@pytest.mark.parametrize(
    "text",
    [
        "plain ascii",
        "F♯ minor — B♭ major",
        "café e\u0301",
        "「港の灯り」🎌",
        "🎸🎸 at 1:23 👩🏽‍🎤",
        "\U0001d11e𝄪",
    ],
)
def test_utf16_offsets_match_what_a_browser_counts(text: str) -> None:
    for start in range(len(text) + 1):
        for end in range(start, len(text) + 1):
            expected = (
                len(text[:start].encode("utf-16-le")) // 2,
                len(text[:end].encode("utf-16-le")) // 2,
            )
            assert utf16_offsets(text, start, end) == expected
            assert codepoint_offsets(text, *expected) == (start, end)


def test_a_utf16_offset_inside_a_surrogate_pair_widens_to_the_whole_character() -> None:
    text = "a🎸b"
    assert codepoint_offsets(text, 2, 2) == (1, 2)
    assert codepoint_offsets(text, 1, 2) == (1, 2)
    assert codepoint_offsets(text, 2, 4) == (1, 3)


def test_utf16_conversion_rejects_spans_outside_the_text() -> None:
    with pytest.raises(ValueError):
        utf16_offsets("abc", 2, 4)
    with pytest.raises(ValueError):
        codepoint_offsets("a🎸", 0, 4)


def test_the_parser_spans_convert_for_the_browser() -> None:
    raw = "<answer>🎸🎸 Riff at 1:23, in F♯ minor.</answer>"
    parsed = parse_generation(raw)
    stamp = parsed["timestamps"][0]
    start16, end16 = utf16_offsets(raw, stamp["start"], stamp["end"])
    assert raw.encode("utf-16-le")[start16 * 2 : end16 * 2].decode("utf-16-le") == "1:23"


@pytest.mark.parametrize("module", [modeling.parsing, modeling.claims, modeling.hints])
def test_the_docstring_examples_hold(module: ModuleType) -> None:
    result = doctest.testmod(module)
    assert result.attempted >= 3
    assert result.failed == 0
