"""``preference`` v1 (workbench): the experts' rankings of sibling outputs (the same prompt and
audio, several samples) turned into each sibling's expected win rate under a Bradley–Terry model."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

from modeling.rewards import RewardFunction, Score, trl_column

TOLERANCE = 1e-9
MAX_ITERATIONS = 1000
PRIOR_TIES = 1  # virtual ties of each member with a reference of strength 1

DEFINITION = (
    "Bradley–Terry strengths (MM algorithm, one virtual tie per sibling with a reference of "
    "strength 1) from the experts' rankings within the sibling group, ties as half wins; value = "
    "mean win probability against the other siblings × (1 − share of rankings saying all are "
    "wrong); none for an unranked sibling or a group of one."
)


def bradley_terry(
    members: Sequence[str],
    wins: Mapping[tuple[str, str], float],
    *,
    tolerance: float = TOLERANCE,
    max_iterations: int = MAX_ITERATIONS,
) -> dict[str, float]:
    """Bradley–Terry strengths by Hunter's (2004) MM algorithm with a weak prior.

    ``wins[(i, j)]`` is how often ``i`` beat ``j`` (a tie adds 0.5 each way). Each member also
    ties once with a fixed reference of strength 1, which keeps strengths finite when a member won
    or lost every comparison, pins the scale (no renormalising), and leaves a member without
    comparisons at exactly 1. All members are updated at once, in sorted order, so the result does
    not depend on the order they are given in. Stops when no strength moves by more than
    ``tolerance`` (relative) or after ``max_iterations``.

    >>> strengths = bradley_terry(["a", "b"], {("a", "b"): 1.0})
    >>> round(strengths["a"], 4), round(strengths["b"], 4), round(strengths["a"] * strengths["b"], 4)
    (2.1304, 0.4694, 1.0)
    """
    names = sorted(set(members))
    games = {
        i: {j: wins.get((i, j), 0.0) + wins.get((j, i), 0.0) for j in names if j != i}
        for i in names
    }
    scores = {
        i: PRIOR_TIES / 2 + sum(wins.get((i, j), 0.0) for j in names if j != i) for i in names
    }
    strength = dict.fromkeys(names, 1.0)
    for _ in range(max_iterations):
        updated = {}
        for i in names:
            denominator = PRIOR_TIES / (strength[i] + 1.0) + math.fsum(
                n / (strength[i] + strength[j]) for j, n in games[i].items() if n
            )
            updated[i] = scores[i] / denominator
        change = max((abs(math.log(updated[i] / strength[i])) for i in names), default=0.0)
        strength = updated
        if change < tolerance:
            break
    return strength


def score_preference_group(
    members: Sequence[int | str], rankings: Sequence[Mapping[str, Any]]
) -> dict[str, Score]:
    """Each sibling's preference reward, keyed by ``str(member)``.

    A ranking ``{"review": id, "ranks": {member: rank}, "all_wrong": bool}`` gives one outcome per
    pair of members it ranks: the lower rank wins, equal ranks tie (half a win each). Rankings
    that say all siblings are wrong add no comparisons; instead every value is scaled by
    (1 − their share of all rankings), so a group every expert rejected scores 0. A member's value
    is its mean Bradley–Terry win probability p_i / (p_i + p_j) against the other members: 0.5 for
    a group of equals. ``None`` for a member never compared (unless some ranking said all wrong)
    and for a group of one.

    >>> scores = score_preference_group([11, 12, 13], [
    ...     {"review": 1, "ranks": {"11": 1, "12": 2, "13": 2}, "all_wrong": False},
    ...     {"review": 2, "ranks": {"11": 1, "12": 3, "13": 2}, "all_wrong": False}])
    >>> {member: round(score.value, 3) for member, score in scores.items()}
    {'11': 0.914, '12': 0.188, '13': 0.397}
    >>> scores["13"].details
    {'strength': 0.69581, 'wins': 1, 'losses': 2, 'ties': 1, 'rankings': 2, 'all_wrong': 0}
    """
    names = list(dict.fromkeys(str(m) for m in members))
    wins: dict[tuple[str, str], float] = defaultdict(float)
    tally = {m: {"wins": 0, "losses": 0, "ties": 0, "rankings": 0} for m in names}
    all_wrong = 0
    for ranking in rankings:
        if ranking.get("all_wrong"):
            all_wrong += 1
            continue
        ranks = {str(k): v for k, v in (ranking.get("ranks") or {}).items() if v is not None}
        ranked = [m for m in names if m in ranks]
        if len(ranked) < 2:
            continue
        for member in ranked:
            tally[member]["rankings"] += 1
        for i, j in combinations(ranked, 2):
            if float(ranks[i]) == float(ranks[j]):
                wins[(i, j)] += 0.5
                wins[(j, i)] += 0.5
                tally[i]["ties"] += 1
                tally[j]["ties"] += 1
                continue
            winner, loser = (i, j) if float(ranks[i]) < float(ranks[j]) else (j, i)
            wins[(winner, loser)] += 1.0
            tally[winner]["wins"] += 1
            tally[loser]["losses"] += 1
    strength = bradley_terry(names, wins) if len(names) > 1 else dict.fromkeys(names, 1.0)
    keep = 1.0 - all_wrong / len(rankings) if rankings else 0.0
    scores = {}
    for i in names:
        details: dict[str, Any] = {
            "strength": round(strength[i], 6),
            **tally[i],
            "all_wrong": all_wrong,
        }
        compared = tally[i]["rankings"] > 0
        if len(names) < 2 or not (compared or all_wrong):
            scores[i] = Score(None, details)
            continue
        # Sorted and fsum-ed, so the value is bit-for-bit the same whatever order members come in.
        others = sorted(j for j in names if j != i)
        win_rate = math.fsum(strength[i] / (strength[i] + strength[j]) for j in others) / len(
            others
        )
        scores[i] = Score(win_rate * keep, details)
    return scores


def preference_reward(
    completions: list[Any],
    sibling_id: list[int | str | None] | None = None,
    sibling_rankings: list[Sequence[Mapping[str, Any]] | None] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward function over the ``sibling_id`` and ``sibling_rankings`` columns.

    Each row carries its generation's id and its sibling group's rankings (the same list on every
    row of the group). Rows with equal ranking lists form one group, whose members are their ids
    plus every sibling the rankings name, so siblings outside the batch still count.

    >>> group = [{"review": 1, "ranks": {"11": 1, "12": 2}, "all_wrong": False}]
    >>> [round(v, 3) if v is not None else v for v in preference_reward(
    ...     ["first", "second", "unranked"], sibling_id=[11, 12, 99], sibling_rankings=[group, group, None])]
    [0.819, 0.181, None]
    """
    columns = {"sibling_id": sibling_id, "sibling_rankings": sibling_rankings}
    ids = trl_column(columns, "sibling_id", len(completions))
    lists = trl_column(columns, "sibling_rankings", len(completions))
    groups: dict[str, tuple[Sequence[Mapping[str, Any]], set[str]]] = {}
    keys: list[str | None] = []
    for member, rankings in zip(ids, lists, strict=True):
        if member is None or not rankings:
            keys.append(None)
            continue
        key = json.dumps(list(rankings), sort_keys=True, default=str)
        group = groups.setdefault(key, (rankings, set()))
        group[1].add(str(member))
        keys.append(key)
    results = {}
    for key, (rankings, members) in groups.items():
        named = {str(m) for r in rankings for m in (r.get("ranks") or {})}
        results[key] = score_preference_group(sorted(members | named), rankings)
    return [
        None if key is None else results[key][str(member)].value
        for key, member in zip(keys, ids, strict=True)
    ]


preference_reward.__name__ = "preference"

PREFERENCE: RewardFunction = RewardFunction(
    name="preference",
    version=1,
    source="workbench",
    definition=DEFINITION,
    score=score_preference_group,
    trl=preference_reward,
)
