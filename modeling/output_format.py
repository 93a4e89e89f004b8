"""The shape of Music Flamingo's thinking-mode output: ``<think>…</think><answer>…</answer>``.

One definition for the generation parser and the format reward to share, so both agree on what
"well-formed" means.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_STRICT = re.compile(
    r"^\s*<think>(?P<think>.*?)</think>\s*<answer>(?P<answer>.*?)</answer>\s*$", re.S
)
_THINK = re.compile(r"<think>(?P<think>.*?)(?:</think>|$)", re.S)
_ANSWER = re.compile(r"<answer>(?P<answer>.*?)(?:</answer>|$)", re.S)


@dataclass(frozen=True)
class SplitOutput:
    think: str
    answer: str
    well_formed: bool


def split_output(raw: str) -> SplitOutput:
    """Split raw model text into reasoning and answer.

    Well-formed output is exactly one think block followed by one answer block. Anything else is
    still split as far as possible (an unclosed tag runs to the end of the text); text with no tags
    at all is all answer, as the instruct model writes it.

    >>> split_output("<think>120 BPM, 4/4.</think><answer>A rock groove.</answer>")
    SplitOutput(think='120 BPM, 4/4.', answer='A rock groove.', well_formed=True)
    >>> split_output("A plain caption.")
    SplitOutput(think='', answer='A plain caption.', well_formed=False)
    """
    strict = _STRICT.match(raw)
    if strict and "<think>" not in strict["answer"] and "<answer>" not in strict["think"]:
        return SplitOutput(strict["think"].strip(), strict["answer"].strip(), True)
    think = _THINK.search(raw)
    answer = _ANSWER.search(raw)
    if think is None and answer is None:
        return SplitOutput("", raw.strip(), False)
    return SplitOutput(
        think["think"].strip() if think else "",
        answer["answer"].strip() if answer else "",
        False,
    )
