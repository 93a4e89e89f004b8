"""parse_generation on realistic Music Flamingo outputs, well- and malformed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from modeling.parsing import PARSER_VERSION, parse_generation, part_text, split_steps
from tests.modeling.spans import assert_offsets_hold

OUTPUTS = Path(__file__).parent / "outputs"
ALL_OUTPUTS = sorted(OUTPUTS.glob("*.txt"))


def load(name: str) -> tuple[str, dict[str, Any]]:
    raw = (OUTPUTS / name).read_text(encoding="utf-8")
    return raw, parse_generation(raw)


def codes(parsed: dict[str, Any]) -> set[str]:
    return {p["code"] for p in parsed["problems"]}


def test_there_are_enough_fixture_outputs() -> None:
    assert len(ALL_OUTPUTS) >= 12


@pytest.mark.parametrize("path", ALL_OUTPUTS, ids=lambda p: p.stem)
def test_every_span_of_every_fixture_is_a_slice_of_the_raw_text(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    parsed = parse_generation(raw)
    assert_offsets_hold(raw, parsed)
    assert json.loads(json.dumps(parsed)) == parsed
    assert parsed["parser_version"] == PARSER_VERSION


# --- a plain caption with markdown headings (the instruct model) --------------------------------


def test_a_plain_caption_is_all_answer_and_marked_as_having_no_tags() -> None:
    raw, parsed = load("caption_synthpop_markdown.txt")
    assert parsed["think"] is None and parsed["steps"] == []
    assert parsed["answer"] == {"start": 0, "end": len(raw.rstrip())}
    assert codes(parsed) == {"no_tags"}


def test_markdown_headings_become_sections_with_sentences() -> None:
    _, parsed = load("caption_synthpop_markdown.txt")
    assert [s["heading"] for s in parsed["sections"]] == [
        "Instrumentation & Production",
        "Vocals",
        "Lyrical Themes",
        "Structure & Dynamics",
        "Harmony/Theory",
        "Mood & Cultural Context",
    ]
    vocals = parsed["sections"][1]
    assert vocals["text"].startswith("## Vocals\nA breathy female lead vocal")
    assert [s["text"][:22] for s in vocals["sentences"]] == [
        "A breathy female lead ",
        "Stacked backing vocals",
        "The lyrics are sung in",
    ]
    structure = parsed["sections"][3]
    # Seven list items, each a sentence, without the "- " marker.
    assert len(structure["sentences"]) == 7
    assert structure["sentences"][0]["text"].startswith("Intro (0:00–0:14)")


def test_the_caption_timestamps_are_in_seconds_with_ranges() -> None:
    _, parsed = load("caption_synthpop_markdown.txt")
    stamps = [(t["text"], t["seconds"], t["seconds_end"]) for t in parsed["timestamps"]]
    assert ("0:00–0:14", 0.0, 14.0) in stamps
    assert ("0:58–1:28", 58.0, 88.0) in stamps
    assert ("2m10s", 130.0, None) in stamps
    assert ("2:41", 161.0, None) in stamps
    assert ("3-minute mark", 180.0, None) in stamps
    assert ("3:32–3:50", 212.0, 230.0) in stamps
    assert all(t["target"] == "answer" for t in parsed["timestamps"])


def test_the_caption_claims_tempo_key_metre_and_timed_sections() -> None:
    _, parsed = load("caption_synthpop_markdown.txt")
    claims = parsed["claims"]
    assert claims["tempo_bpm"]["value"] == 118.0
    assert claims["tempo_bpm"]["text"] == "118 BPM"
    assert (claims["key"]["tonic"], claims["key"]["mode"], claims["key"]["text"]) == (
        "F#",
        "minor",
        "F♯ minor",
    )
    # "a brief move to A major" is a passing modulation, not the key.
    assert [(k["text"], k["context"]) for k in claims["key_mentions"]][1] == (
        "A major",
        "modulation",
    )
    assert claims["meter"]["value"] == "4/4"
    sections = [(s["label"], s["start_seconds"], s["end_seconds"]) for s in claims["sections"]]
    assert sections[:4] == [
        ("intro", 0.0, 14.0),
        ("verse 1", 14.0, 44.0),
        ("pre-chorus", 44.0, 58.0),
        ("chorus 1", 58.0, 88.0),
    ]
    assert ("bridge", 161.0, None) in sections
    assert ("final chorus", 180.0, None) in sections
    assert ("outro", 212.0, 230.0) in sections


def test_the_caption_claims_instruments_genres_vocals_and_languages() -> None:
    _, parsed = load("caption_synthpop_markdown.txt")
    claims = parsed["claims"]
    instruments = {c["value"] for c in claims["instruments"]}
    assert {"electric piano", "synth pad", "drum machine", "handclaps", "synth bass"} <= instruments
    assert {"electric guitar", "hi-hat"} <= instruments
    genres = {c["value"] for c in claims["genres"]}
    assert {"synth-pop", "disco", "r&b"} <= genres
    assert "synthesizer" not in {  # "synth" inside "synth-pop" is the genre, not an instrument
        c["value"] for c in claims["instruments"] if c["text"].lower() == "synth"
    }
    vocals = {c["value"] for c in claims["vocals"]}
    assert {"female lead vocal", "stacked backing vocal", "falsetto", "spoken word"} <= vocals
    assert [c["value"] for c in claims["languages"]] == ["English", "Spanish"]
    # "with no drums for the first bars" and "no percussion" are not claims of drums.
    assert ("instrument", "drums") in {(n["kind"], n["value"]) for n in claims["negated"]}


def test_each_distinct_claim_keeps_every_mention() -> None:
    raw, parsed = load("caption_synthpop_markdown.txt")
    rhodes = next(c for c in parsed["claims"]["instruments"] if c["value"] == "electric piano")
    assert [raw[m["start"] : m["end"]] for m in rhodes["mentions"]] == [
        "Rhodes electric piano",
        "Rhodes",
    ]


# --- thinking mode: Hindustani raga -------------------------------------------------------------


def test_a_hindustani_trace_splits_into_its_seven_numbered_steps() -> None:
    raw, parsed = load("think_hindustani_yaman.txt")
    assert parsed["well_formed"] is True and parsed["problems"] == []
    steps = parsed["steps"]
    assert [s["index"] for s in steps] == [1, 2, 3, 4, 5, 6, 7]
    assert all(s["marker"] == "numbered" for s in steps)
    assert steps[1]["text"].startswith("Step 2: The drone sounds Sa and Pa, with Sa close to C♯.")
    assert steps[6]["text"].endswith("not a vocal khayal.")
    assert raw[parsed["think"]["start"] : parsed["think"]["end"]] == "\n".join(
        s["text"] for s in steps
    )


def test_bold_inline_headings_split_the_answer() -> None:
    _, parsed = load("think_hindustani_yaman.txt")
    headings = [s["heading"] for s in parsed["sections"]]
    assert headings == [
        "Instrumentation & Production",
        "Vocals",
        "Lyrical Themes",
        "Structure & Dynamics",
        "Harmony/Theory",
        "Mood & Cultural Context",
    ]
    vocals = parsed["sections"][1]
    assert [s["text"] for s in vocals["sentences"]] == [
        "The piece is entirely instrumental; there are no vocals."
    ]


def test_the_raga_claims_use_indian_terms_where_they_exist() -> None:
    _, parsed = load("think_hindustani_yaman.txt")
    claims = parsed["claims"]
    assert {c["value"] for c in claims["instruments"]} == {"sitar", "tanpura", "tabla"}
    assert [c["value"] for c in claims["genres"]] == ["hindustani classical"]
    assert claims["meter"]["value"] == "teentaal" and claims["meter"]["numerator"] == 16
    assert (claims["key"]["tonic"], claims["key"]["mode"]) == ("C#", None)
    # "entirely instrumental; there are no vocals": instrumental, and the heading "Vocals" is no claim.
    assert [c["value"] for c in claims["vocals"]] == ["instrumental"]
    assert [(s["label"], s["start_seconds"], s["end_seconds"]) for s in claims["sections"]] == [
        ("ālāp", 0.0, 135.0),
        ("jor", 135.0, 280.0),
        ("gat", 280.0, None),
        ("jhala", 450.0, None),
        ("final tihai", 552.0, None),
    ]


def test_timestamps_know_whether_they_are_in_the_reasoning_or_the_answer() -> None:
    _, parsed = load("think_hindustani_yaman.txt")
    think = [t["seconds"] for t in parsed["timestamps"] if t["target"] == "think"]
    assert think == [135.0, 280.0, 450.0]
    assert parsed["think_claims"]["tempo_bpm"]["value"] == 60.0
    assert "percussion" in {n["value"] for n in parsed["think_claims"]["negated"]}


# --- thinking mode: Malian kora -----------------------------------------------------------------


def test_a_numbered_list_trace_keeps_its_preamble_as_a_step() -> None:
    _, parsed = load("think_kora_mali.txt")
    steps = parsed["steps"]
    assert len(steps) == 7
    assert steps[0]["marker"] == "preamble"
    assert steps[0]["text"] == "Let me listen through the whole recording before describing it."
    assert steps[1]["text"].startswith("1. The lead instrument is a harp-like lute")
    assert steps[6]["text"].startswith("6. A short instrumental birimintingo break")


def test_heading_lines_ending_in_a_colon_are_sections() -> None:
    _, parsed = load("think_kora_mali.txt")
    assert [s["heading"] for s in parsed["sections"]][:3] == [
        "Instrumentation & Production",
        "Vocals",
        "Lyrical Themes",
    ]
    assert len(parsed["sections"]) == 6


def test_the_kora_piece_claims_and_spoken_timestamps() -> None:
    raw, parsed = load("think_kora_mali.txt")
    claims = parsed["claims"]
    assert {"kora", "ngoni", "balafon", "djembe"} <= {c["value"] for c in claims["instruments"]}
    assert "string section" not in {c["value"] for c in parsed["think_claims"]["instruments"]}
    assert [c["value"] for c in claims["languages"]] == ["Bambara"]
    assert {c["value"] for c in parsed["think_claims"]["languages"]} == {"Bambara", "Mandinka"}
    assert "griot tradition" in {c["value"] for c in claims["genres"]}
    assert (claims["key"]["tonic"], claims["key"]["mode"]) == ("G", "major")
    assert (claims["meter"]["value"], claims["tempo_bpm"]["value"]) == ("12/8", 104.0)
    stamps = {t["text"]: t["seconds"] for t in parsed["timestamps"]}
    assert stamps["2 min 10"] == 130.0
    assert stamps["90 seconds in"] == 90.0
    assert stamps["4:20 to 5:02"] == 260.0
    # The decomposed "é" (e + combining acute) stays inside its sentence.
    production = parsed["sections"][0]["sentences"][-1]["text"]
    assert "Diabate\u0301-style" in production
    assert raw.count("\u0301") == 1


# --- thinking mode: Japanese enka ---------------------------------------------------------------


def test_ordinal_paragraphs_are_steps() -> None:
    _, parsed = load("think_enka_japanese.txt")
    steps = parsed["steps"]
    assert [s["text"].split(",")[0].split()[0] for s in steps] == [
        "First",
        "Next",
        "Then",
        "After",
        "Finally",
    ]
    assert steps[4]["text"].endswith('("tears in my sake").')


def test_the_enka_caption_keeps_cjk_and_emoji_offsets() -> None:
    raw, parsed = load("think_enka_japanese.txt")
    themes = parsed["sections"][2]
    assert themes["heading"] == "Lyrical Themes"
    assert "「港の灯り」" in themes["sentences"][0]["text"]
    production = parsed["sections"][0]["sentences"][-1]
    assert production["text"].endswith("🎌.")
    assert raw[production["start"] : production["end"]] == production["text"]


def test_the_enka_claims() -> None:
    _, parsed = load("think_enka_japanese.txt")
    claims = parsed["claims"]
    assert (claims["key"]["tonic"], claims["key"]["mode"]) == ("Bb", "minor")
    assert (claims["tempo_bpm"]["value"], claims["meter"]["value"]) == (72.0, "4/4")
    assert [c["value"] for c in claims["genres"]] == ["enka"]
    assert [c["value"] for c in claims["languages"]] == ["Japanese"]
    assert {"shamisen", "shakuhachi", "string section", "classical guitar"} <= {
        c["value"] for c in claims["instruments"]
    }
    assert "female lead vocal" in {c["value"] for c in claims["vocals"]}
    # "should not be mistaken for Chinese traditional music" claims no Chinese genre.
    assert [(n["kind"], n["value"]) for n in claims["negated"]] == [
        ("genre", "chinese traditional")
    ]
    assert ("chorus", 65.0, 100.0) in [
        (s["label"], s["start_seconds"], s["end_seconds"]) for s in claims["sections"]
    ]


# --- a plain prose caption: flamenco ------------------------------------------------------------


def test_plain_paragraphs_are_sections_without_headings() -> None:
    _, parsed = load("caption_flamenco_paragraphs.txt")
    assert [s["heading"] for s in parsed["sections"]] == [None, None, None]
    assert [len(s["sentences"]) for s in parsed["sections"]] == [3, 2, 2]
    first = parsed["sections"][0]["sentences"][0]["text"]
    assert first.startswith("This is a flamenco performance in the bulerías style")


def test_the_flamenco_caption_claims_a_phrygian_key_and_spanish() -> None:
    _, parsed = load("caption_flamenco_paragraphs.txt")
    claims = parsed["claims"]
    assert (claims["key"]["tonic"], claims["key"]["mode"]) == ("A", "phrygian")
    assert claims["tempo_bpm"]["value"] == 220.0
    assert {"cajon", "handclaps", "guitar"} <= {c["value"] for c in claims["instruments"]}
    assert [c["value"] for c in claims["languages"]] == ["Spanish"]
    assert "male singer" in {c["value"] for c in claims["vocals"]}
    stamps = {t["text"]: t["seconds"] for t in parsed["timestamps"]}
    assert stamps == {"1:02": 62.0, "2 min 40 s": 160.0, "3:15": 195.0}


# --- thinking mode: Arabic maqam, with right-to-left text ---------------------------------------


def test_a_bulleted_trace_with_arabic_script_keeps_its_offsets() -> None:
    raw, parsed = load("think_maqam_hijaz.txt")
    assert parsed["well_formed"] is True and parsed["problems"] == []
    steps = parsed["steps"]
    assert [s["marker"] for s in steps] == ["bullet"] * 6
    assert steps[5]["text"].endswith('\u200fيا ليل يا عين\u200f ("O night, O eye").')
    assert raw[steps[5]["start"] : steps[5]["end"]] == steps[5]["text"]


def test_the_maqam_claims_name_arab_instruments_and_set_aside_turkish_music() -> None:
    _, parsed = load("think_maqam_hijaz.txt")
    claims = parsed["claims"]
    assert [c["value"] for c in claims["instruments"]] == ["oud", "qanun", "ney", "darbuka", "riq"]
    assert [c["value"] for c in claims["genres"]] == ["arabic classical"]
    assert [(n["kind"], n["value"]) for n in claims["negated"]] == [("genre", "turkish classical")]
    assert claims["key"] is None  # "maqam Hijaz on D" is not a Western key
    assert (claims["meter"]["value"], claims["tempo_bpm"]["value"]) == ("10/8", 96.0)
    assert [c["value"] for c in claims["languages"]] == ["Arabic"]
    assert "instrumental" not in {c["value"] for c in claims["vocals"]}
    assert [(s["label"], s["start_seconds"], s["end_seconds"]) for s in claims["sections"]] == [
        ("opening taqsim", 0.0, 52.0),
        ("instrumental sama'i", 52.0, 100.0),
        ("final refrain", 245.0, 270.0),
    ]


# --- malformed outputs --------------------------------------------------------------------------


def test_a_missing_think_close_ends_the_reasoning_at_the_answer() -> None:
    raw, parsed = load("malformed_missing_think_close.txt")
    assert codes(parsed) == {"missing_think_close"}
    assert [s["marker"] for s in parsed["steps"]] == ["bullet"] * 4
    assert part_text(raw, parsed, "think").endswith("with a power-chord chorus.")
    assert [s["heading"] for s in parsed["sections"]] == [
        "Instrumentation & Production",
        "Harmony/Theory",
    ]
    assert parsed["claims"]["tempo_bpm"]["value"] == 150.0


def test_text_after_the_reasoning_without_an_answer_tag_is_the_answer() -> None:
    raw, parsed = load("malformed_no_answer_tag.txt")
    assert codes(parsed) == {"missing_answer_open"}
    assert part_text(raw, parsed, "answer").startswith("A gentle solo piano waltz in D♭ major")
    assert len(parsed["steps"]) == 3
    assert (parsed["claims"]["key"]["tonic"], parsed["claims"]["key"]["mode"]) == ("Db", "major")
    assert parsed["think_claims"]["meter"]["value"] == "3/4"


def test_a_trace_without_any_answer_is_kept_and_marked() -> None:
    _, parsed = load("malformed_think_only.txt")
    assert parsed["answer"] is None and parsed["sections"] == []
    assert codes(parsed) == {"missing_answer_open"}
    assert len(parsed["steps"]) == 3
    assert [c["value"] for c in parsed["think_claims"]["vocals"]] == ["male baritone"]


def test_an_empty_answer_is_marked() -> None:
    _, parsed = load("malformed_empty_answer.txt")
    assert codes(parsed) == {"empty_answer"}
    assert parsed["answer"]["start"] == parsed["answer"]["end"]
    assert parsed["sections"] == []
    assert parsed["think_claims"]["tempo_bpm"]["value"] == 126.0


def test_runaway_repetition_is_found_and_located() -> None:
    raw, parsed = load("malformed_runaway_repetition.txt")
    assert {"runaway_repetition", "missing_answer_close", "truncated"} <= codes(parsed)
    loop = next(p for p in parsed["problems"] if p["code"] == "runaway_repetition")
    assert loop["phrase"] == "The chorus repeats the hook again and the crowd sings along."
    assert loop["repeats"] == 14
    assert raw[loop["start"] :].startswith(loop["phrase"])
    # Parsed as far as possible: the sentence before the loop still gives its claims.
    assert {"trumpet", "tuba", "tapan"} <= {c["value"] for c in parsed["claims"]["instruments"]}


def test_an_answer_cut_mid_word_is_truncated() -> None:
    raw, parsed = load("malformed_truncated_midword.txt")
    assert codes(parsed) == {"missing_answer_close", "truncated"}
    assert part_text(raw, parsed, "answer").endswith("and the gui")
    assert parsed["sections"][-1]["sentences"][-1]["text"].endswith("and the gui")
    assert [s["text"][:2] for s in parsed["steps"]] == ["1.", "2.", "3."]


def test_a_plain_caption_cut_mid_word_is_truncated() -> None:
    _, parsed = load("malformed_plain_truncated.txt")
    assert codes(parsed) == {"no_tags", "truncated"}
    assert [c["value"] for c in parsed["claims"]["languages"]] == ["Portuguese"]
    assert parsed["timestamps"][0]["seconds"] == 70.0


def test_an_answer_before_its_reasoning_is_still_split() -> None:
    raw, parsed = load("malformed_answer_before_think.txt")
    assert codes(parsed) == {"unbalanced_tags"}
    assert part_text(raw, parsed, "answer") == "A cheerful ukulele tune at 100 BPM in C major."
    assert len(parsed["steps"]) == 2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<think>a</think><answer>b</answer>", set()),
        ("<think>a</think><answer>b", {"missing_answer_close", "truncated"}),
        ("<think>a", {"missing_think_close", "missing_answer_open", "truncated"}),
        ("<think>a</think>", {"missing_answer_open"}),
        ("<think>a</think><answer></answer>", {"empty_answer"}),
        ("<think></think><answer>b.</answer>", {"empty_think"}),
        ("a</think><answer>b.</answer>", {"missing_think_open"}),
        ("<think>a</think>b.</answer>", {"missing_answer_open"}),
        (
            "<think>a</think><answer>b</answer><answer>c</answer>",
            {"unbalanced_tags", "text_outside_tags"},
        ),
        ("<think>x<answer>y</answer></think><answer>z</answer>", {"unbalanced_tags"}),
        ("<think>a</think><answer>b.</answer> trailing words.", {"text_outside_tags"}),
        ("", {"no_tags", "empty_answer"}),
        ("<THINK>a</THINK>\n<Answer>b</Answer>", set()),
        ("<think>a</think><answer>b.</answer><think>", {"unbalanced_tags", "truncated"}),
    ],
)
def test_tag_problems(raw: str, expected: set[str]) -> None:
    parsed = parse_generation(raw)
    assert codes(parsed) == expected
    assert_offsets_hold(raw, parsed)


def test_problems_carry_a_readable_message_and_severity() -> None:
    parsed = parse_generation("<think>Step 1: kick.")
    for problem in parsed["problems"]:
        assert problem["message"] and problem["severity"] in {"info", "warning", "error"}


# --- steps, one structure at a time --------------------------------------------------------------


@pytest.mark.parametrize(
    ("trace", "marker", "count"),
    [
        ("Step 1: kick. Step 2: snare. Step 3: hats.", "numbered", 3),
        ("**Step 1:** kick.\n**Step 2:** snare.", "numbered", 2),
        ("1. kick\n2. snare\n3. hats", "numbered", 3),
        ("(1) kick\n(2) snare", "numbered", 2),
        ("- kick\n- snare\n• hats", "bullet", 3),
        ("First, the kick. Then the snare enters. Finally, the hats.", "ordinal", 3),
        ("The kick is steady.\n\nThe snare is on two and four.", "paragraph", 2),
        ("The kick is steady. The snare is on two and four.", "sentence", 2),
        ("Only one thought here", "sentence", 1),
    ],
)
def test_steps_follow_the_clearest_structure(trace: str, marker: str, count: int) -> None:
    steps = split_steps(trace, (0, len(trace)))
    assert len(steps) == count
    assert steps[-1]["marker"] == marker
    assert [s["index"] for s in steps] == list(range(1, count + 1))


def test_a_numbered_line_list_inside_a_step_stays_in_that_step() -> None:
    trace = "Step 1: layers:\n- drums\n- bass\nStep 2: tempo near 90 BPM."
    steps = split_steps(trace, (0, len(trace)))
    assert [s["text"] for s in steps] == [
        "Step 1: layers:\n- drums\n- bass",
        "Step 2: tempo near 90 BPM.",
    ]


# --- heading variants ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "headings"),
    [
        (
            "### 1. Instrumentation & Production\nA piano.\n\n### 2. Vocals\nA choir.",
            ["Instrumentation & Production", "Vocals"],
        ),
        ("## Harmony ##\nIn C major.", ["Harmony"]),
        (
            "## 🎸 Instrumentation\nGuitars.\n## 🎤 Vocals\nA tenor.",
            ["🎸 Instrumentation", "🎤 Vocals"],
        ),
        ("VOCALS:\nA tenor sings.\n\nHARMONY:\nIn C major.", ["VOCALS", "HARMONY"]),
        ("**Mood**\nCalm.\n\n**Vocals:**\nNone.", ["Mood", "Vocals"]),
        ("Overview: A calm piece.\n\nMood: Serene and slow.", ["Overview", "Mood"]),
        ("A calm piece. It has a piano.\n\nThe mood is serene.", [None, None]),
    ],
)
def test_heading_styles(raw: str, headings: list[str | None]) -> None:
    parsed = parse_generation(raw)
    assert [s["heading"] for s in parsed["sections"]] == headings
    assert_offsets_hold(raw, parsed)


def test_bold_key_value_bullets_stay_sentences_of_their_section() -> None:
    raw = "**Harmony/Theory:**\n- **Key:** F minor\n- **Tempo:** 92 BPM\n- **Meter:** 4/4"
    parsed = parse_generation(raw)
    [section] = parsed["sections"]
    assert section["heading"] == "Harmony/Theory"
    assert [s["text"] for s in section["sentences"]] == [
        "**Key:** F minor",
        "**Tempo:** 92 BPM",
        "**Meter:** 4/4",
    ]
    claims = parsed["claims"]
    assert (claims["key"]["tonic"], claims["key"]["context"]) == ("F", "key")
    assert (claims["tempo_bpm"]["value"], claims["meter"]["value"]) == (92.0, "4/4")


def test_sentences_do_not_break_at_abbreviations_or_decimals() -> None:
    raw = "It sits near approx. 92.5 BPM, e.g. in the verse. Then it slows. 終わり。次"
    [section] = parse_generation(raw)["sections"]
    assert [s["text"] for s in section["sentences"]] == [
        "It sits near approx. 92.5 BPM, e.g. in the verse.",
        "Then it slows.",
        "終わり。",
        "次",
    ]


# --- inputs that once made a regular expression backtrack for minutes ---------------------------

PATHOLOGICAL = [
    "tempo" + " " * 10_000 + "x",
    "tonality" + " " * 10_000 + "x",
    "<" + " " * 10_000 + "x",
    "## a" + " " * 10_000 + "#" * 10 + "x",
    "**a" + " " * 10_000 + "x",
    "**a**" + " " * 10_000 + "x",
    "country " * 5_000,
    "tabla " * 10_000,
    "the chorus at 1:00. " * 2_000,
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("raw", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_inputs_parse(raw: str) -> None:
    assert_offsets_hold(raw, parse_generation(raw))
