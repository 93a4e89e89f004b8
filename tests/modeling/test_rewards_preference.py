"""The preference reward: Bradley–Terry strengths from sibling rankings, ties and "all wrong"."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from modeling.rewards.preference import bradley_terry, preference_reward, score_preference_group


def ranking(review: int, ranks: dict, all_wrong: bool = False) -> dict:
    return {
        "review": review,
        "ranks": {str(k): v for k, v in ranks.items()},
        "all_wrong": all_wrong,
    }


def values(scores: dict) -> dict:
    return {member: score.value for member, score in scores.items()}


def test_a_unanimous_winner_scores_above_the_loser_and_they_sum_to_one() -> None:
    scores = values(
        score_preference_group([1, 2], [ranking(10, {1: 1, 2: 2}), ranking(11, {1: 1, 2: 2})])
    )
    assert scores["1"] > 0.5 > scores["2"]
    assert scores["1"] + scores["2"] == pytest.approx(1.0)


def test_ties_are_symmetric() -> None:
    scores = values(score_preference_group([1, 2, 3], [ranking(10, {1: 1, 2: 1, 3: 1})]))
    assert scores == pytest.approx({"1": 0.5, "2": 0.5, "3": 0.5})


def test_opposite_rankings_cancel_out() -> None:
    scores = values(
        score_preference_group(
            ["a", "b"], [ranking(1, {"a": 1, "b": 2}), ranking(2, {"a": 2, "b": 1})]
        )
    )
    assert scores == pytest.approx({"a": 0.5, "b": 0.5})


def test_more_evidence_gives_a_more_confident_preference() -> None:
    one = values(score_preference_group([1, 2], [ranking(10, {1: 1, 2: 2})]))["1"]
    five = values(score_preference_group([1, 2], [ranking(r, {1: 1, 2: 2}) for r in range(5)]))["1"]
    assert 0.5 < one < five < 1.0  # finite thanks to the prior, even when one-sided


def test_a_total_order_orders_the_values() -> None:
    scores = values(
        score_preference_group([1, 2, 3, 4], [ranking(10, {1: 1, 2: 2, 3: 3, 4: 4})] * 2)
    )
    assert scores["1"] > scores["2"] > scores["3"] > scores["4"]
    assert sum(scores.values()) == pytest.approx(2.0)  # mean win rates of a group sum to n/2


def test_all_wrong_rankings_scale_values_down_and_alone_give_zero() -> None:
    group = [1, 2]
    only_wrong = values(score_preference_group(group, [ranking(10, {}, all_wrong=True)]))
    assert only_wrong == {"1": 0.0, "2": 0.0}
    half = values(
        score_preference_group(group, [ranking(10, {1: 1, 2: 2}), ranking(11, {}, all_wrong=True)])
    )
    full = values(score_preference_group(group, [ranking(10, {1: 1, 2: 2})]))
    assert half["1"] == pytest.approx(full["1"] / 2)
    assert half["2"] == pytest.approx(full["2"] / 2)


def test_ranks_given_alongside_all_wrong_add_no_comparisons() -> None:
    scores = score_preference_group([1, 2], [ranking(10, {1: 1, 2: 2}, all_wrong=True)])
    assert values(scores) == {"1": 0.0, "2": 0.0}
    assert scores["1"].details["wins"] == 0


def test_an_unranked_member_is_none_unless_someone_said_all_wrong() -> None:
    scores = values(score_preference_group([1, 2, 3], [ranking(10, {1: 1, 2: 2})]))
    assert scores["3"] is None
    assert scores["1"] is not None
    with_wrong = values(
        score_preference_group(
            [1, 2, 3], [ranking(10, {1: 1, 2: 2}), ranking(11, {}, all_wrong=True)]
        )
    )
    # Never compared, member 3 keeps the prior's strength 1; half the rankings said all wrong.
    p = bradley_terry(["1", "2", "3"], {("1", "2"): 1.0})
    assert p["3"] == 1.0
    assert with_wrong["3"] == pytest.approx(0.5 * (1 / (1 + p["1"]) + 1 / (1 + p["2"])) / 2)


def test_a_group_of_one_or_without_rankings_is_none() -> None:
    assert values(score_preference_group([1], [ranking(10, {1: 1})])) == {"1": None}
    assert values(score_preference_group([1, 2], [])) == {"1": None, "2": None}


def test_a_ranking_of_a_single_member_compares_nothing() -> None:
    assert values(score_preference_group([1, 2], [ranking(10, {1: 1})])) == {"1": None, "2": None}


def test_members_outside_the_group_are_ignored() -> None:
    scores = values(score_preference_group([1, 2], [ranking(10, {1: 1, 2: 2, 99: 3})]))
    assert set(scores) == {"1", "2"}


def test_it_does_not_depend_on_the_order_of_members_or_rankings() -> None:
    members = [5, 6, 7, 8]
    rankings = [
        ranking(1, {5: 1, 6: 2, 7: 2, 8: 3}),
        ranking(2, {5: 2, 6: 1, 8: 3}),
        ranking(3, {7: 1, 8: 2}),
        ranking(4, {}, all_wrong=True),
    ]
    reference = values(score_preference_group(members, rankings))
    for m_order, r_order in zip(
        itertools.permutations(members), itertools.permutations(rankings), strict=False
    ):
        assert values(score_preference_group(list(m_order), list(r_order))) == reference


def test_details_count_the_outcomes() -> None:
    scores = score_preference_group(
        [1, 2, 3], [ranking(10, {1: 1, 2: 1, 3: 2}), ranking(11, {}, all_wrong=True)]
    )
    assert scores["1"].details == {
        "strength": scores["1"].details["strength"],
        "wins": 1,
        "losses": 0,
        "ties": 1,
        "rankings": 1,
        "all_wrong": 1,
    }
    json.dumps({m: s.details for m, s in scores.items()})


def test_bradley_terry_solves_the_likelihood_equations() -> None:
    wins = {
        ("a", "b"): 3.0,
        ("b", "a"): 1.0,
        ("b", "c"): 2.0,
        ("c", "b"): 1.0,
        ("a", "c"): 0.5,
        ("c", "a"): 1.5,
    }
    strength = bradley_terry(["a", "b", "c"], wins)
    for i in strength:
        observed = 0.5 + sum(w for (x, _), w in wins.items() if x == i)
        expected = strength[i] / (strength[i] + 1) + sum(
            (wins.get((i, j), 0) + wins.get((j, i), 0)) * strength[i] / (strength[i] + strength[j])
            for j in strength
            if j != i
        )
        assert observed == pytest.approx(expected, rel=1e-8)
    assert all(math.isfinite(s) and s > 0 for s in strength.values())


def test_bradley_terry_stops_at_the_iteration_cap() -> None:
    one_step = bradley_terry(["a", "b"], {("a", "b"): 10.0}, max_iterations=1)
    converged = bradley_terry(["a", "b"], {("a", "b"): 10.0})
    assert one_step["a"] < converged["a"]


def test_the_trl_wrapper_groups_rows_by_their_rankings() -> None:
    group_a = [ranking(1, {11: 1, 12: 2, 13: 3})]
    group_b = [ranking(2, {21: 2, 22: 1})]
    rows = preference_reward(
        ["a1", [{"role": "assistant", "content": "b2"}], "a3", "b1", "lonely"],
        sibling_id=[11, 22, 13, 21, 99],
        sibling_rankings=[group_a, group_b, json.loads(json.dumps(group_a)), group_b, None],
        prompts=["p"] * 5,
    )
    direct_a = values(score_preference_group([11, 12, 13], group_a))
    direct_b = values(score_preference_group([21, 22], group_b))
    assert rows == [direct_a["11"], direct_b["22"], direct_a["13"], direct_b["21"], None]
    assert preference_reward.__name__ == "preference"
    assert preference_reward(["x", "y"]) == [None, None]
