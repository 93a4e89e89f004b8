"""What the audit pages show: error rates with their uncertainty, version comparisons, blind spots,
expert agreement and the flagged spans behind any figure.

This module turns rows into figures: the selectors (``audit_rates``, ``audit_compare``,
``audit_lineage_trend``, ``audit_blind_spots``, ``audit_agreement``, ``audit_spans``, …), the rows
they return (``RateRow``, ``VersionComparison``, …), the intervals and tests of
``annotations.audit.stats`` applied to those rows, and the labels the pages show. It writes no SQL:
every statement is built and run by ``annotations.audit.sql``, the one door to the audit's tables,
which also holds the PostgreSQL/SQLite differences. What the filters mean and how they are parsed is
``annotations.audit.filters``.

Reads only the audit's tables (``annotations.audit.models``), so drafts and skipped reviews never
count: without a date range, the per-generation and per-(generation, category) summaries, as they
are; with one, the fact tables (one row per submitted review, one per flag), grouped per generation.
Every aggregate is one GROUP BY statement in the database, cached under the version of the audit's
inputs; only the bootstrap of small cells reads per-generation values into Python (numpy).

Definitions (the pages and the README state them in the same words):

- A *unit* is a generation with at least one submitted review in the filter. It is *flagged* when at
  least one of those reviews carries a flag of severity major or critical that matches the flag
  filters (category, kind, aspect, target, severity) and the cell. Share flagged = flagged / units,
  with a Wilson 95 % interval (z = 1.959964).
- *Flags per 100 words*: per (generation, review), flags / words × 100, averaged over the
  generation's reviews, then the mean over generations. Words are those of think + answer, or of
  the flagged part when grouped or filtered by target (reasoning → think, caption → answer);
  generations with no words in that part are left out of this mean (``n_word_generations``). 95 %
  interval: percentile bootstrap over generations, 2,000 resamples, fixed seed, below 1,000
  non-zero rates (``stats.BOOTSTRAP_BELOW``); from there the normal interval of the mean.
- Version, genre, culture and region are generation-level dimensions (a song in two genres counts in
  both; its generations have no row by genre when it has no genre). Category, kind, aspect and
  target are flag-level: their rows share the denominator of their generation-level cell, so a
  category nobody flagged shows 0 of n.
- Filters on version, genre, culture and region restrict generations; the date range restricts the
  reviews that count (by submission time); category, kind, aspect, target and severity restrict the
  flags that count.
"""

from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import numpy as np
from django.core.cache import cache

from annotations.audit import sql
from annotations.audit.filters import (
    DEFAULT_GROUP_BY,
    FLAG_DIMENSIONS,
    GENERATION_DIMENSIONS,
    AuditFilters,
    Category,
    check_group_by,
    counted_categories,
    counted_parts,
    read_taxonomy,
)
from annotations.audit.stats import (
    RESAMPLES,
    SEED,
    Z95,
    bootstrap_mean_ci,
    mcnemar_exact,
    newcombe,
    normal_mean_ci,
    paired_bootstrap,
    uses_bootstrap,
    wilson,
)
from annotations.generations.models import ModelVersion
from annotations.reviews.models import ErrorCategory, Flag
from annotations.songs.models import Culture, Genre

SMALL_SAMPLE = 30  # fewer units than this: the Wilson interval is wider than ±0.18 around ½
TOP_CULTURAL_CATEGORIES = 3
CONTESTED_BELOW = 0.5
MAX_PER_PAGE = 200


def filter_choices() -> dict[str, list[tuple[str, str]]]:
    """The values each filter offers, as (query value, label), for the filter form's selects."""
    cultures = list(
        Culture.objects.order_by("region", "name").values_list("slug", "name", "region")
    )
    return {
        "model_version": [
            (str(pk), name)
            for pk, name in ModelVersion.objects.order_by("created_at", "pk").values_list(
                "pk", "name"
            )
        ],
        "category": list(
            ErrorCategory.objects.order_by("kind", "sort_order", "code").values_list("code", "name")
        ),
        "kind": list(ErrorCategory.Kind.choices),
        "genre": list(Genre.objects.order_by("name").values_list("slug", "name")),
        "culture": [(slug, f"{name} ({region})") for slug, name, region in cultures],
        "region": [(region, region) for region in sorted({c[2] for c in cultures})],
        "aspect": list(ErrorCategory.Aspect.choices),
        "target": list(Flag.Target.choices),
        "severity": list(Flag.Severity.choices),
    }


BOOTSTRAP_CACHE_SECONDS = 7 * 24 * 3600


def _bootstrap(values: list[float], zeros: int) -> tuple[float, float]:
    """``bootstrap_mean_ci`` of these values, cached by their multiset (a page has many small cells,
    each asked for again on every load; 2,000 resamples each add up)."""
    data = np.sort(np.asarray(values, dtype=np.float64))
    digest = hashlib.sha256(data.tobytes())
    digest.update(f"|{zeros}|{RESAMPLES}|{SEED}".encode())
    key = f"audit:bootstrap:{digest.hexdigest()}"
    found = cache.get(key)
    if found is None:
        found = tuple(bootstrap_mean_ci(data, zeros=zeros))
        cache.set(key, found, BOOTSTRAP_CACHE_SECONDS)
    return found[0], found[1]


# --- Rates -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RateRow:
    """One cell: its units, experts, flagged share (Wilson) and flags per 100 words (bootstrap)."""

    cell: dict[str, str]
    labels: dict[str, str]
    n_generations: int
    n_experts: int
    n_flagged: int
    share_flagged: float | None
    share_low: float | None
    share_high: float | None
    per_100_words: float | None
    per_100_words_low: float | None
    per_100_words_high: float | None
    n_word_generations: int
    n_flags: int

    @property
    def small_sample(self) -> bool:
        return self.n_generations < SMALL_SAMPLE


@dataclass(frozen=True)
class _CellSums:
    """What the database sums per cell: flagged units, flags, and the per-generation rates' sum,
    sum of squares and number of non-zero ones (the normal interval's inputs)."""

    flagged: int = 0
    flags: int = 0
    rate_sum: float = 0.0
    rate_squares: float = 0.0
    nonzero: int = 0


_NO_FLAGS = _CellSums()


def _rate_row(
    cell: dict[str, str],
    labels: dict[str, str],
    *,
    n: int,
    experts: int,
    word_units: int,
    sums: _CellSums,
    rate_values: list[float],
) -> RateRow:
    """One cell's row. ``rate_values`` are its non-zero per-generation rates, read only when the
    interval is the bootstrap (``uses_bootstrap``); otherwise the sums give the normal interval."""
    share = low = high = None
    if n:
        share = sums.flagged / n
        low, high = wilson(sums.flagged, n, Z95)
    per_word = per_low = per_high = None
    if word_units:
        per_word = sums.rate_sum / word_units
        if uses_bootstrap(sums.nonzero):
            per_low, per_high = _bootstrap(rate_values, word_units - len(rate_values))
        else:
            per_low, per_high = normal_mean_ci(word_units, sums.rate_sum, sums.rate_squares)
    return RateRow(
        cell=cell,
        labels=labels,
        n_generations=n,
        n_experts=experts,
        n_flagged=sums.flagged,
        share_flagged=share,
        share_low=low,
        share_high=high,
        per_100_words=per_word,
        per_100_words_low=per_low,
        per_100_words_high=per_high,
        n_word_generations=word_units,
        n_flags=sums.flags,
    )


class _Labels:
    """Names of the values of every dimension, read once per selector call."""

    def __init__(self, taxonomy: list[Category]) -> None:
        self.categories = {c.id: c for c in taxonomy}
        self.category_by_code = {c.code: c for c in taxonomy}
        self.versions = dict(ModelVersion.objects.values_list("pk", "name"))
        self.genres = {
            pk: (slug, name) for pk, slug, name in Genre.objects.values_list("pk", "slug", "name")
        }
        self.cultures = {
            pk: (slug, name, region)
            for pk, slug, name, region in Culture.objects.values_list(
                "pk", "slug", "name", "region"
            )
        }

    def value_and_label(self, dim: str, raw: Any) -> tuple[str, str]:
        if dim == "model_version":
            return str(raw), self.versions.get(raw, f"#{raw}")
        if dim == "genre":
            slug, name = self.genres.get(raw, (str(raw), str(raw)))
            return slug, name
        if dim == "culture":
            slug, name, _region = self.cultures.get(raw, (str(raw), str(raw), ""))
            return slug, name
        if dim == "region":
            return str(raw), str(raw)
        if dim == "category":
            category = self.categories.get(raw)
            return (category.code, category.name) if category else (str(raw), str(raw))
        choices = {"kind": ErrorCategory.Kind, "aspect": ErrorCategory.Aspect}.get(dim, Flag.Target)
        return str(raw), str(dict(choices.choices).get(raw, raw))


def _flag_combinations(
    dims: Sequence[str], filters: AuditFilters, taxonomy: list[Category]
) -> list[tuple[Any, ...]]:
    """The flag-level values to show for every generation-level cell, from the taxonomy."""
    if not dims:
        return [()]
    targets = counted_parts(filters)
    combos: dict[tuple[Any, ...], None] = {}
    for category in counted_categories(filters, taxonomy):
        if not category.is_active:
            continue  # retired categories appear only where flagged (added from the data)
        for target in targets:
            values = {
                "category": category.id,
                "kind": category.kind,
                "aspect": category.aspect,
                "target": target,
            }
            combos[tuple(values[d] for d in dims)] = None
    return list(combos)


@sql.tuned
def audit_rates(filters: AuditFilters, group_by: Sequence[str] = DEFAULT_GROUP_BY) -> list[RateRow]:
    """Share flagged and flags per 100 words per cell of ``group_by`` (see the module docstring).

    Three queries plus the label lookups: the taxonomy, experts per cell, and one statement for
    units per cell, flagged units and flags per (cell, flag values) and the per-generation rates
    the bootstrap of small cells needs; the two aggregates are cached under the version of the
    audit's inputs, bootstrap intervals by the values they are computed from.
    """
    dims = check_group_by(group_by)
    gdims = [d for d in dims if d in GENERATION_DIMENSIONS]
    fdims = [d for d in dims if d in FLAG_DIMENSIONS]
    taxonomy = read_taxonomy()
    experts = {
        tuple(row[:-1]): int(row[-1])
        for row in sql.fetch_cached(*sql.experts_per_cell(filters, gdims))
    }
    # Per cell: its units ("d" rows), its flagged units, flags and rate sums ("n"), and the rates
    # of cells whose interval is the bootstrap ("v"): see ``sql.rates``.
    fetched = sql.fetch_cached(*sql.rates(filters, taxonomy, gdims, fdims))
    width = len(gdims)
    key_width = width + len(fdims)
    denominators: list[tuple[Any, ...]] = []
    counted: dict[tuple[Any, ...], _CellSums] = {}
    values: dict[tuple[Any, ...], list[float]] = defaultdict(list)
    for tag, *found in fetched:
        key, numbers = tuple(found[:key_width]), found[key_width:]
        if tag == "d":
            denominators.append((*key[:width], *numbers[:4]))
        elif tag == "n":
            counted[key] = _CellSums(
                flagged=int(numbers[0] or 0),
                flags=int(numbers[1] or 0),
                rate_sum=float(numbers[2] or 0),
                rate_squares=float(numbers[3] or 0),
                nonzero=int(numbers[4] or 0),
            )
        else:
            values[key].append(float(numbers[0]))
    combos = _flag_combinations(fdims, filters, taxonomy)
    seen_combos = {key[width:] for key in counted}
    combos += [c for c in seen_combos if c not in set(combos)]
    labels = _Labels(taxonomy)
    rows: list[RateRow] = []
    for denominator in denominators:
        gkey = tuple(denominator[:width])
        n, think_units, answer_units, any_units = (int(v or 0) for v in denominator[width:])
        if n == 0 and gdims:
            continue
        for combo in combos:
            key = gkey + tuple(combo)
            sums = counted.get(key, _NO_FLAGS)
            part = dict(zip(fdims, combo, strict=True)).get("target", filters.target)
            word_units = {"reasoning": think_units, "caption": answer_units}.get(part, any_units)
            cell: dict[str, str] = {}
            cell_labels: dict[str, str] = {}
            for dim, raw in zip(gdims + fdims, key, strict=True):
                cell[dim], cell_labels[dim] = labels.value_and_label(dim, raw)
            rows.append(
                _rate_row(
                    {d: cell[d] for d in dims},
                    {d: cell_labels[d] for d in dims},
                    n=n,
                    experts=experts.get(gkey, 0),
                    word_units=word_units,
                    sums=sums,
                    rate_values=values.get(key, []),
                )
            )
    rows.sort(key=lambda r: tuple(r.labels[d].casefold() for d in dims))
    return rows


def audit_overall(filters: AuditFilters) -> RateRow:
    """The one cell of everything the filters count."""
    return audit_rates(filters, ())[0]


# --- Version comparison and lineage ------------------------------------------------------------------


@dataclass(frozen=True)
class McNemar:
    b: int  # pairs where only A's output was flagged
    c: int  # pairs where only B's output was flagged
    n_pairs: int
    p_value: float


@dataclass(frozen=True)
class VersionComparison:
    """Share flagged of A minus B, paired on the songs both were reviewed on when there are any."""

    version_a: ModelVersion
    version_b: ModelVersion
    a: RateRow
    b: RateRow
    shared_songs: int
    method: str  # "paired", "unpaired" or "" (a version has no reviewed output)
    difference: float | None
    low: float | None
    high: float | None
    significant: bool
    a_paired: float | None
    b_paired: float | None
    mcnemar: McNemar | None
    unpaired_difference: float | None
    unpaired_low: float | None
    unpaired_high: float | None


@sql.tuned
def audit_compare(
    version_a: ModelVersion, version_b: ModelVersion, filters: AuditFilters
) -> VersionComparison:
    """Compare two versions' share flagged under the same filters (their own version filter aside).

    Paired (when they share songs): per song, each version's share of flagged outputs; the
    difference is the mean over shared songs of A − B, with a bootstrap interval over songs, and
    McNemar's exact test when every shared song has exactly one output per version. Unpaired
    (always computed, the headline when no song is shared): Newcombe's interval on all units.
    """
    return _comparison(
        version_a, version_b, _rates_by_version([version_a, version_b], filters), filters
    )


def _comparison(
    version_a: ModelVersion,
    version_b: ModelVersion,
    by_version: Mapping[int, RateRow],
    filters: AuditFilters,
) -> VersionComparison:
    """``audit_compare`` given the versions' rate rows (the lineage has them for the whole chain)."""
    scoped = replace(filters, model_versions=(version_a.pk, version_b.pk))
    a = by_version.get(version_a.pk) or _empty_row(version_a)
    b = by_version.get(version_b.pk) or _empty_row(version_b)

    # Per shared song: (A's outputs, A's flagged, B's outputs, B's flagged).
    outcomes = np.array(_paired_outcomes(scoped, version_a.pk, version_b.pk), dtype=np.float64)
    shared = len(outcomes)
    a_shares = outcomes[:, 1] / outcomes[:, 0] if shared else np.zeros(0)
    b_shares = outcomes[:, 3] / outcomes[:, 2] if shared else np.zeros(0)
    mcnemar = None
    if shared and bool(np.all(outcomes[:, 0] == 1) and np.all(outcomes[:, 2] == 1)):
        only_a = int(np.sum((a_shares > 0) & (b_shares == 0)))
        only_b = int(np.sum((b_shares > 0) & (a_shares == 0)))
        mcnemar = McNemar(only_a, only_b, shared, mcnemar_exact(only_a, only_b))

    unpaired_difference: float | None = None
    unpaired_low: float | None = None
    unpaired_high: float | None = None
    if a.n_generations and b.n_generations:
        unpaired_difference, (unpaired_low, unpaired_high) = newcombe(
            a.n_flagged, a.n_generations, b.n_flagged, b.n_generations
        )
    difference: float | None
    low: float | None
    high: float | None
    if shared:
        paired = paired_bootstrap(a_shares, b_shares)
        method, difference, low, high = "paired", paired.mean, paired.low, paired.high
    elif unpaired_difference is not None:
        method, difference, low, high = "unpaired", unpaired_difference, unpaired_low, unpaired_high
    else:
        method, difference, low, high = "", None, None, None
    return VersionComparison(
        version_a=version_a,
        version_b=version_b,
        a=a,
        b=b,
        shared_songs=shared,
        method=method,
        difference=difference,
        low=low,
        high=high,
        significant=low is not None and high is not None and (low > 0 or high < 0),
        a_paired=float(a_shares.mean()) if shared else None,
        b_paired=float(b_shares.mean()) if shared else None,
        mcnemar=mcnemar,
        unpaired_difference=unpaired_difference,
        unpaired_low=unpaired_low,
        unpaired_high=unpaired_high,
    )


def _empty_row(version: ModelVersion) -> RateRow:
    return _rate_row(
        {"model_version": str(version.pk)},
        {"model_version": version.name},
        n=0,
        experts=0,
        word_units=0,
        sums=_NO_FLAGS,
        rate_values=[],
    )


def _paired_outcomes(
    filters: AuditFilters, version_a: int, version_b: int
) -> list[tuple[int, int, int, int]]:
    """Per song that both versions have units on: A's units and flagged units, then B's (one
    GROUP BY, only the shared songs read out)."""
    rows = sql.fetch_cached(*sql.paired_outcomes(filters, read_taxonomy(), version_a, version_b))
    return [(int(na), int(fa), int(nb), int(fb)) for na, fa, nb, fb in rows]


@dataclass(frozen=True)
class LineagePoint:
    version: ModelVersion
    depth: int  # 0 for the root of the chain
    rate: RateRow
    change: VersionComparison | None  # this version against its parent


@sql.tuned
def audit_lineage_trend(
    version: ModelVersion, filters: AuditFilters | None = None
) -> list[LineagePoint]:
    """The rate of each version from the root of ``version``'s parent chain down to it."""
    filters = filters or AuditFilters()
    chain = _chain(version)
    return _lineage(chain, _rates_by_version(chain, filters), filters)


@sql.tuned
def audit_compare_with_lineage(
    version_a: ModelVersion, version_b: ModelVersion, filters: AuditFilters
) -> tuple[VersionComparison, list[LineagePoint]]:
    """``audit_compare(version_a, version_b)`` and ``audit_lineage_trend(version_b)`` (the compare
    page shows both), with the versions' rates computed once for both."""
    chain = _chain(version_b)
    by_version = _rates_by_version([*chain, version_a], filters)
    return (
        _comparison(version_a, version_b, by_version, filters),
        _lineage(chain, by_version, filters),
    )


def _chain(version: ModelVersion) -> list[ModelVersion]:
    """``version``'s parent chain, root first (a cycle stops at the first repeat)."""
    parents = dict(ModelVersion.objects.values_list("pk", "parent_id"))
    pks = [version.pk]
    while parents.get(pks[-1]) is not None and parents[pks[-1]] not in pks:
        pks.append(parents[pks[-1]])
    loaded = ModelVersion.objects.in_bulk(pks[1:])
    chain = [version, *(loaded[pk] for pk in pks[1:])]
    chain.reverse()
    return chain


def _rates_by_version(
    versions: Sequence[ModelVersion], filters: AuditFilters
) -> dict[int, RateRow]:
    """Each version's rate row under ``filters`` (their own version filter aside): one query."""
    scoped = replace(filters, model_versions=tuple(dict.fromkeys(v.pk for v in versions)))
    return {int(r.cell["model_version"]): r for r in audit_rates(scoped, ("model_version",))}


def _lineage(
    chain: list[ModelVersion], by_version: Mapping[int, RateRow], filters: AuditFilters
) -> list[LineagePoint]:
    points: list[LineagePoint] = []
    for depth, member in enumerate(chain):
        change = _comparison(member, chain[depth - 1], by_version, filters) if depth else None
        points.append(
            LineagePoint(member, depth, by_version.get(member.pk) or _empty_row(member), change)
        )
    return points


# --- Blind spots -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlindSpotRow:
    level: str  # "region" or "culture"
    region: str
    culture: str  # slug; "" on region rows
    label: str
    rate: RateRow
    difference: float | None  # share flagged − the overall share flagged
    relation: (
        str  # "above", "below" (the Wilson interval excludes the overall), "in line", "no data"
    )
    small_sample: bool
    smallest: bool


@dataclass(frozen=True)
class CategoryCount:
    code: str
    name: str
    n_flags: int
    n_generations: int


@dataclass(frozen=True)
class BlindSpotReport:
    overall: RateRow
    regions: list[BlindSpotRow]
    cultures: list[BlindSpotRow]
    top_cultural_categories: dict[str, list[CategoryCount]]
    small_sample_threshold: int = field(default=SMALL_SAMPLE)


@sql.tuned
def audit_blind_spots(filters: AuditFilters) -> BlindSpotReport:
    """Rates per region and per culture/tradition against the overall rate, small samples marked,
    and each region's most frequent cultural error categories."""
    overall = audit_overall(filters)
    regions = _blind_spot_rows("region", audit_rates(filters, ("region",)), overall)
    region_of = dict(Culture.objects.values_list("slug", "region"))
    cultures = _blind_spot_rows(
        "culture", audit_rates(filters, ("culture",)), overall, region_of=region_of
    )
    regions.sort(key=lambda r: (-(r.rate.share_flagged or 0), r.label.casefold()))
    cultures.sort(key=lambda r: (r.region.casefold(), -(r.rate.share_flagged or 0), r.label))
    return BlindSpotReport(overall, regions, cultures, _top_cultural_categories(filters))


def _blind_spot_rows(
    level: str,
    rates: list[RateRow],
    overall: RateRow,
    *,
    region_of: Mapping[str, str] | None = None,
) -> list[BlindSpotRow]:
    smallest = min((r.n_generations for r in rates), default=0)
    rows = []
    for rate in rates:
        value = rate.cell[level]
        difference = relation = None
        if rate.share_flagged is None or overall.share_flagged is None:
            relation = "no data"
        else:
            difference = rate.share_flagged - overall.share_flagged
            assert rate.share_low is not None and rate.share_high is not None
            if rate.share_low > overall.share_flagged:
                relation = "above"
            elif rate.share_high < overall.share_flagged:
                relation = "below"
            else:
                relation = "in line"
        rows.append(
            BlindSpotRow(
                level=level,
                region=value if level == "region" else (region_of or {}).get(value, ""),
                culture="" if level == "region" else value,
                label=rate.labels[level],
                rate=rate,
                difference=difference,
                relation=relation,
                small_sample=rate.small_sample,
                smallest=rate.n_generations == smallest,
            )
        )
    return rows


def _top_cultural_categories(filters: AuditFilters) -> dict[str, list[CategoryCount]]:
    taxonomy = read_taxonomy()
    cultural = ErrorCategory.Kind.CULTURAL.value
    if filters.kinds and cultural not in filters.kinds:
        return {}
    scoped = replace(filters, kinds=(cultural,))
    rows = sql.fetch_cached(*sql.top_cultural_categories(scoped, taxonomy))
    categories = {c.id: c for c in taxonomy}
    by_region: dict[str, list[CategoryCount]] = defaultdict(list)
    for region, category_id, flags, generations in rows:
        category = categories[category_id]
        by_region[region].append(
            CategoryCount(category.code, category.name, int(flags), int(generations))
        )
    return {
        region: sorted(counts, key=lambda c: (-c.n_flags, c.code))[:TOP_CULTURAL_CATEGORIES]
        for region, counts in sorted(by_region.items())
    }


# --- Agreement ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgreementRow:
    category: str
    name: str
    kind: str
    aspect: str
    n_generations: int
    n_experts: int
    n_flags: int
    n_agreed: int
    agreement: float | None
    contested: bool
    k_of_n: list[tuple[int, int, int]]  # (k, n, how many (generation, category) pairs)


@sql.tuned
def audit_agreement(filters: AuditFilters) -> list[AgreementRow]:
    """Per category, how often a flag is matched by another expert's overlapping flag.

    Over generations with at least two counted reviews: a flag *agrees* when a flag of the same
    category on the same target by another reviewer shares at least one character with it; its *k*
    is the number of reviewers with such a flag, itself included. Per (generation, category) the
    largest k among its flags, against n = the generation's counted reviews, gives "k of n experts
    agree". Contested: agreement below one half. Two queries.
    """
    taxonomy = read_taxonomy()
    pairs, per_category = sql.agreement(filters, taxonomy)
    rows = sql.fetch_cached(*pairs)
    experts = {int(k): int(v) for k, v in sql.fetch_cached(*per_category)}
    totals: dict[int, list[int]] = defaultdict(lambda: [0, 0, 0])
    k_of_n: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for category_id, k, n, pairs, flags, agreed in rows:
        total = totals[category_id]
        total[0] += int(pairs)
        total[1] += int(flags)
        total[2] += int(agreed)
        k_of_n[category_id].append((int(k), int(n), int(pairs)))
    categories = {c.id: c for c in taxonomy}
    result = []
    for category_id, (generations, flags, agreed) in totals.items():
        category = categories[category_id]
        agreement = agreed / flags if flags else None
        result.append(
            AgreementRow(
                category=category.code,
                name=category.name,
                kind=category.kind,
                aspect=category.aspect,
                n_generations=generations,
                n_experts=int(experts.get(category_id, 0)),
                n_flags=flags,
                n_agreed=agreed,
                agreement=agreement,
                contested=agreement is not None and agreement < CONTESTED_BELOW,
                k_of_n=sorted(k_of_n[category_id]),
            )
        )
    result.sort(key=lambda r: (r.agreement if r.agreement is not None else math.inf, r.category))
    return result


# --- Drill-down --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpanRow:
    flag_id: int
    review_id: int
    generation_id: int
    model_version_id: int
    model_version: str
    song_id: int
    song: str
    category: str
    category_name: str
    kind: str
    aspect: str
    target: str
    severity: str
    quoted_text: str  # as the expert saw it: escape it when rendering
    start_char: int
    end_char: int
    audio_start_seconds: float | None
    audio_end_seconds: float | None
    expert_count: int
    submitted_at: datetime


@dataclass(frozen=True)
class SpanPage:
    rows: list[SpanRow]
    number: int
    per_page: int
    total: int
    num_pages: int

    @property
    def has_next(self) -> bool:
        return self.number < self.num_pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


@sql.tuned
def audit_spans(
    filters: AuditFilters,
    cell: Mapping[str, str] | None = None,
    *,
    page: int = 1,
    per_page: int = 50,
    max_per_page: int = MAX_PER_PAGE,
) -> SpanPage:
    """The counted flags of a cell, newest review first: what a figure rests on, page by page.

    ``expert_count`` is how many experts flagged an overlapping span of the same category and target
    (this one included). A page past the end shows the last page. ``per_page`` is capped at
    ``max_per_page`` (a page a person asks for; an export asks for more at once). Two queries.
    """
    scoped = filters.narrowed(cell or {})
    taxonomy = read_taxonomy()
    per_page = max(1, min(max_per_page, per_page))
    [(total,)] = sql.fetch_cached(*sql.span_count(scoped, taxonomy))
    total = int(total)
    num_pages = max(1, math.ceil(total / per_page))
    number = max(1, min(page, num_pages))
    rows = sql.fetch(*sql.spans(scoped, taxonomy, limit=per_page, offset=(number - 1) * per_page))
    spans = [
        SpanRow(
            flag_id=row[0],
            review_id=row[1],
            generation_id=row[2],
            model_version_id=row[3],
            model_version=row[4],
            song_id=row[5],
            song=f"{row[7]} — {row[6]}" if row[7] else row[6],
            category=row[8],
            category_name=row[9],
            kind=row[10],
            aspect=row[11],
            target=row[12],
            severity=row[13],
            quoted_text=row[14],
            start_char=row[15],
            end_char=row[16],
            audio_start_seconds=row[17],
            audio_end_seconds=row[18],
            submitted_at=sql.as_datetime(row[19]),
            expert_count=int(row[20]),
        )
        for row in rows
    ]
    return SpanPage(spans, number, per_page, total, num_pages)


__all__ = [
    "AgreementRow",
    "BlindSpotReport",
    "BlindSpotRow",
    "CategoryCount",
    "LineagePoint",
    "McNemar",
    "RateRow",
    "SpanPage",
    "SpanRow",
    "VersionComparison",
    "audit_agreement",
    "audit_blind_spots",
    "audit_compare",
    "audit_compare_with_lineage",
    "audit_lineage_trend",
    "audit_overall",
    "audit_rates",
    "audit_spans",
    "filter_choices",
]
