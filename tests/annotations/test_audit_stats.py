"""The audit's statistics against values computed by hand (or published with the method)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotations.audit import stats as audit_stats
from annotations.audit.stats import (
    Z95,
    bootstrap_mean_ci,
    bootstrap_means,
    mcnemar_exact,
    mean_ci,
    newcombe,
    normal_mean_ci,
    paired_bootstrap,
    uses_bootstrap,
    wilson,
)


def _rounded(interval: tuple[float, float], places: int = 4) -> list[float]:
    return [round(x, places) for x in interval]


# --- Wilson ----------------------------------------------------------------------------------------


def test_wilson_of_none_flagged_starts_at_zero_and_ends_at_z2_over_n_plus_z2() -> None:
    # 0/n: centre and half-width are equal, so the upper end is z² / (n + z²).
    assert wilson(0, 10) == (0.0, pytest.approx(Z95**2 / (10 + Z95**2)))
    assert _rounded(wilson(0, 10)) == [0.0, 0.2775]
    assert _rounded(wilson(0, 20)) == [0.0, 0.1611]  # Newcombe (1998), example 3


def test_wilson_of_all_flagged_mirrors_none_flagged() -> None:
    low, high = wilson(10, 10)
    assert high == 1.0
    assert low == pytest.approx(1 - Z95**2 / (10 + Z95**2))
    assert _rounded(wilson(10, 10)) == [0.7225, 1.0]


def test_wilson_of_three_in_ten() -> None:
    # p = .3, z² = 3.841459: centre (.3 + .192073) / 1.384146 = .355506,
    # half-width 1.959964 / 1.384146 · √(.021 + .009604) = .247733.
    assert _rounded(wilson(3, 10)) == [0.1078, 0.6032]


def test_wilson_matches_newcombes_published_examples() -> None:
    assert _rounded(wilson(81, 263)) == [0.2553, 0.3662]
    assert _rounded(wilson(15, 148)) == [0.0624, 0.1605]
    assert _rounded(wilson(1, 29)) == [0.0061, 0.1718]


def test_wilson_of_a_single_generation_is_wide() -> None:
    assert _rounded(wilson(0, 1)) == [0.0, 0.7935]
    assert _rounded(wilson(1, 1)) == [0.2065, 1.0]


def test_wilson_refuses_an_empty_sample_with_a_readable_error() -> None:
    with pytest.raises(ValueError, match="n ≥ 1"):
        wilson(0, 0)
    with pytest.raises(ValueError, match="successes ≤ n"):
        wilson(4, 3)


# --- bootstrap -------------------------------------------------------------------------------------


def test_bootstrap_of_zero_and_one_spans_both_values() -> None:
    # Two draws from {0, 1}: means 0 (p ¼), ½ (p ½), 1 (p ¼); 2.5th and 97.5th percentiles are 0, 1.
    assert bootstrap_mean_ci([0.0, 1.0]) == (0.0, 1.0)


def test_bootstrap_of_a_constant_is_that_constant() -> None:
    assert bootstrap_mean_ci([4.0] * 7) == (4.0, 4.0)
    assert bootstrap_mean_ci([0.0] * 7) == (0.0, 0.0)


def test_bootstrap_resample_means_are_means_of_n_draws() -> None:
    # One non-zero value in ten: every resample mean is (times it was drawn) / 10.
    means = bootstrap_means([1.0] + [0.0] * 9)
    assert len(means) == audit_stats.RESAMPLES == 2000
    assert set(np.round(means * 10, 9)) <= set(range(11))
    # Drawn Binomial(10, 0.1) times: mean 1 / 10, variance 0.9 / 100.
    assert means.mean() == pytest.approx(0.1, abs=0.01)
    assert means.var() == pytest.approx(0.009, rel=0.15)


def test_bootstrap_is_reproducible_and_ignores_the_order_of_values() -> None:
    values = [0.0, 3.0, 0.0, 1.5, 7.25, 0.0, 2.0, 0.0, 0.0, 4.0]
    first = bootstrap_mean_ci(values)
    assert bootstrap_mean_ci(values) == first
    assert bootstrap_mean_ci(list(reversed(values))) == first
    assert bootstrap_mean_ci(values, seed=1) != first
    assert first.low < np.mean(values) < first.high


def test_bootstrap_agrees_with_drawing_every_index() -> None:
    """Drawing only the non-zero values is the same distribution as the textbook resampling."""
    values = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 0.0, 5.0, 0.0])
    fast = bootstrap_means(values, resamples=100_000)
    rng = np.random.default_rng(7)
    naive = values[rng.integers(0, values.size, size=(100_000, values.size))].mean(axis=1)
    assert fast.mean() == pytest.approx(naive.mean(), abs=0.01)
    assert fast.std() == pytest.approx(naive.std(), rel=0.02)
    assert list(np.quantile(fast, [0.025, 0.975])) == list(np.quantile(naive, [0.025, 0.975]))


def test_bootstrap_intervals_cover_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    covered = 0
    trials = 200
    for _ in range(trials):
        sample = rng.exponential(2.0, size=60) * (rng.random(60) < 0.5)  # mean 1.0
        covered += bootstrap_mean_ci(sample).excludes(1.0) is False
    # Percentile intervals run a little narrow on skewed data; 95 % ± 3 standard errors.
    assert 0.88 <= covered / trials <= 0.99


def test_bootstrap_refuses_no_values() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        bootstrap_mean_ci([])


# --- paired comparison -----------------------------------------------------------------------------


def test_paired_bootstrap_is_the_mean_of_differences() -> None:
    result = paired_bootstrap([1.0, 0.5, 1.0, 0.0], [0.0, 0.5, 0.0, 0.0])
    assert result.n == 4
    assert result.mean == 0.5  # differences 1, 0, 1, 0
    assert (result.low, result.high) == bootstrap_mean_ci([1.0, 0.0, 1.0, 0.0])
    assert result.low <= 0.5 <= result.high


def test_paired_bootstrap_is_significant_only_when_the_interval_excludes_zero() -> None:
    assert paired_bootstrap([1.0] * 5, [0.0] * 5).significant
    assert not paired_bootstrap([1.0, 0.0], [0.0, 1.0]).significant  # ±1: interval [−1, 1]


def test_paired_bootstrap_refuses_unequal_lengths() -> None:
    with pytest.raises(ValueError, match="equally long"):
        paired_bootstrap([1.0], [1.0, 0.0])


# --- McNemar -----------------------------------------------------------------------------------------


def test_mcnemar_exact_against_binomial_tails_by_hand() -> None:
    assert mcnemar_exact(0, 5) == 2 / 32  # 2 · ½⁵
    assert mcnemar_exact(5, 0) == 2 / 32
    assert mcnemar_exact(1, 9) == 2 * (1 + 10) / 1024  # 2 · (C(10,0) + C(10,1)) / 2¹⁰
    assert mcnemar_exact(2, 8) == 2 * (1 + 10 + 45) / 1024
    assert mcnemar_exact(3, 3) == 1.0  # 2 · 42/64 > 1 is capped
    assert mcnemar_exact(0, 0) == 1.0  # no discordant pair: no evidence


def test_mcnemar_exact_stays_exact_for_many_pairs() -> None:
    p = mcnemar_exact(400, 600)
    assert 0 < p < 1e-9
    assert p == pytest.approx(2 * sum(math.comb(1000, i) for i in range(401)) / 2**1000)


# --- Newcombe ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("counts", "difference", "interval"),
    [
        # Newcombe (1998), Table II, method 10 (hybrid score).
        ((56, 70, 48, 80), 0.2, [0.0524, 0.3339]),
        ((9, 10, 3, 10), 0.6, [0.1705, 0.809]),
        ((5, 56, 0, 29), 0.0893, [-0.0381, 0.1926]),
        ((0, 10, 0, 20), 0.0, [-0.1611, 0.2775]),
        ((0, 10, 0, 10), 0.0, [-0.2775, 0.2775]),
        ((10, 10, 0, 20), 1.0, [0.6791, 1.0]),
        ((10, 10, 0, 10), 1.0, [0.6075, 1.0]),
    ],
)
def test_newcombe_matches_the_published_intervals(
    counts: tuple[int, int, int, int], difference: float, interval: list[float]
) -> None:
    found, found_interval = newcombe(*counts)
    assert round(found, 4) == difference
    assert _rounded(found_interval) == interval


def test_newcombe_is_built_from_the_two_wilson_intervals() -> None:
    # 0/10 vs 0/20: lower end −(upper Wilson of 0/20), upper end +(upper Wilson of 0/10).
    _, (low, high) = newcombe(0, 10, 0, 20)
    assert low == pytest.approx(-wilson(0, 20).high)
    assert high == pytest.approx(wilson(0, 10).high)


def test_the_docstring_examples_hold() -> None:
    import doctest

    result = doctest.testmod(audit_stats)
    assert result.attempted >= 6 and result.failed == 0


def test_bootstrap_zeros_stand_for_that_many_zero_values() -> None:
    values = [2.0, 0.5, 1.0]
    assert bootstrap_mean_ci(values, zeros=4) == bootstrap_mean_ci([*values, 0.0, 0.0, 0.0, 0.0])
    assert bootstrap_mean_ci([], zeros=3) == (0.0, 0.0)


def test_mcnemar_for_thousands_of_pairs_matches_the_exact_sum() -> None:
    # Above 1,000 discordant pairs the tail is summed in logarithms.
    for b, c in ((700, 1300), (3000, 3100)):
        n = b + c
        exact = 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2**n
        assert mcnemar_exact(b, c) == pytest.approx(min(1.0, exact), rel=1e-9)


def test_bootstrap_with_few_distinct_values_draws_how_often_each_is_drawn() -> None:
    """Many values, few distinct (the multinomial path): same distribution as drawing indices."""
    values = np.repeat([0.0, 1.0, 2.0, 5.0], [40, 30, 20, 10])
    fast = bootstrap_means(values, resamples=100_000)
    rng = np.random.default_rng(5)
    naive = values[rng.integers(0, values.size, size=(100_000, values.size))].mean(axis=1)
    assert fast.mean() == pytest.approx(naive.mean(), abs=0.005)
    assert fast.std() == pytest.approx(naive.std(), rel=0.02)
    assert np.quantile(fast, [0.025, 0.975]) == pytest.approx(
        np.quantile(naive, [0.025, 0.975]), abs=0.02
    )
    shuffled = rng.permutation(values)
    assert bootstrap_mean_ci(shuffled) == bootstrap_mean_ci(values)


# --- normal interval and the audit's choice between the two --------------------------------------------


def test_normal_mean_ci_of_one_to_four_by_hand() -> None:
    # 1, 2, 3, 4: n 4, sum 10, sum of squares 30; mean 2.5, s² = (30 − 4 · 2.5²) / 3 = 5/3,
    # half-width z · √(5/3) / √4.
    half = Z95 * math.sqrt(5 / 3) / 2
    low, high = normal_mean_ci(4, 10.0, 30.0)
    assert low == pytest.approx(2.5 - half, rel=1e-12)
    assert high == pytest.approx(2.5 + half, rel=1e-12)
    assert _rounded((low, high)) == [1.2348, 3.7652]
    # Another z scales the half-width.
    wide = normal_mean_ci(4, 10.0, 30.0, z=3.0)
    assert wide == pytest.approx(
        (2.5 - 3.0 * math.sqrt(5 / 3) / 2, 2.5 + 3.0 * math.sqrt(5 / 3) / 2)
    )


def test_normal_mean_ci_of_one_value_is_that_value() -> None:
    assert normal_mean_ci(1, 3.5, 12.25) == (3.5, 3.5)
    # A constant has no spread (and rounding never makes the variance negative).
    assert normal_mean_ci(3, 0.3, 0.03) == pytest.approx((0.1, 0.1))
    low, high = normal_mean_ci(3, 0.3, 0.03)
    assert low <= high


def test_normal_mean_ci_clamps_its_low_end_at_zero_for_rates_only() -> None:
    # 0, 0, 0, 10: mean 2.5, s² = (100 − 25) / 3 = 25, half-width z · 5 / 2 = 4.89991.
    half = Z95 * 5 / 2
    assert normal_mean_ci(4, 10.0, 100.0) == (0.0, pytest.approx(2.5 + half))
    assert normal_mean_ci(4, 10.0, 100.0, non_negative=False) == pytest.approx(
        (2.5 - half, 2.5 + half)
    )
    # A low end above zero is not touched by the clamp.
    assert normal_mean_ci(4, 10.0, 30.0) == normal_mean_ci(4, 10.0, 30.0, non_negative=False)


def test_normal_mean_ci_refuses_no_values() -> None:
    with pytest.raises(ValueError, match="at least one value"):
        normal_mean_ci(0, 0.0, 0.0)


def test_the_bootstrap_serves_means_below_the_threshold_of_non_zero_values() -> None:
    assert audit_stats.BOOTSTRAP_BELOW == 1000
    assert uses_bootstrap(0) and uses_bootstrap(999)
    assert not uses_bootstrap(1000) and not uses_bootstrap(250_000)
    rng = np.random.default_rng(3)
    values = rng.exponential(1.0, size=999) + 0.01  # 999 non-zero values
    assert mean_ci(values, zeros=500) == bootstrap_mean_ci(values, zeros=500)
    # Zeros among the values count as zeros, not as non-zero values.
    with_zeros = np.concatenate([values, np.zeros(500)])
    assert mean_ci(with_zeros) == bootstrap_mean_ci(values, zeros=500)
    assert mean_ci(with_zeros, zeros=7) == bootstrap_mean_ci(values, zeros=507)
    small = [0.0, 3.0, 1.5, 0.0, 2.0]
    assert mean_ci(small) == bootstrap_mean_ci(small)
    assert mean_ci([], zeros=4) == (0.0, 0.0)


def test_the_normal_interval_serves_means_from_the_threshold_on() -> None:
    rng = np.random.default_rng(4)
    values = rng.exponential(1.0, size=1000) + 0.01  # exactly BOOTSTRAP_BELOW non-zero values
    n = 1000 + 2500
    expected = normal_mean_ci(n, float(values.sum()), float((values * values).sum()))
    assert mean_ci(values, zeros=2500) == pytest.approx(tuple(expected), rel=1e-12)
    assert mean_ci(np.concatenate([values, np.zeros(2000)]), zeros=500) == pytest.approx(
        tuple(expected), rel=1e-12
    )
    assert mean_ci(values, zeros=2500) != bootstrap_mean_ci(values, zeros=2500)
    # The interval is around the mean of all n values, zeros included.
    low, high = mean_ci(values, zeros=2500)
    assert low < values.sum() / n < high
    assert (low + high) / 2 == pytest.approx(values.sum() / n)


def test_the_normal_interval_is_within_five_percent_of_the_bootstrap_on_skewed_data() -> None:
    """Why the threshold may be 1,000: at that many non-zero values of a heavy-tailed rate (most
    generations at zero) the two intervals' ends differ by a few per cent of the width."""
    rng = np.random.default_rng(1)
    nonzero = rng.exponential(2.0, size=1000) ** 1.5
    zeros = 3000
    bootstrap = bootstrap_mean_ci(nonzero, zeros=zeros)
    normal = normal_mean_ci(
        nonzero.size + zeros, float(nonzero.sum()), float((nonzero * nonzero).sum())
    )
    width = bootstrap.high - bootstrap.low
    assert width > 0
    assert abs(normal.low - bootstrap.low) <= 0.05 * width
    assert abs(normal.high - bootstrap.high) <= 0.05 * width
    # And it is what the audit's rule gives for this cell.
    assert mean_ci(nonzero, zeros=zeros) == normal
