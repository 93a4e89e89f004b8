"""The hallucination penalty from expert flags: severity weights, length normalisation, the floor."""

from __future__ import annotations

import json

import pytest

from modeling.rewards.hallucination import count_words, hallucination_reward, score_hallucination


def output(think_words: int, answer_words: int) -> str:
    return (
        "<think>"
        + "beat " * think_words
        + "</think><answer>"
        + "tune " * answer_words
        + "</answer>"
    )


def flag(flag_id: int, severity: str, quoted: str = "a sitar", target: str = "caption") -> dict:
    return {
        "id": flag_id,
        "severity": severity,
        "target": target,
        "category": "invented-instrument",
        "quoted_text": quoted,
    }


def test_no_flags_is_zero_not_negative_zero() -> None:
    score = score_hallucination(output(100, 100), [{"id": 1, "flags": []}])
    assert score.value == 0.0
    assert str(score.value) == "0.0"


def test_it_is_none_without_reviews() -> None:
    assert score_hallucination(output(100, 100), []).value is None


@pytest.mark.parametrize(
    ("severity", "value"), [("minor", -0.2), ("major", -0.6), ("critical", -1.0)]
)
def test_severity_weights_per_hundred_words(severity: str, value: float) -> None:
    score = score_hallucination(output(60, 40), [{"id": 1, "flags": [flag(1, severity)]}])
    assert score.value == pytest.approx(value)


def test_longer_outputs_dilute_the_same_flag() -> None:
    short = score_hallucination(output(100, 100), [{"id": 1, "flags": [flag(1, "major")]}])
    long = score_hallucination(output(300, 300), [{"id": 1, "flags": [flag(1, "major")]}])
    assert short.value == pytest.approx(-0.3)
    assert long.value == pytest.approx(-0.1)


def test_short_outputs_count_as_a_hundred_words() -> None:
    score = score_hallucination(
        "<answer>A sitar at 90 BPM.</answer>", [{"id": 1, "flags": [flag(1, "minor")]}]
    )
    assert score.details["words"] == 5
    assert score.value == pytest.approx(-0.2)


def test_the_penalty_stops_at_minus_one() -> None:
    flags = [flag(i, "critical") for i in range(4)]
    assert score_hallucination(output(50, 50), [{"id": 1, "flags": flags}]).value == -1.0


def test_reviews_are_averaged_so_an_unflagging_reviewer_halves_the_penalty() -> None:
    score = score_hallucination(
        output(50, 50), [{"id": 1, "flags": [flag(1, "major")]}, {"id": 2, "flags": []}]
    )
    assert score.value == pytest.approx(-0.3)
    assert score.details["per_review"] == [
        {"review": 1, "density": 3.0},
        {"review": 2, "density": 0.0},
    ]


def test_reasoning_flags_count_like_caption_flags() -> None:
    on_reasoning = score_hallucination(
        output(50, 50), [{"id": 1, "flags": [flag(1, "major", target="reasoning")]}]
    )
    assert on_reasoning.value == pytest.approx(-0.6)


def test_each_flag_says_what_it_cost_and_quotes_at_most_80_characters() -> None:
    long_quote = "a shimmering sitar " * 10
    score = score_hallucination(
        output(100, 100),
        [
            {"id": 3, "flags": [flag(7, "critical", long_quote), flag(8, "minor")]},
            {"id": 4, "flags": []},
        ],
    )
    first, second = score.details["flags"]
    assert (first["id"], first["review"], first["severity"], first["category"]) == (
        7,
        3,
        "critical",
        "invented-instrument",
    )
    assert len(first["quoted_text"]) == 80
    assert first["cost"] == pytest.approx(0.25)
    assert second["cost"] == pytest.approx(0.05)
    assert -score.value == pytest.approx(first["cost"] + second["cost"])  # type: ignore[operator]
    json.dumps(score.details)


def test_an_unknown_severity_is_an_error_not_a_silent_zero() -> None:
    with pytest.raises(ValueError, match="severity 'huge'"):
        score_hallucination(output(10, 10), [{"id": 1, "flags": [flag(1, "huge")]}])


def test_words_of_unspaced_scripts_are_counted_by_character() -> None:
    assert count_words("演歌のバラード、F♯ マイナー。") == 12
    assert count_words("🎸 riff at 1:23") == 3
    assert count_words("Raag यमन कल्याण") == 3


def test_only_think_and_answer_text_are_counted() -> None:
    score = score_hallucination(
        "<think>one two</think><answer>three</answer>", [{"id": 1, "flags": []}]
    )
    assert score.details["words"] == 3


def test_the_trl_wrapper_reads_the_reviews_column() -> None:
    reviews = [[{"id": 1, "flags": [flag(1, "critical")]}], [], None]
    rows = hallucination_reward(
        [output(50, 50), [{"role": "assistant", "content": output(50, 50)}], "x"],
        reviews=reviews,
        prompts=["p"] * 3,
    )
    assert rows == [-1.0, None, None]
    assert hallucination_reward.__name__ == "hallucination_penalty"
