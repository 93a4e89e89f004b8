"""The audit's statistics: plain functions over counts and arrays, no Django.

- ``wilson``: the Wilson score interval of a proportion (good at 0/n and n/n, unlike ±z·SE);
- ``bootstrap_mean_ci``: the percentile bootstrap interval of a mean, seeded, so a page and its
  export (and a rerun tomorrow) print the same figures;
- ``normal_mean_ci`` and ``mean_ci``: the normal interval of a mean from its sums, and the rule the
  audit uses: the bootstrap below ``BOOTSTRAP_BELOW`` non-zero values, the normal interval from there;
- ``paired_bootstrap``: the mean of paired differences with its bootstrap interval;
- ``mcnemar_exact``: McNemar's exact test for paired yes/no outcomes;
- ``newcombe``: Newcombe's hybrid score interval for the difference of two independent proportions
  (method 10 of Newcombe, Statistics in Medicine 1998).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

Z95 = 1.959964  # the standard normal's 97.5th percentile: two-sided 95 %
RESAMPLES = 2000
# From this many non-zero values on, a mean's interval is the normal one (mean ± z·s/√n) instead of
# the bootstrap: the percentile bootstrap's large-sample limit, which the database can compute from
# three sums. With a thousand non-zero values the two agree to a few per cent of the interval's
# width (``tests/annotations/test_audit_stats.py`` checks it on skewed data), while the bootstrap of
# a large cell (300,000 generations at 1,000,000 flags) needs every value read out and resampled.
BOOTSTRAP_BELOW = 1000
SEED = 20260
# Draws held in memory at once by the bootstrap (float64): about 40 MB.
_DRAWS_PER_BLOCK = 5_000_000
_EXACT_INTEGER_PAIRS = 1000
# A multinomial draw per distinct value costs about this many uniform index draws.
_MULTINOMIAL_ADVANTAGE = 8


class Interval(NamedTuple):
    low: float
    high: float

    def excludes(self, value: float) -> bool:
        return value < self.low or value > self.high


def wilson(successes: int, n: int, z: float = Z95) -> Interval:
    """Wilson score interval of ``successes / n`` (``n`` ≥ 1).

    >>> [round(x, 4) for x in wilson(3, 10)]
    [0.1078, 0.6032]
    >>> [round(x, 4) for x in wilson(0, 20)]
    [0.0, 0.1611]
    """
    if n < 1 or not 0 <= successes <= n:
        raise ValueError(f"wilson needs 0 ≤ successes ≤ n and n ≥ 1 (got {successes}/{n}).")
    p = successes / n
    z2 = z * z
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Exact ends at 0/n and n/n (the formula gives them up to rounding).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Interval(low, high)


def bootstrap_means(
    values: Sequence[float] | np.ndarray,
    *,
    zeros: int = 0,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> np.ndarray:
    """The means of ``resamples`` bootstrap resamples of ``values`` plus ``zeros`` zero values.

    Each resample draws as many values as there are, with replacement. ``zeros`` spares the caller
    an array of zeros: ``bootstrap_means(v, zeros=k)`` equals ``bootstrap_means(v + [0] * k)``.

    Two exact ways to draw the same distribution, chosen by the data alone (so the result depends
    only on the multiset of values and the seed, never on their order):

    - few distinct values (outputs of similar length with 0-3 flags): how often each distinct value
      is drawn is multinomial, one draw per distinct value and resample;
    - otherwise only the non-zero values are drawn: how many draws land on them is binomial, and
      given that count they are uniform over them (most outputs carry no flag of a category).
    """
    data = np.asarray(values, dtype=np.float64)
    if zeros < 0:
        raise ValueError("zeros cannot be negative.")
    n = data.size + zeros
    if n == 0:
        raise ValueError("bootstrap needs at least one value.")
    nonzero = np.sort(data[data != 0])
    m = nonzero.size
    if m == 0:
        return np.zeros(resamples)
    rng = np.random.default_rng(seed)
    distinct, times = np.unique(nonzero, return_counts=True)
    if distinct.size * _MULTINOMIAL_ADVANTAGE <= m:
        return _multinomial_means(distinct, times, n, resamples, rng)
    counts = np.full(resamples, n) if m == n else rng.binomial(n, m / n, size=resamples)
    sums = np.empty(resamples)
    start = 0
    while start < resamples:
        # As many resamples as fit in one block of draws (at least one).
        ends = np.cumsum(counts[start:])
        stop = start + max(1, int(np.searchsorted(ends, _DRAWS_PER_BLOCK, side="right")))
        block = counts[start:stop]
        picked = nonzero[rng.integers(0, m, size=int(block.sum()))]
        # Segment sums; an empty resample has no segment (reduceat would repeat its neighbour's).
        filled = block > 0
        block_sums = np.zeros(block.size)
        if picked.size:
            starts = np.cumsum(block) - block
            block_sums[filled] = np.add.reduceat(picked, starts[filled])
        sums[start:stop] = block_sums
        start = stop
    return sums / n


def _multinomial_means(
    distinct: np.ndarray, times: np.ndarray, n: int, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    # Category 0 is "a zero value" (possibly none), then each distinct non-zero value.
    probabilities = np.concatenate(([n - times.sum()], times)) / n
    block = max(1, _DRAWS_PER_BLOCK // probabilities.size)
    sums = np.empty(resamples)
    for start in range(0, resamples, block):
        stop = min(resamples, start + block)
        drawn = rng.multinomial(n, probabilities, size=stop - start)
        sums[start:stop] = drawn[:, 1:] @ distinct
    return sums / n


def bootstrap_mean_ci(
    values: Sequence[float] | np.ndarray,
    *,
    zeros: int = 0,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    confidence: float = 0.95,
) -> Interval:
    """Percentile bootstrap interval of the mean of ``values`` plus ``zeros`` zeros (at least one).

    >>> bootstrap_mean_ci([0.0, 1.0])  # resample means are 0, ½ or 1, each end with p = ¼
    Interval(low=0.0, high=1.0)
    >>> bootstrap_mean_ci([2.5, 2.5, 2.5])
    Interval(low=2.5, high=2.5)
    """
    means = bootstrap_means(values, zeros=zeros, resamples=resamples, seed=seed)
    alpha = 1 - confidence
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(low), float(high))


def normal_mean_ci(
    n: int, total: float, total_squares: float, z: float = Z95, *, non_negative: bool = True
) -> Interval:
    """Normal 95 % interval of the mean of ``n`` values given their sum and sum of squares.

    mean ± z·s/√n with the sample standard deviation s (n − 1 in its denominator). With
    ``non_negative`` (rates: the values cannot be negative) the low end is clamped at 0.

    >>> [round(x, 4) for x in normal_mean_ci(4, 10.0, 30.0)]  # 1, 2, 3, 4: 2.5 ± 1.96 · 1.291 / 2
    [1.2348, 3.7652]
    """
    if n < 1:
        raise ValueError("a mean needs at least one value.")
    mean = total / n
    if n == 1:
        return Interval(mean, mean)
    variance = max(0.0, (total_squares - n * mean * mean) / (n - 1))
    half = z * math.sqrt(variance / n)
    low = mean - half
    return Interval(float(max(0.0, low) if non_negative else low), float(mean + half))


def uses_bootstrap(nonzero: int) -> bool:
    """Whether a mean with this many non-zero values gets the bootstrap (else the normal interval)."""
    return nonzero < BOOTSTRAP_BELOW


def mean_ci(values: Sequence[float] | np.ndarray, *, zeros: int = 0) -> Interval:
    """The audit's interval of a mean of ``values`` plus ``zeros`` zeros: the percentile bootstrap
    below ``BOOTSTRAP_BELOW`` non-zero values, the normal interval from there."""
    data = np.asarray(values, dtype=np.float64)
    nonzero = data[data != 0]
    if uses_bootstrap(int(nonzero.size)):
        return bootstrap_mean_ci(data, zeros=zeros)
    return normal_mean_ci(
        int(data.size) + zeros, float(nonzero.sum()), float((nonzero * nonzero).sum())
    )


@dataclass(frozen=True)
class PairedDifference:
    n: int
    mean: float  # mean of a − b over the pairs
    low: float
    high: float

    @property
    def significant(self) -> bool:
        """The 95 % interval excludes no difference."""
        return self.low > 0 or self.high < 0


def paired_bootstrap(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> PairedDifference:
    """Mean of the paired differences a[i] − b[i], with its percentile bootstrap interval over pairs.

    >>> result = paired_bootstrap([1, 1, 1], [0, 0, 0])
    >>> (result.mean, result.low, result.high, result.significant)
    (1.0, 1.0, 1.0, True)
    """
    first, second = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if first.shape != second.shape or first.size == 0:
        raise ValueError("paired_bootstrap needs two equally long, non-empty sequences.")
    differences = first - second
    interval = bootstrap_mean_ci(differences, resamples=resamples, seed=seed)
    return PairedDifference(
        int(differences.size), float(differences.mean()), interval.low, interval.high
    )


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant pairs.

    ``b`` pairs have only the first outcome, ``c`` only the second; under no difference each
    discordant pair is a fair coin, so p = min(1, 2 · P(Binomial(b + c, ½) ≤ min(b, c))).

    >>> mcnemar_exact(0, 5), mcnemar_exact(1, 9), mcnemar_exact(3, 3), mcnemar_exact(0, 0)
    (0.0625, 0.021484375, 1.0, 1.0)
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts cannot be negative.")
    n = b + c
    if n == 0:
        return 1.0
    if n <= _EXACT_INTEGER_PAIRS:
        # Integer arithmetic until the one division: exact.
        tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
        return min(1.0, 2 * tail / 2**n)
    # Many pairs: the same sum in logarithms (relative error ~1e-12; big-integer binomials of
    # thousands of digits took seconds).
    i = np.arange(min(b, c) + 1, dtype=np.float64)
    log_terms = math.lgamma(n + 1) - _lgamma(i + 1) - _lgamma(n - i + 1) - n * math.log(2)
    peak = float(log_terms.max())
    return min(1.0, 2 * math.exp(peak) * float(np.exp(log_terms - peak).sum()))


def _lgamma(x: np.ndarray) -> np.ndarray:
    return np.array([math.lgamma(v) for v in x])


def newcombe(
    successes_a: int, n_a: int, successes_b: int, n_b: int, z: float = Z95
) -> tuple[float, Interval]:
    """p_a − p_b with Newcombe's hybrid score interval (two independent samples, n ≥ 1 each).

    >>> difference, interval = newcombe(56, 70, 48, 80)
    >>> round(difference, 4), [round(x, 4) for x in interval]
    (0.2, [0.0524, 0.3339])
    """
    p_a, p_b = successes_a / n_a, successes_b / n_b
    low_a, high_a = wilson(successes_a, n_a, z)
    low_b, high_b = wilson(successes_b, n_b, z)
    difference = p_a - p_b
    low = difference - math.sqrt((p_a - low_a) ** 2 + (high_b - p_b) ** 2)
    high = difference + math.sqrt((high_a - p_a) ** 2 + (p_b - low_b) ** 2)
    return difference, Interval(max(-1.0, low), min(1.0, high))
