"""Step validity: the experts' share of verifiable reasoning steps judged correct."""

from __future__ import annotations

import json

import pytest

from modeling.rewards.steps import score_step_validity, step_validity_reward

RAW = "<think>Step 1: snare on 2 and 4. Step 2: 140 BPM. Step 3: C major.</think><answer>Rock.</answer>"


def test_a_single_review_gives_its_share_of_correct_steps() -> None:
    score = score_step_validity(
        RAW, [{"id": 1, "step_grades": {"1": "correct", "2": "incorrect", "3": "correct"}}]
    )
    assert score.value == pytest.approx(2 / 3)


def test_unverifiable_steps_are_left_out() -> None:
    score = score_step_validity(
        RAW, [{"id": 1, "step_grades": {"1": "correct", "2": "unverifiable", "3": "unverifiable"}}]
    )
    assert score.value == 1.0


def test_reviews_are_averaged_and_those_verifying_nothing_are_skipped() -> None:
    score = score_step_validity(
        RAW,
        [
            {"id": 1, "step_grades": {"1": "correct", "2": "incorrect"}},
            {"id": 2, "step_grades": {"1": "incorrect", "2": "incorrect", "3": "incorrect"}},
            {"id": 3, "step_grades": {"1": "unverifiable"}},
            {"id": 4, "step_grades": {}},
        ],
    )
    assert score.value == pytest.approx(0.25)
    assert [r["share"] for r in score.details["per_review"]] == [0.5, 0.0, None, None]


@pytest.mark.parametrize(
    "reviews",
    [
        [],
        [{"id": 1, "step_grades": {}}],
        [{"id": 1, "step_grades": {"1": "unverifiable"}}],
        [{"id": 1}],
    ],
)
def test_it_is_none_when_no_review_verified_a_step(reviews: list) -> None:
    assert score_step_validity(RAW, reviews).value is None


def test_step_tallies_are_per_step_over_reviews_in_step_order() -> None:
    score = score_step_validity(
        RAW,
        [
            {"id": 1, "step_grades": {"10": "correct", "2": "incorrect", "1": "correct"}},
            {"id": 2, "step_grades": {"2": "unverifiable"}},
        ],
    )
    assert list(score.details["steps"]) == ["1", "2", "10"]
    assert score.details["steps"]["2"] == {"correct": 0, "incorrect": 1, "unverifiable": 1}
    json.dumps(score.details)


def test_an_unknown_grade_is_an_error() -> None:
    with pytest.raises(ValueError, match="'maybe'"):
        score_step_validity(RAW, [{"id": 1, "step_grades": {"1": "maybe"}}])


def test_the_trl_wrapper_reads_the_reviews_column() -> None:
    rows = step_validity_reward(
        [RAW, [{"role": "assistant", "content": RAW}], RAW],
        reviews=[
            [{"id": 1, "step_grades": {"1": "correct"}}],
            [{"id": 2, "step_grades": {"1": "incorrect"}}],
            None,
        ],
        trainer_state=None,
    )
    assert rows == [1.0, 0.0, None]
    assert step_validity_reward.__name__ == "step_validity"
