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

TOLERANCE = 1e-12
MAX_ITERATIONS = 100
PRIOR_TIES = 1  # virtual ties of each member with a reference of strength 1

DEFINITION = (
    "Bradley–Terry strengths (maximum likelihood, one virtual tie per sibling with a reference of "
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
    """Bradley–Terry strengths with a weak prior: the maximum of the log-likelihood, by Newton's
    method on log-strengths.

    ``wins[(i, j)]`` is how often ``i`` beat ``j`` (a tie adds 0.5 each way). Each member also
    ties once with a fixed reference of strength 1, which keeps strengths finite when a member won
    or lost every comparison, pins the scale (no renormalising), and leaves a member without
    comparisons at exactly 1. The log-likelihood is strictly concave in the log-strengths, so the
    maximum is unique; Newton's steps (halved while they do not increase it) reach it in a handful
    of iterations, where Hunter's MM iteration needs tens of thousands on a group with many
    rankings (the prior pins the scale only weakly). Stops when no log-strength moves by more than
    ``tolerance`` or after ``max_iterations``. The result does not depend on the members' order.

    >>> strengths = bradley_terry(["a", "b"], {("a", "b"): 1.0})
    >>> round(strengths["a"], 4), round(strengths["b"], 4), round(strengths["a"] * strengths["b"], 4)
    (2.1304, 0.4694, 1.0)
    """
    names = sorted(set(members))
    size = len(names)
    games = [
        [
            0.0 if i == j else wins.get((a, b), 0.0) + wins.get((b, a), 0.0)
            for j, b in enumerate(names)
        ]
        for i, a in enumerate(names)
    ]
    scores = [PRIOR_TIES / 2 + sum(wins.get((a, b), 0.0) for b in names if b != a) for a in names]
    theta = [0.0] * size

    def likelihood(t: list[float]) -> float:
        total = sum(scores[i] * t[i] - PRIOR_TIES * _log1pexp(t[i]) for i in range(size))
        for i in range(size):
            for j in range(i + 1, size):
                if games[i][j]:
                    high = max(t[i], t[j])
                    total -= games[i][j] * (
                        high + math.log(math.exp(t[i] - high) + math.exp(t[j] - high))
                    )
        return total

    current = likelihood(theta)
    for _ in range(max_iterations):
        gradient = [0.0] * size
        hessian = [[0.0] * size for _ in range(size)]  # minus the Hessian: positive definite
        for i in range(size):
            prior = _sigmoid(theta[i])
            gradient[i] = scores[i] - PRIOR_TIES * prior
            hessian[i][i] = PRIOR_TIES * prior * (1.0 - prior)
            for j in range(size):
                if j != i and games[i][j]:
                    p = _sigmoid(theta[i] - theta[j])
                    gradient[i] -= games[i][j] * p
                    hessian[i][i] += games[i][j] * p * (1.0 - p)
                    hessian[i][j] -= games[i][j] * p * (1.0 - p)
        step = _solve(hessian, gradient)
        scale = 1.0
        while True:
            trial = [t + scale * d for t, d in zip(theta, step, strict=True)]
            value = likelihood(trial)
            if value >= current or scale < 1e-6:
                break
            scale /= 2
        theta, current = trial, value
        if max((abs(scale * d) for d in step), default=0.0) < tolerance:
            break
    return {name: math.exp(t) for name, t in zip(names, theta, strict=True)}


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


def _log1pexp(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


def _solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """``matrix⁻¹ · vector`` by Gaussian elimination with partial pivoting (a few members)."""
    size = len(vector)
    rows = [[*row, v] for row, v in zip(matrix, vector, strict=True)]
    for col in range(size):
        pivot = max(range(col, size), key=lambda r: abs(rows[r][col]))
        rows[col], rows[pivot] = rows[pivot], rows[col]
        for r in range(col + 1, size):
            factor = rows[r][col] / rows[col][col]
            if factor:
                for c in range(col, size + 1):
                    rows[r][c] -= factor * rows[col][c]
    solution = [0.0] * size
    for r in range(size - 1, -1, -1):
        solution[r] = (
            rows[r][size] - sum(rows[r][c] * solution[c] for c in range(r + 1, size))
        ) / rows[r][r]
    return solution


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
