"""The paper's format reward on realistic well-formed and malformed Music Flamingo outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeling.rewards.format import format_reward, score_format

OUTPUTS = Path(__file__).parent / "outputs"

# Hand-written in Music Flamingo's thinking style (the demo's SAMPLE_OUTPUT, copied: modeling tests
# must not import the Django app that holds it).
SAMPLE_OUTPUT = (
    "<think>Step 1: The drum kit plays a steady backbeat with the snare on beats 2 and 4, so the "
    "metre is 4/4.\n"
    "Step 2: Counting beats against the hi-hat gives about 140 BPM.\n"
    "Step 3: The chords cycle through C, F, G and C, which points to C major.</think>"
    "<answer>**Instrumentation & Production:** A compact electronic rock arrangement: a tight "
    "drum kit, a round electric bass and a warm synth pad.\n\n"
    "**Harmony & Theory:** The song sits in C major at around 140 BPM in 4/4.</answer>"
)


@pytest.mark.parametrize("name", sorted(p.name for p in OUTPUTS.glob("think_*.txt")))
def test_it_gives_full_credit_to_the_well_formed_fixture_outputs(name: str) -> None:
    score = score_format((OUTPUTS / name).read_text())
    assert score.value == 1.0
    assert score.details["well_formed"] is True


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("caption_flamenco_paragraphs.txt", "no_tags"),
        ("caption_synthpop_markdown.txt", "no_tags"),
        ("malformed_answer_before_think.txt", "unbalanced_tags"),
        ("malformed_empty_answer.txt", "empty_answer"),
        ("malformed_missing_think_close.txt", "missing_think_close"),
        ("malformed_no_answer_tag.txt", "missing_answer_open"),
        ("malformed_plain_truncated.txt", "no_tags"),
        ("malformed_runaway_repetition.txt", "missing_answer_close"),
        ("malformed_think_only.txt", "missing_answer_open"),
        ("malformed_truncated_midword.txt", "missing_answer_close"),
    ],
)
def test_it_gives_nothing_to_the_malformed_fixture_outputs(name: str, problem: str) -> None:
    score = score_format((OUTPUTS / name).read_text())
    assert score.value == 0.0
    assert problem in score.details["problems"]


def test_the_empty_answer_fixture_has_its_tags_in_order_and_still_fails() -> None:
    score = score_format((OUTPUTS / "malformed_empty_answer.txt").read_text())
    assert (score.value, score.details["well_formed"]) == (0.0, True)


def test_the_demo_sample_output_is_well_formed() -> None:
    assert score_format(SAMPLE_OUTPUT).value == 1.0


def test_surrounding_whitespace_and_newlines_between_blocks_are_fine() -> None:
    assert score_format("\n  <think> a </think>\n\n<answer> b </answer>\n").value == 1.0


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("<think>Step 1: drums.<answer>A rock song.</answer>", "missing_think_close"),
        ("<answer>A rock song.</answer><think>Step 1: drums.</think>", "unbalanced_tags"),
        ("<think>Step 1: drums.</think><answer>A rock song.", "missing_answer_close"),
        ("<think>Step 1: drums.</think>A rock song.", "missing_answer_open"),
        ("Sure! <think>Step 1.</think><answer>A rock song.</answer>", "text_outside_tags"),
        (
            "<think>Step 1.</think><answer>A rock song.</answer> Hope this helps!",
            "text_outside_tags",
        ),
        ("<think>a</think>between<answer>b</answer>", "text_outside_tags"),
        ("<think>a</think><answer>b</answer><answer>c</answer>", "unbalanced_tags"),
        ("A rock song at 120 BPM.", "no_tags"),
    ],
)
def test_it_scores_zero_and_names_the_problem(raw: str, problem: str) -> None:
    score = score_format(raw)
    assert score.value == 0.0
    assert problem in score.details["problems"]


def test_an_empty_think_block_is_not_the_format() -> None:
    score = score_format("<think>  </think><answer>A rock song.</answer>")
    assert score.value == 0.0
    assert score.details == {"well_formed": True, "problems": ["empty_think"]}


def test_an_empty_answer_block_is_not_the_format() -> None:
    score = score_format("<think>Step 1: drums.</think><answer>\n \n</answer>")
    assert score.value == 0.0
    assert "empty_answer" in score.details["problems"]


def test_an_empty_string_scores_zero() -> None:
    assert score_format("").value == 0.0


def test_tags_are_case_insensitive_as_in_the_parser() -> None:
    assert score_format("<THINK>a</THINK><Answer>b</Answer>").value == 1.0


def test_unicode_content_does_not_matter() -> None:
    raw = (
        "<think>🎸 Ｆ♯ minor, 歌詞は日本語。</think><answer>演歌のバラード、F♯ マイナー。</answer>"
    )
    assert score_format(raw).value == 1.0


def test_the_trl_wrapper_takes_strings_and_conversations_and_ignores_other_columns() -> None:
    good = "<think>a</think><answer>b</answer>"
    completions = [
        good,
        "b",
        [{"role": "assistant", "content": good}],
        [{"role": "assistant", "content": [{"type": "text", "text": good}]}],
    ]
    rewards = format_reward(
        completions,
        prompts=["p"] * 4,
        completion_ids=[[1]] * 4,
        trainer_state=None,
        answer=[None] * 4,
    )
    assert rewards == [1.0, 0.0, 1.0, 1.0]
    assert format_reward.__name__ == "format"
