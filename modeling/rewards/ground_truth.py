"""Ground truth for the structured-thinking and accuracy rewards: what the experts verified about a
song, reduced to one agreed value per field, with a record of whether they agreed.

Every review of any output for a song may verify the song's metadata (tempo, key, metre, genres,
instruments, vocals, languages, culture). A value counts when the expert confirmed or corrected
it ("unsure" never counts). A field's value is what a strict majority of those experts gave;
otherwise the field has no ground truth and the disagreement is recorded.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modeling.rewards.music import TEMPO_TOLERANCE, parse_key

COUNTED_STATUSES = frozenset({"confirmed", "corrected"})


@dataclass(frozen=True)
class Agreement:
    """How the experts' verified values for one field agree (JSON-friendly via ``asdict``).

    ``status`` is "unanimous" (two or more experts, all agreeing), "majority" (more than half),
    "single" (one expert), "no_agreement" (a tie or no majority: ``value`` is ``None``) or "none"
    (nobody confirmed or corrected a value). ``supporters`` are the reviews that gave the agreed
    value and ``dissenters`` the others (every review, when there is no agreement).
    """

    field: str
    value: Any | None
    status: str
    supporters: list[int]
    dissenters: list[int]


def _text(value: Any) -> str:
    return " ".join(str(value).casefold().split())


def _identity(field: str, value: Any) -> Hashable:
    """What two verified values must share to be the same answer for ``field``."""
    if isinstance(value, list | tuple | set | frozenset):
        return ("set", frozenset(_text(v) for v in value if _text(v)))
    if field == "key":
        key = parse_key(str(value))
        return ("key", key) if key is not None else ("text", _text(value))
    if field == "meter":
        return ("meter", str(value).replace(" ", ""))
    if isinstance(value, bool | int | float):
        return ("number", float(value))
    return ("text", _text(value))


def _tempo(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        tempo = float(value)
    except (TypeError, ValueError):
        return None
    return tempo if math.isfinite(tempo) else None


def _same(field: str, value: Any, candidate: Any) -> bool:
    if field == "tempo_bpm":
        a, c = _tempo(value), _tempo(candidate)
        if a is not None and c is not None:
            return abs(a - c) <= TEMPO_TOLERANCE * abs(c)
    return _identity(field, value) == _identity(field, candidate)


def _empty(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | tuple | set | frozenset):
        return not any(str(v).strip() for v in value)
    return False


def _best_support(field: str, given: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """The supporters of the first value (in ``given`` order) that the most values are the same
    answer as (``_same``), in ``given`` order.

    Each value's identity is computed once: outside tempo, ``_same`` is equality of identities, so
    support is a count per identity (linear, not pairwise); tempos are compared pairwise as floats.
    """
    identities = [_identity(field, v) for _, v in given]
    if field != "tempo_bpm":
        counts = Counter(identities)
        top = max(counts[i] for i in identities)
        winner = next(i for i in identities if counts[i] == top)  # the first candidate to reach it
        return [pair for pair, i in zip(given, identities, strict=True) if i == winner]
    tempos = [_tempo(v) for _, v in given]
    best: list[tuple[int, Any]] = []

    def same(k: int, c: int) -> bool:
        a, b = tempos[k], tempos[c]
        if a is None or b is None:
            return identities[k] == identities[c]
        return abs(a - b) <= TEMPO_TOLERANCE * abs(b)

    for c in range(len(given)):
        support = [pair for k, pair in enumerate(given) if same(k, c)]
        if len(support) > len(best):
            best = support
    return best


def agree(field: str, verifications: Sequence[tuple[int, Any]]) -> Agreement:
    """The agreed value of ``field`` among ``(review_id, value)`` pairs the experts confirmed or
    corrected (the caller leaves out "unsure"; empty values say nothing and are skipped).

    Values are the same answer when: tempos are within 4 % of each other (the agreed tempo is the
    median of its supporters), keys have the same pitch class and mode (F♯ minor = G♭ minor),
    metres are equal, lists hold the same items ignoring case and order, and texts are equal
    ignoring case and spacing. The answer given by more than half of the experts wins, as the first
    of its supporters wrote it.

    >>> agree("tempo_bpm", [(1, 120.0), (2, 122.0), (3, 92.0)])
    Agreement(field='tempo_bpm', value=121.0, status='majority', supporters=[1, 2], dissenters=[3])
    >>> agree("key", [(1, "F# minor"), (2, "Gb minor")]).status
    'unanimous'
    >>> agree("key", [(1, "F# minor"), (2, "A major")])
    Agreement(field='key', value=None, status='no_agreement', supporters=[], dissenters=[1, 2])
    """
    given = [(review, value) for review, value in verifications if not _empty(value)]
    if not given:
        return Agreement(field, None, "none", [], [])
    best = _best_support(field, given)
    if 2 * len(best) <= len(given):
        return Agreement(field, None, "no_agreement", [], [r for r, _ in given])
    supporters = [r for r, _ in best]
    value = best[0][1]
    if field == "tempo_bpm" and all(_tempo(v) is not None for _, v in best):
        value = statistics.median(float(v) for _, v in best)
    if len(given) == 1:
        status = "single"
    elif len(best) == len(given):
        status = "unanimous"
    else:
        status = "majority"
    dissenters = [r for r, _ in given if r not in supporters]
    return Agreement(field, value, status, supporters, dissenters)


def ground_truth(
    verified: Sequence[tuple[int, Mapping[str, Any]]],
) -> tuple[dict[str, Any], dict[str, Agreement]]:
    """Metadata for ``score_structured_thinking`` (only the agreed fields) and the agreement on
    every field any review mentions, from ``(review_id, review.verified_metadata)`` pairs.

    ``verified_metadata`` is ``{field: {"value", "status", "source"}}``; only "confirmed" and
    "corrected" values count.

    >>> metadata, agreements = ground_truth([
    ...     (1, {"key": {"value": "A minor", "status": "confirmed", "source": "analysis"},
    ...          "tempo_bpm": {"value": 96.0, "status": "unsure", "source": "model"}}),
    ...     (2, {"key": {"value": "A minor", "status": "corrected", "source": "expert"}})])
    >>> metadata
    {'key': 'A minor'}
    >>> agreements["key"].status, agreements["tempo_bpm"].status
    ('unanimous', 'none')
    """
    by_field: dict[str, list[tuple[int, Any]]] = {}
    for review, fields in verified:
        for field, entry in (fields or {}).items():
            counted = by_field.setdefault(field, [])
            if isinstance(entry, Mapping) and entry.get("status") in COUNTED_STATUSES:
                counted.append((review, entry.get("value")))
    agreements = {field: agree(field, pairs) for field, pairs in by_field.items()}
    metadata = {field: a.value for field, a in agreements.items() if a.value is not None}
    return metadata, agreements


__all__ = ["COUNTED_STATUSES", "Agreement", "agree", "ground_truth"]
