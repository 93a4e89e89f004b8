"""``accuracy`` v1 (paper): the normalised text inside ``<answer>`` equals the normalised gold answer.

The paper publishes no normalisation; ours is ``normalise_answer`` below. For multiple choice the
option letter or the option text counts, and a letter that contradicts its own text does not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from modeling.output_format import split_output
from modeling.rewards import RewardFunction, Score, completion_text, trl_column

DEFINITION = (
    "1 if the normalised <answer> text (NFKC, casefold, ♯/♭ as #/b, no markdown, surrounding "
    "punctuation, 'the answer is' or articles, 120.0 = 120) equals the normalised gold answer, or "
    "for multiple choice names the gold option by letter or text without contradicting it; else 0; "
    "none without a gold answer."
)

_MARKDOWN = re.compile(r"[*`]+|(?<!\w)_+|_+(?!\w)")
_LEAD_IN = re.compile(
    r"^(?:so,?\s+)?(?:the\s+|my\s+)?(?:final\s+|correct\s+)?answer\s*(?:is\b|:|-)\s*:?\s*"
)
_QUOTES = " \t\n\"'“”‘’«»„‚「」『』"
_PUNCTUATION = _QUOTES + ".,;:!?()[]{}<>"
_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")
# "a" before these words is the note A ("A minor", "a flat major"), not an article.
_AFTER_NOTE_A = frozenset(
    {"major", "minor", "maj", "min", "m", "flat", "sharp", "#", "b", "string"}
    | {"dorian", "phrygian", "lydian", "mixolydian", "aeolian", "locrian", "ionian"}
)


def _light(text: str) -> str:
    """Case, Unicode, whitespace, markdown and a lead-in phrase normalised; punctuation kept (the
    letter of "(B)" or "B." is read from it)."""
    text = unicodedata.normalize("NFKC", text).replace("♯", "#").replace("♭", "b")
    text = _MARKDOWN.sub("", " ".join(text.casefold().split()))
    return _LEAD_IN.sub("", text.strip(_QUOTES)).strip(_QUOTES)


def normalise_answer(text: str) -> str:
    """The comparable form of an answer.

    NFKC (full-width letters become ASCII), ♯/♭ as #/b, casefold, whitespace collapsed, markdown
    emphasis dropped, a leading "the answer is"/"answer:" dropped, surrounding quotes and
    punctuation (a trailing period included) stripped, the articles a/an/the dropped (but not the
    note "A" in "A minor"), and decimals without trailing zeros ("120.0" is "120").

    >>> normalise_answer("**The answer is: F♯ Minor.**")
    'f# minor'
    >>> normalise_answer("“The Sitar”"), normalise_answer("１２０.0 BPM"), normalise_answer("A minor")
    ('sitar', '120 bpm', 'a minor')
    """
    text = _light(text).strip(_PUNCTUATION)
    words = text.split(" ")
    kept = [
        word
        for i, word in enumerate(words)
        if word not in {"a", "an", "the"}
        or len(words) == 1
        or (word == "a" and i + 1 < len(words) and words[i + 1] in _AFTER_NOTE_A)
    ]
    text = " ".join(kept).strip(_PUNCTUATION)
    return _DECIMAL.sub(_decimal, text)


def _decimal(match: re.Match[str]) -> str:
    fraction = match[2].rstrip("0")
    return f"{match[1]}.{fraction}" if fraction else match[1]


_OPTION_LABEL = re.compile(r"^[(\[]?([a-z])[)\].:]\s*(\S.*)$")
_LETTER_ONLY = re.compile(r"^(?:(?:option|choice)\s*)?[(\[]?([a-z])[)\].:]?$")
_LETTER_AND_TEXT = re.compile(
    r"^(?:(?:option|choice)\s*)?[(\[]?([a-z])(?:[)\].:]|\s+[-–—])\s*(\S.*)$"
    r"|^(?:option|choice)\s+([a-z])\s+(\S.*)$"
)


def _options(options: Sequence[str]) -> dict[str, str]:
    """Letter → normalised option text; labelled options ("B) sarod") keep their letters, else
    options are lettered a, b, c… in order."""
    lights = [_light(option) for option in options]
    labelled = [_OPTION_LABEL.match(light) for light in lights]
    if lights and all(labelled):
        return {m[1]: normalise_answer(m[2]) for m in labelled if m is not None}
    return {chr(ord("a") + i): normalise_answer(o) for i, o in enumerate(options)}


def _choice(text: str, options: dict[str, str]) -> tuple[str | None, str | None]:
    """What an answer says: (letter, None), (None, letter by text), (letter, text) or nothing.

    Returns ``(letter named, option letter its text names)``; a text that names no option gives
    ``"?"`` as the second item so a letter with foreign text never counts.
    """
    normal = normalise_answer(text)
    by_text = next((letter for letter, option in options.items() if option == normal), None)
    if by_text is not None:
        return None, by_text
    light = _light(text).rstrip(".")
    only = _LETTER_ONLY.match(light)
    if only and only[1] in options:
        return only[1], None
    both = _LETTER_AND_TEXT.match(light)
    if both:
        letter, rest = (both[1], both[2]) if both[1] else (both[3], both[4])
        if letter in options:
            named = normalise_answer(rest)
            return letter, next((k for k, o in options.items() if o == named), "?")
    return None, None


def gold_answer_text(value: Any) -> str:
    """An agreed metadata value as the gold answer text ``score_accuracy`` compares: the rewards
    service scores with it and dataset snapshots write it into their GRPO rows, so both agree.

    >>> gold_answer_text(["tabla", "sitar"]), gold_answer_text(120.0), gold_answer_text(7)
    ('tabla, sitar', '120', '7')
    """
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def score_accuracy(
    completion: str, answer: str | None, options: Sequence[str] | None = None
) -> Score:
    """1.0 when the answer block matches the gold answer after ``normalise_answer``, else 0.0.

    The answer is the ``<answer>`` block (the whole text when there are no tags). With ``options``
    the gold may be a letter or an option's text, and a prediction counts when it gives the right
    letter ("B", "(B)", "Option B", "B. sarod") or the right option's text; a letter whose text names
    another option ("B. sitar" when B is sarod) is a contradiction and scores 0. ``None`` when
    there is no gold answer.

    >>> score_accuracy("<think>Sympathetic strings, no frets.</think><answer>(B)</answer>",
    ...                "sarod", ["sitar", "sarod", "veena"])
    Score(value=1.0, details={'predicted': 'b', 'gold': 'sarod', 'matched_by': 'letter'})
    >>> score_accuracy("<think>…</think><answer>B. sitar</answer>", "B", ["sitar", "sarod"]).value
    0.0
    >>> score_accuracy("<answer>The key is F♯ minor</answer>", "F# minor").value
    0.0
    >>> score_accuracy("<answer>F♯ minor.</answer>", "f# minor").value
    1.0
    """
    if answer is None or not str(answer).strip():
        return Score(None, {"predicted": None, "gold": None, "matched_by": None})
    split = split_output(completion)
    text = split.answer if (split.answer or split.think) else completion
    predicted, gold = normalise_answer(text), normalise_answer(str(answer))
    matched_by: str | None = None
    lettered = _options(options) if options else {}
    gold_letter: str | None = None
    if lettered:
        letter, by_text = _choice(str(answer), lettered)
        gold_letter = by_text if by_text not in (None, "?") else letter
    if gold_letter is not None:
        letter, by_text = _choice(text, lettered)
        if letter is None and by_text == gold_letter:
            matched_by = "text"
        elif letter == gold_letter and by_text in (None, gold_letter):
            matched_by = "letter"
    elif predicted == gold:
        matched_by = "text"
    details = {"predicted": predicted, "gold": gold, "matched_by": matched_by}
    return Score(1.0 if matched_by else 0.0, details)


def accuracy_reward(
    completions: list[Any],
    answer: list[str | None] | None = None,
    options: list[Sequence[str] | None] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function over the dataset's ``answer`` (and optional ``options``) columns.

    >>> accuracy_reward(["<answer>120.0</answer>", "<answer>90</answer>"], answer=["120", None])
    [1.0, None]
    """
    columns = {"answer": answer, "options": options}
    answers = trl_column(columns, "answer", len(completions))
    choices = trl_column(columns, "options", len(completions))
    return [
        score_accuracy(completion_text(c), a, o).value
        for c, a, o in zip(completions, answers, choices, strict=True)
    ]


accuracy_reward.__name__ = "accuracy"

ACCURACY: RewardFunction = RewardFunction(
    name="accuracy",
    version=1,
    source="paper",
    definition=DEFINITION,
    score=score_accuracy,
    trl=accuracy_reward,
)
