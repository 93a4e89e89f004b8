"""``structured_thinking`` v1 (paper): the share of ground-truth metadata categories the caption gets
right, with music-aware partial credit (``modeling.rewards.music``).

The paper's categories are Genre, BPM, Key, Meter, Structure, Instruments, Vocal Character, Lyric
Themes, Theory, Mix Notes and Dynamics. The workbench adds Languages and Culture, the two other
fields experts verify on the review page. A category counts only when its gold value is present.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from modeling.claims import extract_claims
from modeling.output_format import split_output
from modeling.parsing import locate_parts, split_sections
from modeling.rewards import RewardFunction, Score, completion_text, trl_column
from modeling.rewards.music import (
    BOUNDARY_WINDOW_S,
    boundary_f,
    boundary_hits,
    bpm_credit,
    canonical_set,
    key_credit,
    meter_credit,
)

DEFINITION = (
    "Mean over the metadata categories with ground truth (Genre, BPM, Key, Meter, Structure, "
    "Instruments, Vocal Character, Lyric Themes, Theory, Mix Notes, Dynamics; plus Languages and "
    "Culture) of the caption's credit: tempo 1 within 4 % (0.5 at half/double), MIREX weighted key "
    "score, exact metre, Jaccard overlap of genres/instruments/vocals/languages, section-boundary F "
    "at ±3 s, share of gold terms mentioned for the rest; none without ground truth."
)


@dataclass(frozen=True)
class Category:
    name: str  # as the paper (or the workbench, for its additions) names it
    field: str  # the metadata key holding the gold value
    kind: str  # how it is matched: tempo, key, meter, set, structure or mention
    source: str  # "paper" or "workbench"


CATEGORIES: tuple[Category, ...] = (
    Category("Genre", "genres", "set", "paper"),
    Category("BPM", "tempo_bpm", "tempo", "paper"),
    Category("Key", "key", "key", "paper"),
    Category("Meter", "meter", "meter", "paper"),
    Category("Structure", "sections", "structure", "paper"),
    Category("Instruments", "instruments", "set", "paper"),
    Category("Vocal Character", "vocals", "set", "paper"),
    Category("Lyric Themes", "lyric_themes", "mention", "paper"),
    Category("Theory", "theory", "mention", "paper"),
    Category("Mix Notes", "mix_notes", "mention", "paper"),
    Category("Dynamics", "dynamics", "mention", "paper"),
    Category("Languages", "languages", "set", "workbench"),
    Category("Culture", "culture", "mention", "workbench"),
)


def answer_claims(completion: str) -> dict[str, Any]:
    """What the answer part claims, computed exactly as ``parse_generation(raw)["claims"]`` is
    (section headings such as "Vocals:" are not claims), for callers without a stored parse.

    >>> answer_claims("<think>…</think><answer>A sitar raga in C# minor at 60 BPM.</answer>")["tempo_bpm"]["value"]
    60.0
    """
    parts = locate_parts(completion)
    headings = [
        (s["heading_start"], s["heading_end"])
        for s in split_sections(completion, parts.answer)
        if s["heading"]
    ]
    return extract_claims(completion, parts.answer, "answer", headings)


# --- gold values ---------------------------------------------------------------------------------


def _terms(value: Any) -> list[str]:
    """A gold list (or a single string) as its non-empty terms."""
    items = [value] if isinstance(value, str) else list(value or [])
    return [str(item).strip() for item in items if str(item).strip()]


def _tempo(value: Any) -> float | None:
    try:
        tempo = float(value)
    except (TypeError, ValueError):
        return None
    return tempo if math.isfinite(tempo) and tempo > 0 else None


def _section_starts(value: Any) -> list[float]:
    starts: list[float] = []
    for section in value or []:
        start: Any = section.get("start") if isinstance(section, Mapping) else section
        try:
            starts.append(float(start))
        except (TypeError, ValueError):
            continue
    return sorted(set(starts))


def _gold(category: Category, value: Any) -> Any:
    """The gold value in the form its matcher takes, or ``None`` when absent or empty."""
    if value is None:
        return None
    if category.kind == "tempo":
        return _tempo(value)
    if category.kind in ("key", "meter"):
        return str(value).strip() or None
    if category.kind == "structure":
        return _section_starts(value) or None
    return _terms(value) or None


# --- claimed values ------------------------------------------------------------------------------


def _claimed(category: Category, claims: Mapping[str, Any]) -> Any:
    if category.kind == "tempo":
        tempo = claims.get("tempo_bpm")
        return float(tempo["value"]) if tempo else None
    if category.kind == "key":
        key = claims.get("key")
        if not key:
            return None
        return f"{key['tonic']} {key['mode']}" if key.get("mode") else str(key["tonic"])
    if category.kind == "meter":
        meter = claims.get("meter")
        return str(meter["value"]) if meter else None
    if category.kind == "structure":
        return sorted({float(s["start_seconds"]) for s in claims.get("sections") or []})
    if category.kind == "set":
        return [str(c["value"]) for c in claims.get(category.field) or []]
    return None  # mentions are looked for in the caption itself


# --- matching ------------------------------------------------------------------------------------


def _fold(text: str) -> str:
    """Text for term matching: compatibility forms, no accents ("ālāp" is "alap"), ♯/♭ as #/b,
    casefolded, and every run of non-word characters one space."""
    if not text.isascii():  # ASCII has no compatibility forms, accents, ♯ or ♭: skip the walk
        text = unicodedata.normalize("NFKD", text.replace("♯", "#").replace("♭", "b"))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return " ".join(re.sub(r"[^\w#]+", " ", text.casefold()).split())


def mentions(caption: str, term: str) -> bool:
    """Whether ``caption`` mentions ``term`` as whole words (a plural ``s``/``es`` allowed),
    ignoring case, accents, punctuation and hyphens.

    >>> mentions("A slow ālāp, then a crescendo-laden jhala.", "alap"), mentions("Crescendos.", "crescendo")
    (True, True)
    >>> mentions("Heartbreaking.", "heartbreak")
    False
    """
    folded = _fold(term)
    if not folded:
        return False
    # Scripts written without spaces (Chinese, Japanese) have no word boundaries to require.
    before = "" if _UNSPACED.match(folded[0]) else r"(?<!\w)"
    after = "" if _UNSPACED.match(folded[-1]) else r"(?:e?s)?(?!\w)"
    return re.search(before + re.escape(folded) + after, _fold(caption)) is not None


_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


_KEY_WHY = {1.0: "same key", 0.5: "a fifth away", 0.3: "relative key", 0.2: "parallel key"}


def _list_note(label: str, items: set[str] | list[str]) -> str:
    shown = sorted(items)[:5]
    more = f" +{len(items) - 5}" if len(items) > 5 else ""
    return f"{label} {', '.join(shown)}{more}" if shown else ""


def _match(category: Category, gold: Any, claimed: Any, caption: str) -> tuple[float, str, Any]:
    """(credit, why, claimed value as shown) for one category."""
    kind = category.kind
    if kind == "mention":
        found = [term for term in gold if mentions(caption, term)]
        credit = len(found) / len(gold)
        missing = [term for term in gold if term not in found]
        why = f"mentions {len(found)} of {len(gold)}; " + _list_note("missing", missing)
        return credit, why.rstrip("; "), found
    if kind == "set":
        kind_name = category.field
        g, c = canonical_set(gold, kind_name), canonical_set(claimed, kind_name)
        union = g | c
        if not union:
            return 1.0, "none, as the gold says", []
        notes = [
            f"{len(g & c)} shared of {len(union)}",
            _list_note("missing", g - c),
            _list_note("extra", c - g),
        ]
        return len(g & c) / len(union), "; ".join(n for n in notes if n), sorted(c)
    if claimed is None or claimed == []:
        return 0.0, f"no {category.name.lower()} claimed", claimed
    if kind == "tempo":
        credit = bpm_credit(claimed, gold)
        why = {1.0: "within 4 %", 0.5: "half or double the tempo"}.get(
            credit, "off by more than 4 %"
        )
        return credit, why, claimed
    if kind == "key":
        credit = key_credit(claimed, gold)
        return credit, _KEY_WHY.get(credit, "unrelated key"), claimed
    if kind == "meter":
        credit = meter_credit(claimed, gold)
        return credit, "same metre" if credit else "different metre", claimed
    hits = boundary_hits(gold, claimed, BOUNDARY_WINDOW_S)
    why = f"{hits} of {len(gold)} boundaries hit within ±{BOUNDARY_WINDOW_S:g} s by {len(claimed)} claimed"
    return boundary_f(gold, claimed), why, claimed


def score_structured_thinking(
    completion: str, metadata: Mapping[str, Any], claims: Mapping[str, Any] | None = None
) -> Score:
    """Mean credit over the categories whose gold value is present in ``metadata``.

    The caption is the answer part (the whole text without tags). ``claims`` is the stored
    ``parse_generation(raw)["claims"]``; without it the claims are computed the same way
    (``answer_claims``). A category matches when its credit is at least 0.5. ``None`` when
    ``metadata`` has no gold value for any category.

    >>> score = score_structured_thinking(
    ...     "<think>Snare on 2 and 4.</think><answer>A synth-pop song in A minor at 118 BPM, "
    ...     "with drum machine, synth bass and a breathy female vocal.</answer>",
    ...     {"tempo_bpm": 120, "key": "C major", "genres": ["synthpop"],
    ...      "instruments": ["drum machine", "synth bass", "piano"]})
    >>> round(score.value, 3), score.details["matched"], score.details["unmatched"]  # (1+1+.3+2/3)/4
    (0.742, ['Genre', 'BPM', 'Instruments'], ['Key'])
    >>> [(c["name"], c["credit"], c["why"]) for c in score.details["categories"]][1:3]
    [('BPM', 1.0, 'within 4 %'), ('Key', 0.3, 'relative key')]
    """
    caption = split_output(completion).answer
    if claims is None:
        claims = answer_claims(completion)
    rows = []
    for category in CATEGORIES:
        gold = _gold(category, metadata.get(category.field))
        if gold is None:
            continue
        credit, why, shown = _match(category, gold, _claimed(category, claims), caption)
        rows.append(
            {"name": category.name, "gold": gold, "claimed": shown, "credit": credit, "why": why}
        )
    details = {
        "categories": rows,
        "matched": [r["name"] for r in rows if r["credit"] >= 0.5],
        "unmatched": [r["name"] for r in rows if r["credit"] < 0.5],
    }
    value = sum(r["credit"] for r in rows) / len(rows) if rows else None
    return Score(value, details)


def structured_thinking_reward(
    completions: list[Any], metadata: list[Mapping[str, Any] | None] | None = None, **kwargs: Any
) -> list[float | None]:
    """TRL reward function over the dataset's ``metadata`` column (one dict of gold values per
    row; ``None`` for rows without ground truth, such as question-answer rows).

    >>> structured_thinking_reward(["<answer>Waltz in 3/4.</answer>", "x"], metadata=[{"meter": "3/4"}, None])
    [1.0, None]
    """
    rows = trl_column({"metadata": metadata}, "metadata", len(completions))
    return [
        score_structured_thinking(completion_text(c), m).value if m else None
        for c, m in zip(completions, rows, strict=True)
    ]


structured_thinking_reward.__name__ = "structured_thinking"

STRUCTURED_THINKING: RewardFunction = RewardFunction(
    name="structured_thinking",
    version=1,
    source="paper",
    definition=DEFINITION,
    score=score_structured_thinking,
    trl=structured_thinking_reward,
)
