"""What the audit pages show: error rates with their uncertainty, version comparisons, blind spots,
expert agreement and the flagged spans behind any figure.

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
  non-zero rates (``audit_stats.BOOTSTRAP_BELOW``); from there the normal interval of the mean.
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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

import numpy as np
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from annotations.audit.models import (
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.audit.services import audit_facts_version, flags_overlap_sql
from annotations.audit.stats import (
    BOOTSTRAP_BELOW,
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
from annotations.core.errors import ValidationFailed
from annotations.generations.models import ModelVersion
from annotations.reviews.models import ErrorCategory, Flag
from annotations.songs.models import Culture, Genre, Song

P = ParamSpec("P")
R = TypeVar("R")

GENERATION_DIMENSIONS = ("model_version", "genre", "culture", "region")
FLAG_DIMENSIONS = ("category", "kind", "aspect", "target")
DIMENSIONS = GENERATION_DIMENSIONS + FLAG_DIMENSIONS
DIMENSION_LABELS = {
    "model_version": "Model version",
    "genre": "Genre",
    "culture": "Culture / tradition",
    "region": "Region",
    "category": "Error category",
    "kind": "Kind",
    "aspect": "Caption aspect",
    "target": "Reasoning vs answer",
}
DEFAULT_GROUP_BY = ("model_version",)
SERIOUS = (Flag.Severity.MAJOR.value, Flag.Severity.CRITICAL.value)
_PARTS = tuple(Flag.Target.values)  # the parts of an output a flag is on: caption, reasoning
SMALL_SAMPLE = 30  # fewer units than this: the Wilson interval is wider than ±0.18 around ½
TOP_CULTURAL_CATEGORIES = 3
CONTESTED_BELOW = 0.5
MAX_PER_PAGE = 200


class AuditFilterError(ValidationFailed):
    """Filters a person typed or a stale link carried that do not make sense; one message per key."""

    code = "invalid_filter"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()), extra={"errors": errors})
        self.errors = errors


# --- Filters -----------------------------------------------------------------------------------------

# Query-string key → AuditFilters field, for the multi-valued filters.
_MULTI_KEYS = {
    "model_version": "model_versions",
    "category": "categories",
    "kind": "kinds",
    "genre": "genres",
    "culture": "cultures",
    "region": "regions",
    "aspect": "aspects",
    "severity": "severities",
}


@dataclass(frozen=True)
class AuditFilters:
    """What the audit counts. Empty means everything; values are query-string values (slugs, codes)."""

    model_versions: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    cultures: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    target: str = ""
    severities: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_query(cls, query: Any) -> AuditFilters:
        """Parse a QueryDict (or a mapping of key → list of values); unknown values are refused.

        Raises ``AuditFilterError`` whose ``errors`` maps each bad key to a message to show.
        """
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for key, name in _MULTI_KEYS.items():
            raw = _values(query, key)
            if key == "model_version":
                ids: list[int] = []
                for value in raw:
                    if not value.isdigit():
                        errors[key] = f"Model version “{value}” is not a version id."
                        break
                    ids.append(int(value))
                values[name] = tuple(dict.fromkeys(ids))
            else:
                values[name] = tuple(dict.fromkeys(raw))
        target = _values(query, "target")
        if len(target) > 1:
            errors["target"] = "Choose one target: reasoning or answer, or neither for both."
        values["target"] = target[0] if target else ""
        for key in ("date_from", "date_to"):
            raw = _values(query, key)
            values[key] = None
            if raw:
                parsed = _parse_day(raw[0])
                if parsed is None:
                    errors[key] = f"“{raw[0]}” is not a date: use YYYY-MM-DD."
                values[key] = parsed
        if (
            values["date_from"] is not None
            and values["date_to"] is not None
            and values["date_from"] > values["date_to"]
        ):
            errors["date_to"] = "The end date is before the start date."
        if "model_version" not in errors:
            errors.update(_unknown_values(values))
        if errors:
            raise AuditFilterError(errors)
        return cls(**values)

    def narrowed(self, cell: Mapping[str, str]) -> AuditFilters:
        """These filters with each of the cell's dimensions fixed to the cell's value."""
        changes: dict[str, Any] = {}
        for key, value in cell.items():
            if key not in DIMENSIONS:
                raise AuditFilterError({key: f"“{key}” is not an audit dimension."})
            if key == "target":
                changes["target"] = value
            elif key == "model_version":
                if not str(value).isdigit():
                    raise AuditFilterError({key: f"Model version “{value}” is not a version id."})
                changes["model_versions"] = (int(value),)
            else:
                changes[_MULTI_KEYS[key]] = (str(value),)
        return replace(self, **changes)

    def to_query(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs; ``from_query`` reads them back unchanged."""
        pairs: list[tuple[str, str]] = []
        for key, name in _MULTI_KEYS.items():
            pairs.extend((key, str(value)) for value in getattr(self, name))
        if self.target:
            pairs.append(("target", self.target))
        if self.date_from:
            pairs.append(("date_from", self.date_from.isoformat()))
        if self.date_to:
            pairs.append(("date_to", self.date_to.isoformat()))
        return pairs

    def describe(self) -> dict[str, Any]:
        """The set filters, JSON-able and readable (versions by name), for exports to record."""
        described: dict[str, Any] = {}
        names = dict(
            ModelVersion.objects.filter(pk__in=self.model_versions).values_list("pk", "name")
        )
        for key, name in _MULTI_KEYS.items():
            chosen = getattr(self, name)
            if chosen:
                described[key] = (
                    [f"{names.get(pk, '?')} (#{pk})" for pk in chosen]
                    if key == "model_version"
                    else list(chosen)
                )
        if self.target:
            described["target"] = self.target
        if self.date_from:
            described["date_from"] = self.date_from.isoformat()
        if self.date_to:
            described["date_to"] = self.date_to.isoformat()
        return described

    @property
    def is_empty(self) -> bool:
        return self == AuditFilters()


def _values(query: Any, key: str) -> list[str]:
    if hasattr(query, "getlist"):
        raw = query.getlist(key)
    else:
        found = query.get(key, [])
        raw = [found] if isinstance(found, str) else list(found)
    return [str(v).strip() for v in raw if str(v).strip()]


def _parse_day(value: str) -> date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


def _unknown_values(values: dict[str, Any]) -> dict[str, str]:
    """One message per key naming the first value the database does not know."""
    known: dict[str, Iterable[Any]] = {}
    if values["model_versions"]:
        known["model_version"] = ModelVersion.objects.filter(
            pk__in=values["model_versions"]
        ).values_list("pk", flat=True)
    if values["categories"]:
        known["category"] = ErrorCategory.objects.filter(code__in=values["categories"]).values_list(
            "code", flat=True
        )
    if values["genres"]:
        known["genre"] = Genre.objects.filter(slug__in=values["genres"]).values_list(
            "slug", flat=True
        )
    if values["cultures"]:
        known["culture"] = Culture.objects.filter(slug__in=values["cultures"]).values_list(
            "slug", flat=True
        )
    if values["regions"]:
        known["region"] = Culture.objects.filter(region__in=values["regions"]).values_list(
            "region", flat=True
        )
    known["kind"] = ErrorCategory.Kind.values
    known["aspect"] = ErrorCategory.Aspect.values
    known["severity"] = Flag.Severity.values
    nouns = {
        "model_version": "model version",
        "category": "error category",
        "genre": "genre",
        "culture": "culture",
        "region": "region",
        "kind": "kind of error",
        "aspect": "caption aspect",
        "severity": "severity",
    }
    errors: dict[str, str] = {}
    for key, allowed in known.items():
        allowed_set = set(allowed)
        for value in values[_MULTI_KEYS[key]]:
            if value not in allowed_set:
                errors[key] = f"Unknown {nouns[key]} “{value}”."
                break
    if values["target"] and values["target"] not in Flag.Target.values:
        errors["target"] = (
            f"Unknown target “{values['target']}”: use “caption” (the answer) or “reasoning”."
        )
    return errors


def parse_group_by(query: Any) -> tuple[str, ...]:
    """The ``group_by`` dimensions, in order (default: by model version; an empty value: none)."""
    present = query.getlist("group_by") if hasattr(query, "getlist") else _values(query, "group_by")
    if not present:
        return DEFAULT_GROUP_BY
    chosen = tuple(dict.fromkeys(v.strip() for v in present if v.strip()))
    unknown = [v for v in chosen if v not in DIMENSIONS]
    if unknown:
        raise AuditFilterError(
            {
                "group_by": f"Cannot group by “{unknown[0]}”: choose from "
                + ", ".join(DIMENSION_LABELS[d].lower() for d in DIMENSIONS)
                + "."
            }
        )
    return chosen


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


# --- SQL pieces --------------------------------------------------------------------------------------


def _t(model: Any) -> str:
    return str(model._meta.db_table)


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


def _float() -> str:
    return "DOUBLE PRECISION" if connection.vendor == "postgresql" else "REAL"


@dataclass
class _Category:
    id: int
    code: str
    name: str
    kind: str
    aspect: str
    is_active: bool


def _taxonomy() -> list[_Category]:
    return [
        _Category(*row)
        for row in ErrorCategory.objects.order_by("kind", "sort_order", "code").values_list(
            "id", "code", "name", "kind", "aspect", "is_active"
        )
    ]


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _review_where(filters: AuditFilters, alias: str) -> tuple[list[str], list[Any]]:
    """Which reviews count: those of the chosen versions and songs, submitted in the date range.

    ``alias`` is any of the audit's tables (all carry version and song; the fact tables also the
    submission time, which only a date range reads: the summaries are never read under one).
    """
    clauses: list[str] = []
    params: list[Any] = []
    if filters.model_versions:
        clauses.append(f"{alias}.model_version_id IN ({_placeholders(filters.model_versions)})")
        params.extend(filters.model_versions)
    if filters.date_from:
        clauses.append(f"{alias}.submitted_at >= %s")
        params.append(_day_start(filters.date_from))
    if filters.date_to:
        clauses.append(f"{alias}.submitted_at < %s")
        params.append(_day_start(filters.date_to + timedelta(days=1)))
    song_genres, song_cultures = _t(Song.genres.through), _t(Song.cultures.through)
    if filters.genres:
        clauses.append(
            f"EXISTS (SELECT 1 FROM {song_genres} xg JOIN {_t(Genre)} yg ON yg.id = xg.genre_id "  # noqa: S608 (identifiers from models; values are parameters)
            f"WHERE xg.song_id = {alias}.song_id AND yg.slug IN ({_placeholders(filters.genres)}))"
        )
        params.extend(filters.genres)
    for column, chosen in (("slug", filters.cultures), ("region", filters.regions)):
        if chosen:
            clauses.append(
                f"EXISTS (SELECT 1 FROM {song_cultures} xc JOIN {_t(Culture)} yc "  # noqa: S608 (identifiers from models; values are parameters)
                f"ON yc.id = xc.culture_id WHERE xc.song_id = {alias}.song_id "
                f"AND yc.{column} IN ({_placeholders(chosen)}))"
            )
            params.extend(chosen)
    return clauses, params


def _counted_categories(filters: AuditFilters, taxonomy: list[_Category]) -> list[_Category]:
    return [
        c
        for c in taxonomy
        if (not filters.categories or c.code in filters.categories)
        and (not filters.kinds or c.kind in filters.kinds)
        and (not filters.aspects or c.aspect in filters.aspects)
    ]


def _category_where(
    filters: AuditFilters, alias: str, taxonomy: list[_Category]
) -> tuple[list[str], list[Any]]:
    """The category, kind and aspect filters, as the ids of the counted categories."""
    if not (filters.categories or filters.kinds or filters.aspects):
        return [], []
    ids = [c.id for c in _counted_categories(filters, taxonomy)]
    return [f"{alias}.category_id IN ({_placeholders(ids)})" if ids else "1 = 0"], ids


def _parts(filters: AuditFilters) -> list[str]:
    """The parts of an output whose flags count. Checked, as they name the summaries' columns."""
    if filters.target and filters.target not in _PARTS:
        raise AuditFilterError({"target": f"Unknown target “{filters.target}”."})
    return [filters.target] if filters.target else list(_PARTS)


def _severities(filters: AuditFilters) -> list[str]:
    """The severities of the flags that count. Checked, as they name the summaries' columns."""
    for severity in filters.severities:
        if severity not in Flag.Severity.values:
            raise AuditFilterError({"severity": f"Unknown severity “{severity}”."})
    return list(filters.severities) or list(Flag.Severity.values)


def _flag_where(
    filters: AuditFilters, alias: str, taxonomy: list[_Category]
) -> tuple[list[str], list[Any]]:
    """Which flags count (of the counted reviews: combine with ``_review_where`` on the same alias)."""
    clauses, params = _category_where(filters, alias, taxonomy)
    if filters.target:
        clauses.append(f"{alias}.target = %s")
        params.append(filters.target)
    if filters.severities:
        clauses.append(f"{alias}.severity IN ({_placeholders(filters.severities)})")
        params.extend(filters.severities)
    return clauses, params


def _where(*parts: tuple[list[str], list[Any]]) -> tuple[str, list[Any]]:
    clauses = [c for part in parts for c in part[0]]
    params = [p for part in parts for p in part[1]]
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


@dataclass
class _GenerationGrouping:
    """Joins from a row with a ``song_id`` to its genres/cultures, and the grouped expressions."""

    joins: str
    params: list[Any]
    exprs: list[str]


def _generation_grouping(
    dims: Sequence[str], filters: AuditFilters, alias: str
) -> _GenerationGrouping:
    joins: list[str] = []
    params: list[Any] = []
    exprs: list[str] = []
    song_genres, song_cultures = _t(Song.genres.through), _t(Song.cultures.through)
    if "genre" in dims:
        restrict = ""
        if filters.genres:
            # Grouping by a filtered dimension shows the chosen values only.
            restrict = (
                f" AND sg.genre_id IN (SELECT id FROM {_t(Genre)} "  # noqa: S608 (identifiers from models; values are parameters)
                f"WHERE slug IN ({_placeholders(filters.genres)}))"
            )
            params.extend(filters.genres)
        joins.append(f"JOIN {song_genres} sg ON sg.song_id = {alias}.song_id{restrict}")
    if "culture" in dims:
        restrict_parts: list[str] = []
        if filters.cultures:
            restrict_parts.append(f"sc_c.slug IN ({_placeholders(filters.cultures)})")
            params.extend(filters.cultures)
        if filters.regions:
            restrict_parts.append(f"sc_c.region IN ({_placeholders(filters.regions)})")
            params.extend(filters.regions)
        restrict = "".join(f" AND {part}" for part in restrict_parts)
        joins.append(
            f"JOIN {song_cultures} sc ON sc.song_id = {alias}.song_id "
            f"JOIN {_t(Culture)} sc_c ON sc_c.id = sc.culture_id{restrict}"
        )
    elif "region" in dims:
        # One row per (song, region) even when a song has two cultures of one region.
        restrict = ""
        if filters.regions:
            restrict = f" WHERE c.region IN ({_placeholders(filters.regions)})"
            params.extend(filters.regions)
        joins.append(
            f"JOIN (SELECT DISTINCT x.song_id, c.region FROM {song_cultures} x "  # noqa: S608 (identifiers from models; values are parameters)
            f"JOIN {_t(Culture)} c ON c.id = x.culture_id{restrict}) sr "
            f"ON sr.song_id = {alias}.song_id"
        )
    for dim in dims:
        if dim == "model_version":
            exprs.append(f"{alias}.model_version_id")
        elif dim == "genre":
            exprs.append("sg.genre_id")
        elif dim == "culture":
            exprs.append("sc_c.id")
        elif dim == "region":
            exprs.append("sc_c.region" if "culture" in dims else "sr.region")
    return _GenerationGrouping(" ".join(joins), params, exprs)


_FLAG_COLUMNS = {"category": "category_id", "kind": "kind", "aspect": "aspect", "target": "target"}


def _fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


# Aggregates are cached under the version of the audit's inputs (``audit_facts_version``), which
# every change to the facts, summaries or songs' tags replaces: a cached figure is never stale, and
# a dashboard reloaded while nobody submits costs one small query per aggregate.
ROWS_CACHE_SECONDS = 24 * 3600


def _fetch_cached(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``_fetch`` of an aggregate over the audit's inputs, cached under their current version."""
    version = audit_facts_version()
    digest = hashlib.sha256(
        repr((connection.settings_dict["NAME"], version, sql, list(params))).encode()
    ).hexdigest()
    key = f"audit:rows:{digest}"
    found = cache.get(key)
    if found is None:
        found = _fetch(sql, params)
        cache.set(key, found, ROWS_CACHE_SECONDS)
    return list(found)


@contextmanager
def _planner() -> Iterator[None]:
    """PostgreSQL settings for the audit's few large aggregates, for this transaction only.

    JIT compilation costs more than it saves on these (its estimate of the joined rows is far too
    high), and the per-generation hash aggregates spill to disk at the default work_mem.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
            cursor.execute("SET LOCAL work_mem = '64MB'")
        yield


def _tuned(function: Callable[P, R]) -> Callable[P, R]:
    @wraps(function)
    def tuned(*args: P.args, **kwargs: P.kwargs) -> R:
        with _planner():
            return function(*args, **kwargs)

    return tuned


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


# Each use of these subqueries is planned where it is used: materialised, 300,000 units cost four
# times more to write and scan back than to read again (PostgreSQL 12+ and SQLite 3.35+ syntax).
_INLINE = "NOT MATERIALIZED "


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


def _check_group_by(group_by: Sequence[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(group_by))
    unknown = [d for d in chosen if d not in DIMENSIONS]
    if unknown:
        raise AuditFilterError({"group_by": f"Cannot group by “{unknown[0]}”."})
    return chosen


class _Labels:
    """Names of the values of every dimension, read once per selector call."""

    def __init__(self, taxonomy: list[_Category]) -> None:
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
    dims: Sequence[str], filters: AuditFilters, taxonomy: list[_Category]
) -> list[tuple[Any, ...]]:
    """The flag-level values to show for every generation-level cell, from the taxonomy."""
    if not dims:
        return [()]
    targets = _parts(filters)
    combos: dict[tuple[Any, ...], None] = {}
    for category in _counted_categories(filters, taxonomy):
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


@_tuned
def audit_rates(filters: AuditFilters, group_by: Sequence[str] = DEFAULT_GROUP_BY) -> list[RateRow]:
    """Share flagged and flags per 100 words per cell of ``group_by`` (see the module docstring).

    Three queries plus the label lookups: the taxonomy, experts per cell, and one statement for
    units per cell, flagged units and flags per (cell, flag values) and the per-generation rates
    the bootstrap of small cells needs; the two aggregates are cached under the version of the
    audit's inputs, bootstrap intervals by the values they are computed from.
    """
    dims = _check_group_by(group_by)
    gdims = [d for d in dims if d in GENERATION_DIMENSIONS]
    fdims = [d for d in dims if d in FLAG_DIMENSIONS]
    taxonomy = _taxonomy()
    review_facts = _t(AuditReviewFact)

    # Distinct experts per cell: distinct (cell, expert) pairs first, a hash rather than a sort of
    # every review.
    grouping = _generation_grouping(gdims, filters, "rf")
    where, where_params = _where(_review_where(filters, "rf"))
    aliases = [f"g{i}" for i in range(len(gdims))]
    inner = "".join(
        f"{expr} AS {alias}, " for expr, alias in zip(grouping.exprs, aliases, strict=True)
    )
    outer = ", ".join(aliases)
    experts = {
        tuple(row[:-1]): int(row[-1])
        for row in _fetch_cached(
            f"SELECT {outer + ', ' if outer else ''}COUNT(*) FROM (SELECT DISTINCT {inner}"  # noqa: S608 (identifiers from models and fixed names; values are parameters)
            f"rf.expert_id FROM {review_facts} rf {grouping.joins} {where}) e"
            + (f" GROUP BY {outer}" if outer else ""),
            grouping.params + where_params,
        )
    }

    # One statement. u: one row per unit; x (``_unit_flags``): per unit and flag-level values, its
    # counted flags (nf), major/critical ones (ns) and words (w); j: per unit and cell, its rate;
    # c: per cell, the sums. Three kinds of rows:
    #   "d" per cell: units, and units with words in the reasoning, the answer, either;
    #   "n" per (cell, flag values): flagged units, flags, the sum and sum of squares of the
    #       per-generation rates, and how many are non-zero;
    #   "v" per (generation, cell, flag values) with flags, only in cells whose interval is the
    #       bootstrap (fewer than BOOTSTRAP_BELOW non-zero rates): its rate.
    units_sql, units_params = _units(filters)
    source_sql, source_params = _unit_flags(filters, taxonomy, fdims)
    ugrouping = _generation_grouping(gdims, filters, "u")
    xgrouping = _generation_grouping(gdims, filters, "x")
    gcols = ugrouping.exprs
    keys = [f"k{i}" for i in range(len(gdims) + len(fdims))]
    key_exprs = xgrouping.exprs + [f"x.{d}" for d in fdims]
    rate = f"CASE WHEN x.w > 0 THEN CAST(x.nf AS {_float()}) * 100 / (x.nr * x.w) ELSE 0 END"
    j = (
        "SELECT "  # noqa: S608 (identifiers from models and fixed names; values are parameters)
        + "".join(f"{expr} AS {key}, " for expr, key in zip(key_exprs, keys, strict=True))
        + f"x.nf AS nf, x.ns AS ns, x.w AS w, {rate} AS r FROM ({source_sql}) x "
        f"{xgrouping.joins} WHERE x.nf > 0"
    )
    c = (
        "SELECT "  # noqa: S608 (fixed names)
        + "".join(f"{key}, " for key in keys)
        + "SUM(CASE WHEN ns > 0 THEN 1 ELSE 0 END) AS flagged, SUM(nf) AS flags, SUM(r) AS rs, "
        "SUM(r * r) AS rss, SUM(CASE WHEN w > 0 THEN 1 ELSE 0 END) AS m FROM j"
        + (f" GROUP BY {', '.join(keys)}" if keys else "")
    )
    same_cell = " AND ".join(f"j.{key} = c.{key}" for key in keys) or "1 = 1"
    fetched = _fetch_cached(
        f"WITH u AS {_units_materialised(filters)}({units_sql}), j AS {_INLINE}({j}), "  # noqa: S608 (identifiers from models and fixed names; values are parameters)
        f"c AS ({c}) SELECT 'd', "
        + "".join(f"{col}, " for col in gcols + ["NULL"] * len(fdims))
        + "COUNT(*), SUM(CASE WHEN u.wt > 0 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN u.wa > 0 THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN u.wt + u.wa > 0 THEN 1 ELSE 0 END), NULL "
        f"FROM u {ugrouping.joins}"
        + (f" GROUP BY {', '.join(gcols)}" if gcols else "")
        + " UNION ALL SELECT 'n', "
        + "".join(f"{key}, " for key in keys)
        + "flagged, flags, rs, rss, m FROM c UNION ALL SELECT 'v', "
        + "".join(f"j.{key}, " for key in keys)
        + f"j.r, NULL, NULL, NULL, NULL FROM j JOIN c ON {same_cell} WHERE c.m < %s AND j.w > 0 "  # noqa: S608 (fixed names)
        # Evaluated once, first: without a cell to bootstrap, j is not computed a second time.
        "AND EXISTS (SELECT 1 FROM c AS small WHERE small.m < %s)",
        units_params
        + source_params
        + xgrouping.params
        + ugrouping.params
        + [BOOTSTRAP_BELOW, BOOTSTRAP_BELOW],
    )
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


def _summarised(filters: AuditFilters) -> bool:
    """Whether the summaries serve these filters: they count every review, so not in a date range."""
    return not (filters.date_from or filters.date_to)


def _units(filters: AuditFilters) -> tuple[str, list[Any]]:
    """One row per unit: generation_id, model_version_id, song_id, wt and wa (words of the
    reasoning and the answer) and nr (its counted reviews)."""
    if not _summarised(filters):
        return _units_subquery(filters)
    where, params = _where(_review_where(filters, "s"))
    return (
        "SELECT s.generation_id, s.model_version_id, s.song_id, s.words_think AS wt, "  # noqa: S608 (identifiers from models; values are parameters)
        f"s.words_answer AS wa, s.n_reviews AS nr FROM {_t(AuditGenerationFact)} s {where}",
        params,
    )


def _units_materialised(filters: AuditFilters) -> str:
    # The summary is cheaper to read twice than to materialise; the review facts' GROUP BY is not.
    return _INLINE if _summarised(filters) else ""


def _unit_flags(
    filters: AuditFilters, taxonomy: list[_Category], fdims: Sequence[str]
) -> tuple[str, list[Any]]:
    """Per unit and value of the flag-level dimensions ``fdims``: generation_id, model_version_id,
    song_id, nr, w (the words the rate divides by), the ``fdims`` columns, nf (counted flags) and
    ns (of which major or critical). Rows may have nf = 0. Under a date range it reads the flag
    facts and joins the CTE ``u``; otherwise one of the summaries, as they are when a row is
    already one per (unit, values), else summed per unit."""
    if not _summarised(filters):
        flags_sql, flags_params = _flagged_subquery(filters, taxonomy, fdims)
        columns = "".join(f"fa.{d}, " for d in fdims)
        return (
            "SELECT u.generation_id, u.model_version_id, u.song_id, u.nr, "  # noqa: S608 (identifiers from models; values are parameters)
            f"{_words_expr(filters, fdims)} AS w, {columns}fa.nf, fa.ns FROM ({flags_sql}) fa "
            "JOIN u ON u.generation_id = fa.generation_id",
            flags_params,
        )
    severities = _severities(filters)
    serious = [severity for severity in severities if severity in SERIOUS]
    parts = _parts(filters)
    by_category = bool(
        filters.categories
        or filters.kinds
        or filters.aspects
        or {"category", "kind", "aspect"} & set(fdims)
    )
    table = _t(AuditGenerationCategoryFact if by_category else AuditGenerationFact)
    where, where_params = _where(
        _review_where(filters, "x"), _category_where(filters, "x", taxonomy)
    )
    category_columns = ", x.category_id AS category, x.kind, x.aspect" if by_category else ""
    # Grouped by part: one row per part, each with its own words.
    groups = [[part] for part in parts] if "target" in fdims else [parts]
    selects, params = [], []
    for group in groups:
        words = " + ".join(
            "x.words_think" if part == Flag.Target.REASONING else "x.words_answer" for part in group
        )
        target = f", '{group[0]}' AS target" if "target" in fdims else ""
        selects.append(
            "SELECT x.generation_id, x.model_version_id, x.song_id, x.n_reviews AS nr, "  # noqa: S608 (identifiers from models and fixed names; values are parameters)
            f"{words} AS w{category_columns}{target}, {_count_sum(group, severities)} AS nf, "
            f"{_count_sum(group, serious)} AS ns FROM {table} x {where}"
        )
        params.extend(where_params)
    rows = " UNION ALL ".join(selects)
    if not by_category or "category" in fdims:
        return rows, params
    # Several categories of one unit in a row each: their sums per unit and shown values.
    kept = "".join(f", {d}" for d in fdims)
    return (
        "SELECT generation_id, MIN(model_version_id) AS model_version_id, MIN(song_id) AS song_id, "  # noqa: S608 (fixed names)
        f"MIN(nr) AS nr, MIN(w) AS w{kept}, SUM(nf) AS nf, SUM(ns) AS ns FROM ({rows}) y "
        f"GROUP BY generation_id{kept}",
        params,
    )


def _count_sum(parts: Sequence[str], severities: Sequence[str]) -> str:
    """The sum of the summaries' n_<severity>_<part> columns (alias x) for these parts and severities."""
    columns = [f"x.n_{severity}_{part}" for part in parts for severity in severities]
    return f"({' + '.join(columns)})" if columns else "0"


def _units_subquery(filters: AuditFilters) -> tuple[str, list[Any]]:
    """One row per unit: its version, song, word counts and number of counted reviews."""
    where, params = _where(_review_where(filters, "rf"))
    return (
        "SELECT rf.generation_id, MIN(rf.model_version_id) AS model_version_id, "  # noqa: S608 (identifiers from models; values are parameters)
        "MIN(rf.song_id) AS song_id, MIN(rf.words_think) AS wt, MIN(rf.words_answer) AS wa, "
        f"COUNT(*) AS nr FROM {_t(AuditReviewFact)} rf {where} GROUP BY rf.generation_id",
        params,
    )


def _flagged_subquery(
    filters: AuditFilters, taxonomy: list[_Category], fdims: Sequence[str]
) -> tuple[str, list[Any]]:
    """Per (generation, flag-level values): counted flags (nf) and major/critical ones (ns)."""
    where, params = _where(_review_where(filters, "ff"), _flag_where(filters, "ff", taxonomy))
    columns = "".join(f", ff.{_FLAG_COLUMNS[d]} AS {d}" for d in fdims)
    group = "".join(f", ff.{_FLAG_COLUMNS[d]}" for d in fdims)
    return (
        f"SELECT ff.generation_id{columns}, COUNT(*) AS nf, "  # noqa: S608 (identifiers from models; values are parameters)
        f"SUM(CASE WHEN ff.severity IN (%s, %s) THEN 1 ELSE 0 END) AS ns "
        f"FROM {_t(AuditFlagFact)} ff {where} GROUP BY ff.generation_id{group}",
        [*SERIOUS, *params],
    )


def _words_expr(filters: AuditFilters, fdims: Sequence[str]) -> str:
    if "target" in fdims:
        return "(CASE WHEN fa.target = 'reasoning' THEN u.wt ELSE u.wa END)"
    if filters.target == Flag.Target.REASONING:
        return "u.wt"
    if filters.target == Flag.Target.CAPTION:
        return "u.wa"
    return "(u.wt + u.wa)"


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


@_tuned
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
    units_sql, units_params = _units(filters)
    source_sql, source_params = _unit_flags(filters, _taxonomy(), ())
    rows = _fetch_cached(
        f"WITH u AS {_units_materialised(filters)}({units_sql}) "  # noqa: S608 (identifiers from models; values are parameters)
        "SELECT p.na, p.fa, p.nb, p.fb FROM (SELECT u.song_id, "
        "SUM(CASE WHEN u.model_version_id = %s THEN 1 ELSE 0 END) AS na, "
        "SUM(CASE WHEN u.model_version_id = %s AND x.generation_id IS NOT NULL THEN 1 ELSE 0 END) "
        "AS fa, SUM(CASE WHEN u.model_version_id = %s THEN 1 ELSE 0 END) AS nb, "
        "SUM(CASE WHEN u.model_version_id = %s AND x.generation_id IS NOT NULL THEN 1 ELSE 0 END) "
        f"AS fb FROM u LEFT JOIN (SELECT generation_id FROM ({source_sql}) y WHERE y.ns > 0) x "
        "ON x.generation_id = u.generation_id GROUP BY u.song_id) p "
        "WHERE p.na > 0 AND p.nb > 0 ORDER BY p.song_id",
        units_params + [version_a, version_a, version_b, version_b] + source_params,
    )
    return [(int(na), int(fa), int(nb), int(fb)) for na, fa, nb, fb in rows]


@dataclass(frozen=True)
class LineagePoint:
    version: ModelVersion
    depth: int  # 0 for the root of the chain
    rate: RateRow
    change: VersionComparison | None  # this version against its parent


@_tuned
def audit_lineage_trend(
    version: ModelVersion, filters: AuditFilters | None = None
) -> list[LineagePoint]:
    """The rate of each version from the root of ``version``'s parent chain down to it."""
    filters = filters or AuditFilters()
    chain = _chain(version)
    return _lineage(chain, _rates_by_version(chain, filters), filters)


@_tuned
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


@_tuned
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
    taxonomy = _taxonomy()
    cultural = ErrorCategory.Kind.CULTURAL.value
    if filters.kinds and cultural not in filters.kinds:
        return {}
    scoped = replace(filters, kinds=(cultural,))
    units_sql, units_params = _units(scoped)
    source_sql, source_params = _unit_flags(scoped, taxonomy, ("category",))
    # One source row per (unit, category): its flags, and one generation.
    rows = _fetch_cached(
        f"WITH u AS {_units_materialised(scoped)}({units_sql}) "  # noqa: S608 (identifiers from models; values are parameters)
        "SELECT sr.region, x.category, SUM(x.nf), COUNT(*) "
        f"FROM ({source_sql}) x JOIN (SELECT DISTINCT sc.song_id, c.region "
        f"FROM {_t(Song.cultures.through)} sc JOIN {_t(Culture)} c ON c.id = sc.culture_id) sr "
        "ON sr.song_id = x.song_id WHERE x.nf > 0 GROUP BY sr.region, x.category",
        units_params + source_params,
    )
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


@_tuned
def audit_agreement(filters: AuditFilters) -> list[AgreementRow]:
    """Per category, how often a flag is matched by another expert's overlapping flag.

    Over generations with at least two counted reviews: a flag *agrees* when a flag of the same
    category on the same target by another reviewer shares at least one character with it; its *k*
    is the number of reviewers with such a flag, itself included. Per (generation, category) the
    largest k among its flags, against n = the generation's counted reviews, gives "k of n experts
    agree". Contested: agreement below one half. Two queries.
    """
    taxonomy = _taxonomy()
    if _summarised(filters) and not filters.severities:
        rows, experts = _agreement_from_summaries(filters, taxonomy)
    else:
        rows, experts = _agreement_from_facts(filters, taxonomy)
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


def _agreement_from_facts(
    filters: AuditFilters, taxonomy: list[_Category]
) -> tuple[list[tuple[Any, ...]], dict[int, int]]:
    """(category, k, n, pairs, flags, agreed) rows and experts per category, from the flag facts:
    each flag joined to the overlapping flags of the counted reviews (a date range or a severity
    filter changes which reviews and flags count, so which flags agree)."""
    review_facts, flag_facts = _t(AuditReviewFact), _t(AuditFlagFact)
    multi_where, multi_params = _where(_review_where(filters, "rf"))
    multi = (
        f"SELECT rf.generation_id, COUNT(*) AS n FROM {review_facts} rf {multi_where} "  # noqa: S608 (identifiers from models; values are parameters)
        "GROUP BY rf.generation_id HAVING COUNT(*) >= 2"
    )
    flag_clauses, flag_params = _where(
        _review_where(filters, "f"), _flag_where(filters, "f", taxonomy)
    )
    other_clauses, other_params = _where(
        _review_where(filters, "o"), _flag_where(filters, "o", taxonomy)
    )
    other_where = other_clauses.replace("WHERE ", " AND ", 1)
    # Per flag, k = 1 + the other reviews with an overlapping flag: a join on (generation,
    # category, target) — a handful of rows each — rather than a subquery per flag.
    per_flag = (
        "SELECT f.flag_id, f.generation_id, f.category_id, m.n, "  # noqa: S608 (identifiers from models; values are parameters)
        "1 + COUNT(DISTINCT o.review_fact_id) AS k "
        f"FROM {flag_facts} f JOIN ({multi}) m ON m.generation_id = f.generation_id "
        f"LEFT JOIN {flag_facts} o ON {flags_overlap_sql('f', 'o')}{other_where} {flag_clauses} "
        "GROUP BY f.flag_id, f.generation_id, f.category_id, m.n"
    )
    rows = _fetch_cached(
        "SELECT g.category_id, g.k, g.n, COUNT(*), SUM(g.flags), SUM(g.agreed) FROM ("  # noqa: S608 (identifiers from models; values are parameters)
        "SELECT p.generation_id, p.category_id, p.n, MAX(p.k) AS k, COUNT(*) AS flags, "
        "SUM(CASE WHEN p.k >= 2 THEN 1 ELSE 0 END) AS agreed "
        f"FROM ({per_flag}) p GROUP BY p.generation_id, p.category_id, p.n) g "
        "GROUP BY g.category_id, g.k, g.n",
        multi_params + other_params + flag_params,
    )
    # Every reviewer of those generations stands behind the figure, flagging or not.
    experts = dict(
        _fetch_cached(
            "SELECT e.category_id, COUNT(*) FROM (SELECT DISTINCT fc.category_id, rf.expert_id "  # noqa: S608 (identifiers from models; values are parameters)
            f"FROM (SELECT DISTINCT f.generation_id, f.category_id FROM {flag_facts} f "
            f"JOIN ({multi}) m ON m.generation_id = f.generation_id {flag_clauses}) fc "
            f"JOIN {review_facts} rf ON rf.generation_id = fc.generation_id {multi_where}) e "
            "GROUP BY e.category_id",
            multi_params + flag_params + multi_params,
        )
    )
    return rows, {int(k): int(v) for k, v in experts.items()}


def _agreement_from_summaries(
    filters: AuditFilters, taxonomy: list[_Category]
) -> tuple[list[tuple[Any, ...]], dict[int, int]]:
    """The same from the (generation, category) summaries, whose agreement counts every review and
    flag: right whenever the filters restrict only generations, categories and the part."""
    parts = _parts(filters)
    severities = list(Flag.Severity.values)
    where, params = _where(
        _review_where(filters, "x"),
        _category_where(filters, "x", taxonomy),
        (["x.n_reviews >= 2"], []),
    )
    largest = f"x.max_k_{parts[0]}"
    for part in parts[1:]:
        largest = f"CASE WHEN x.max_k_{part} > {largest} THEN x.max_k_{part} ELSE {largest} END"
    pairs = (
        "SELECT x.generation_id, x.category_id, x.n_reviews AS n, "  # noqa: S608 (identifiers from models and fixed names; values are parameters)
        f"{largest} AS k, {_count_sum(parts, severities)} AS flags, "
        f"{' + '.join(f'x.agreed_{part}' for part in parts)} AS agreed "
        f"FROM {_t(AuditGenerationCategoryFact)} x {where}"
    )
    rows = _fetch_cached(
        "SELECT p.category_id, p.k, p.n, COUNT(*), SUM(p.flags), SUM(p.agreed) "  # noqa: S608 (fixed names)
        f"FROM ({pairs}) p WHERE p.flags > 0 GROUP BY p.category_id, p.k, p.n",
        params,
    )
    experts = _fetch_cached(
        "SELECT e.category_id, COUNT(*) FROM (SELECT DISTINCT p.category_id, rf.expert_id "  # noqa: S608 (identifiers from models; values are parameters)
        f"FROM ({pairs}) p JOIN {_t(AuditReviewFact)} rf ON rf.generation_id = p.generation_id "
        "WHERE p.flags > 0) e GROUP BY e.category_id",
        params,
    )
    return rows, {int(k): int(v) for k, v in experts}


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


@_tuned
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
    taxonomy = _taxonomy()
    per_page = max(1, min(max_per_page, per_page))
    flag_facts = _t(AuditFlagFact)
    where, params = _where(_review_where(scoped, "ff"), _flag_where(scoped, "ff", taxonomy))
    [(total,)] = _fetch_cached(f"SELECT COUNT(*) FROM {flag_facts} ff {where}", params)  # noqa: S608 (identifiers from models; values are parameters)
    total = int(total)
    num_pages = max(1, math.ceil(total / per_page))
    number = max(1, min(page, num_pages))
    other_clauses, other_params = _where(
        _review_where(scoped, "o"), _flag_where(scoped, "o", taxonomy)
    )
    other_where = other_clauses.replace("WHERE ", " AND ", 1)
    rows = _fetch(
        "SELECT ff.flag_id, ff.review_fact_id, ff.generation_id, ff.model_version_id, mv.name, "  # noqa: S608 (identifiers from models; values are parameters)
        "ff.song_id, s.title, s.artist, c.code, c.name, ff.kind, ff.aspect, ff.target, "
        "ff.severity, fl.quoted_text, ff.start_char, ff.end_char, ff.audio_start_seconds, "
        "ff.audio_end_seconds, ff.submitted_at, "
        f"1 + (SELECT COUNT(DISTINCT o.expert_id) FROM {flag_facts} o "
        f"WHERE {flags_overlap_sql('ff', 'o')}{other_where}) "
        f"FROM {flag_facts} ff JOIN {_t(Flag)} fl ON fl.id = ff.flag_id "
        f"JOIN {_t(ModelVersion)} mv ON mv.id = ff.model_version_id "
        f"JOIN {_t(Song)} s ON s.id = ff.song_id "
        f"JOIN {_t(ErrorCategory)} c ON c.id = ff.category_id {where} "
        "ORDER BY ff.submitted_at DESC, ff.flag_id LIMIT %s OFFSET %s",
        other_params + params + [per_page, (number - 1) * per_page],
    )
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
            submitted_at=_as_datetime(row[19]),
            expert_count=int(row[20]),
        )
        for row in rows
    ]
    return SpanPage(spans, number, per_page, total, num_pages)


def _as_datetime(value: Any) -> datetime:
    # SQLite's driver hands raw-SQL timestamps back as text.
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"Not a timestamp: {value!r}")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


__all__ = [
    "DIMENSIONS",
    "DIMENSION_LABELS",
    "AgreementRow",
    "AuditFilterError",
    "AuditFilters",
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
    "parse_group_by",
]
