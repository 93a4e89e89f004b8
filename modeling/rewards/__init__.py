"""Reward functions: the paper's three (format, accuracy, structured thinking) and the workbench's own.

Each reward is a ``RewardFunction``: a stable ``name``, a ``version`` bumped whenever the definition
changes, a one-line ``definition``, a single-item ``score`` that explains itself (``Score.details``),
and a ``trl`` wrapper with TRL's reward-function signature, so ``GRPOTrainer(reward_funcs=[...])``
calls it unchanged:

>>> list(REWARDS)
['format', 'accuracy', 'structured_thinking', 'hallucination_penalty', 'step_validity', 'preference']
>>> reward_function("format").trl(["<think>4/4.</think><answer>A march.</answer>", "A march."])
[1.0, 0.0]

Plain Python with no Django import, like the rest of ``modeling``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Score:
    """One reward for one item: ``value`` is ``None`` when the reward does not apply (no gold answer,
    no reviews), which TRL treats as missing; ``details`` is the small JSON-serialisable "why"."""

    value: float | None
    details: dict[str, Any]


@dataclass(frozen=True)
class RewardFunction:
    name: str
    version: int
    source: str  # "paper" or "workbench"
    definition: str
    score: Callable[..., Score | dict[str, Score]]  # {member: Score} for the group-level preference
    trl: Callable[..., list[float | None]]


def completion_text(completion: str | Sequence[Any]) -> str:
    """The text of one TRL completion: a plain string, or conversational messages.

    TRL passes ``[{"role": "assistant", "content": ...}]`` for conversational datasets, where the
    content is a string or a list of ``{"type": "text", "text": ...}`` parts; the assistant's
    messages are joined (every message when none is marked as the assistant's).

    >>> completion_text("<answer>B</answer>")
    '<answer>B</answer>'
    >>> completion_text([{"role": "assistant", "content": [{"type": "text", "text": "<answer>B</answer>"}]}])
    '<answer>B</answer>'
    """
    if isinstance(completion, str):
        return completion
    messages = [m for m in completion if isinstance(m, dict)]
    spoken = [m for m in messages if m.get("role") == "assistant"] or messages
    return "\n".join(_content_text(m.get("content")) for m in spoken)


def _content_text(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(
        str(part.get("text") or "")
        for part in content
        if isinstance(part, dict) and part.get("type", "text") == "text"
    )


def trl_column(kwargs: dict[str, Any], name: str, rows: int) -> list[Any]:
    """A dataset column as TRL passes it (a list aligned with the completions), or ``None`` per row
    when the dataset has no such column.

    >>> trl_column({"answer": ["B", "C"]}, "answer", 2), trl_column({}, "answer", 2)
    (['B', 'C'], [None, None])
    """
    column = kwargs.get(name)
    if column is None:
        return [None] * rows
    column = list(column)
    if len(column) != rows:
        raise ValueError(f"column {name!r} has {len(column)} rows for {rows} completions")
    return column


# The submodules import the types above from this package, so they load after them; the registry
# then lists them in the order the pages show them.
from modeling.rewards import accuracy as _accuracy  # noqa: E402
from modeling.rewards import format as _format  # noqa: E402
from modeling.rewards import hallucination as _hallucination  # noqa: E402
from modeling.rewards import preference as _preference  # noqa: E402
from modeling.rewards import steps as _steps  # noqa: E402
from modeling.rewards import structured_thinking as _structured_thinking  # noqa: E402

REWARDS: dict[str, RewardFunction] = {
    reward.name: reward
    for reward in (
        _format.FORMAT,
        _accuracy.ACCURACY,
        _structured_thinking.STRUCTURED_THINKING,
        _hallucination.HALLUCINATION_PENALTY,
        _steps.STEP_VALIDITY,
        _preference.PREFERENCE,
    )
}


def reward_function(name: str) -> RewardFunction:
    """The registered reward called ``name``.

    >>> reward_function("accuracy").version
    1
    >>> reward_function("fluency")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    KeyError: "no reward function 'fluency'; known: format, accuracy..."
    """
    try:
        return REWARDS[name]
    except KeyError:
        raise KeyError(f"no reward function {name!r}; known: {', '.join(REWARDS)}") from None


__all__ = ["REWARDS", "RewardFunction", "Score", "completion_text", "reward_function", "trl_column"]
