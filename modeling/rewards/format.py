"""``format`` v1 (paper): does the output follow ``<think>…</think><answer>…</answer>`` strictly?"""

from __future__ import annotations

from typing import Any

from modeling.parsing import locate_parts
from modeling.rewards import RewardFunction, Score, completion_text

DEFINITION = (
    "1 if the output is exactly one non-empty <think>…</think> followed by one non-empty "
    "<answer>…</answer> with only whitespace outside them, else 0."
)


def score_format(completion: str) -> Score:
    """1.0 for strictly formatted thinking-mode output, else 0.0.

    Uses the parser's own ``locate_parts``, so the reward and the review page always agree on what
    is well-formed; on top of that both blocks must hold text (an empty answer is no answer).
    ``problems`` lists the parser's problem codes, which say what broke the format.

    >>> score_format("<think>Snare on 2 and 4: 4/4.</think>\\n<answer>A rock groove.</answer>")
    Score(value=1.0, details={'well_formed': True, 'problems': []})
    >>> score_format("<think>Snare on 2 and 4.</think><answer> </answer>").value
    0.0
    >>> score_format("A rock groove.").details["problems"]
    ['no_tags']
    """
    parts = locate_parts(completion)
    non_empty = all(span is not None and span[0] < span[1] for span in (parts.think, parts.answer))
    return Score(
        1.0 if parts.well_formed and non_empty else 0.0,
        {"well_formed": parts.well_formed, "problems": [p["code"] for p in parts.problems]},
    )


def format_reward(completions: list[Any], **kwargs: Any) -> list[float | None]:
    """TRL reward function: ``score_format`` per completion; other columns are ignored.

    >>> format_reward([[{"role": "assistant", "content": "<think>x</think><answer>y</answer>"}]])
    [1.0]
    """
    return [score_format(completion_text(c)).value for c in completions]


format_reward.__name__ = "format"

FORMAT: RewardFunction = RewardFunction(
    name="format",
    version=1,
    source="paper",
    definition=DEFINITION,
    score=score_format,
    trl=format_reward,
)
