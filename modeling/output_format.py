"""The shape of Music Flamingo's thinking-mode output: ``<think>…</think><answer>…</answer>``.

One definition for the generation parser and the format reward to share, so both agree on what
"well-formed" means: ``split_output`` is a text-only view of ``modeling.parsing.locate_parts``.
"""

from __future__ import annotations

from dataclasses import dataclass

from modeling.parsing import locate_parts


@dataclass(frozen=True)
class SplitOutput:
    think: str
    answer: str
    well_formed: bool


def split_output(raw: str) -> SplitOutput:
    """Split raw model text into reasoning and answer.

    Well-formed output is exactly one think block followed by one answer block. Anything else is
    still split as far as possible (an unclosed tag runs to the end of the text, or to the next
    block); text with no tags at all is all answer, as the instruct model writes it.

    >>> split_output("<think>120 BPM, 4/4.</think><answer>A rock groove.</answer>")
    SplitOutput(think='120 BPM, 4/4.', answer='A rock groove.', well_formed=True)
    >>> split_output("A plain caption.")
    SplitOutput(think='', answer='A plain caption.', well_formed=False)
    """
    parts = locate_parts(raw)
    think = raw[parts.think[0] : parts.think[1]] if parts.think else ""
    answer = raw[parts.answer[0] : parts.answer[1]] if parts.answer else ""
    return SplitOutput(think, answer, parts.well_formed)
