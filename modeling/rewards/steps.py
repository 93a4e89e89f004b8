"""``step_validity`` v1 (workbench): the share of reasoning steps the experts judged correct."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from modeling.rewards import RewardFunction, Score, completion_text, trl_column

GRADES = ("correct", "incorrect", "unverifiable")

DEFINITION = (
    "Mean over reviews that graded at least one verifiable step of correct / (correct + "
    "incorrect) steps (unverifiable steps excluded); none when no review graded one."
)


def score_step_validity(completion: str, reviews: Sequence[Mapping[str, Any]]) -> Score:
    """The experts' mean share of correct steps among those they could verify.

    Each review's ``step_grades`` maps a step number ("1", "2"…, as the parser numbers the steps of
    ``completion``) to "correct", "incorrect" or "unverifiable". Unverifiable steps are left out,
    so a review that could verify nothing does not count. ``details["steps"]`` tallies each step's
    grades over all reviews, for the breakdown page. The completion itself is not read: the grades
    already refer to its steps.

    >>> score = score_step_validity("<think>Step 1: … Step 2: … Step 3: …</think><answer>…</answer>", [
    ...     {"id": 4, "step_grades": {"1": "correct", "2": "incorrect", "3": "unverifiable"}},
    ...     {"id": 5, "step_grades": {"1": "correct", "2": "correct"}},
    ...     {"id": 6, "step_grades": {"3": "unverifiable"}}])
    >>> score.value  # (1/2 + 2/2) / 2; review 6 verified nothing
    0.75
    >>> score.details["steps"]["2"]
    {'correct': 1, 'incorrect': 1, 'unverifiable': 0}
    """
    steps: dict[str, dict[str, int]] = {}
    per_review = []
    for review in reviews:
        counts = dict.fromkeys(GRADES, 0)
        for step, grade in (review.get("step_grades") or {}).items():
            if grade not in counts:
                raise ValueError(
                    f"step {step} of review {review.get('id')} is graded {grade!r}; "
                    f"expected one of {', '.join(GRADES)}"
                )
            counts[grade] += 1
            steps.setdefault(str(step), dict.fromkeys(GRADES, 0))[grade] += 1
        verified = counts["correct"] + counts["incorrect"]
        share = counts["correct"] / verified if verified else None
        per_review.append({"review": review.get("id"), **counts, "share": share})
    shares = [r["share"] for r in per_review if r["share"] is not None]
    ordered = dict(sorted(steps.items(), key=lambda item: _step_order(item[0])))
    value = sum(shares) / len(shares) if shares else None
    return Score(value, {"steps": ordered, "per_review": per_review})


def _step_order(step: str) -> tuple[int, str]:
    return (int(step), "") if step.isdigit() else (10**9, step)


def step_validity_reward(
    completions: list[Any],
    reviews: list[Sequence[Mapping[str, Any]] | None] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function over the dataset's ``reviews`` column (each row: that generation's
    reviews with their ``step_grades``).

    >>> step_validity_reward(["<think>Step 1…</think>", "x"],
    ...     reviews=[[{"id": 1, "step_grades": {"1": "incorrect"}}], []])
    [0.0, None]
    """
    rows = trl_column({"reviews": reviews}, "reviews", len(completions))
    return [
        score_step_validity(completion_text(c), r or []).value
        for c, r in zip(completions, rows, strict=True)
    ]


step_validity_reward.__name__ = "step_validity"

STEP_VALIDITY: RewardFunction = RewardFunction(
    name="step_validity",
    version=1,
    source="workbench",
    definition=DEFINITION,
    score=score_step_validity,
    trl=step_validity_reward,
)
