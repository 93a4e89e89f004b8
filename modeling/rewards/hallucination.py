"""``hallucination_penalty`` v1 (workbench): the experts' error flags, weighted by severity and
normalised by the length of the output, as a penalty in [-1, 0]."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from modeling.output_format import split_output
from modeling.rewards import RewardFunction, Score, completion_text, trl_column

SEVERITY_WEIGHTS = {"minor": 1, "major": 3, "critical": 5}
MIN_WORDS = 100  # shorter outputs are scored as if 100 words long, so one flag is not magnified
FULL_PENALTY_DENSITY = 5.0  # weight per 100 words that costs the whole reward: a critical error
QUOTE_CHARS = 80

DEFINITION = (
    "−min(1, mean over reviews of Σ flag weights (minor 1, major 3, critical 5) per 100 words of "
    "think + answer (at least 100 words) / 5); 0 without flags, none without reviews."
)

# Chinese, Japanese and Korean characters are counted one word each, since those scripts do not
# space their words; otherwise a word is a whitespace-separated token with a letter or digit in it.
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_TOKEN_WITH_ALNUM = re.compile(r"[^\W_]\S*")


def count_words(text: str) -> int:
    """Words in ``text``, each CJK character counted as one.

    >>> count_words("A tabla enters at 4:40."), count_words("演歌のバラード"), count_words("Raag यमन कल्याण 🎸")
    (5, 7, 3)
    """
    # Two scans of the whole text rather than three per token: a CJK character splits its token
    # as a space would, and a token counts once from its first letter or digit ([^\W_] is
    # str.isalnum, \S is "not str.isspace", as str.split() uses).
    unspaced = len(_UNSPACED.findall(text))
    if unspaced:
        text = _UNSPACED.sub(" ", text)
    return unspaced + len(_TOKEN_WITH_ALNUM.findall(text))


def score_hallucination(completion: str, reviews: Sequence[Mapping[str, Any]]) -> Score:
    """Minus the experts' mean flag density, scaled so 5 weight points per 100 words is −1.

    Each review's density is the sum of its flags' severity weights (minor 1, major 3, critical 5)
    per 100 words of reasoning plus answer, counting at least 100 words; flags on the caption and on
    the reasoning count alike. A review without flags has density 0 and pulls the mean toward 0.
    A flag's ``cost`` is what it alone takes off the value (before the −1 floor). ``None`` when
    there are no reviews.

    >>> raw = "<think>" + "word " * 150 + "</think><answer>" + "word " * 50 + "</answer>"
    >>> score = score_hallucination(raw, [
    ...     {"id": 7, "flags": [{"id": 1, "severity": "critical", "target": "caption",
    ...                          "category": "invented-instrument", "quoted_text": "a sitar"},
    ...                         {"id": 2, "severity": "minor", "target": "reasoning",
    ...                          "category": "wrong-tempo-meter", "quoted_text": "140 BPM"}]},
    ...     {"id": 8, "flags": []}])
    >>> score.value  # densities (5+1)/2 and 0, mean 1.5, over 5
    -0.3
    >>> [(f["id"], f["cost"]) for f in score.details["flags"]]
    [(1, 0.25), (2, 0.05)]
    """
    if not reviews:
        return Score(None, {"words": None, "per_review": [], "flags": []})
    split = split_output(completion)
    words = count_words(split.think) + count_words(split.answer)
    hundreds = max(words, MIN_WORDS) / 100
    per_review, flags, densities = [], [], []
    for review in reviews:
        total = 0
        for flag in review.get("flags") or []:
            severity = flag.get("severity")
            if severity not in SEVERITY_WEIGHTS:
                raise ValueError(
                    f"flag {flag.get('id')} of review {review.get('id')} has severity "
                    f"{severity!r}; expected one of {', '.join(SEVERITY_WEIGHTS)}"
                )
            weight = SEVERITY_WEIGHTS[severity]
            total += weight
            cost = weight / hundreds / len(reviews) / FULL_PENALTY_DENSITY
            flags.append(
                {
                    "id": flag.get("id"),
                    "review": review.get("id"),
                    "severity": severity,
                    "category": flag.get("category"),
                    "quoted_text": str(flag.get("quoted_text") or "")[:QUOTE_CHARS],
                    "cost": round(cost, 6),
                }
            )
        densities.append(total / hundreds)
        per_review.append({"review": review.get("id"), "density": round(densities[-1], 6)})
    mean_density = sum(densities) / len(densities)
    value = -min(1.0, mean_density / FULL_PENALTY_DENSITY)
    # + 0.0 turns the −0.0 of an unflagged output into 0.0, which reads (and serialises) better.
    return Score(value + 0.0, {"words": words, "per_review": per_review, "flags": flags})


def hallucination_reward(
    completions: list[Any],
    reviews: list[Sequence[Mapping[str, Any]] | None] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function over the dataset's ``reviews`` column (each row: that generation's
    reviews with their flags; ``None`` or ``[]`` when unreviewed).

    >>> hallucination_reward(["<answer>A sitar.</answer>", "x"],
    ...     reviews=[[{"id": 1, "flags": [{"id": 3, "severity": "major"}]}], None])
    [-0.6, None]
    """
    rows = trl_column({"reviews": reviews}, "reviews", len(completions))
    return [
        score_hallucination(completion_text(c), r or []).value
        for c, r in zip(completions, rows, strict=True)
    ]


hallucination_reward.__name__ = "hallucination_penalty"

HALLUCINATION_PENALTY: RewardFunction = RewardFunction(
    name="hallucination_penalty",
    version=1,
    source="workbench",
    definition=DEFINITION,
    score=score_hallucination,
    trl=hallucination_reward,
)
