"""The audit's hand-built SQL: the one door through which the audit selectors reach the database.

Every statement the selectors run is built and run here, with the PostgreSQL (production) and SQLite
(the demo) differences in one place: the float type, ``NOT MATERIALIZED`` CTEs, the planner settings
of the large aggregates (``tuned``), ``= ANY(%s)`` against ``IN (…)`` for a list of ids
(``in_list``, which the refresh in ``annotations.audit.services`` uses too), and timestamps that
SQLite hands back as text (``as_datetime``).

- **Builders** return a ``Statement``, ``(sql, params)``: identifiers come from the models and from
  fixed names checked in ``annotations.audit.filters``; every value a person chose is a parameter.
  ``rates``, ``experts_per_cell``, ``paired_outcomes``, ``top_cultural_categories``, ``agreement``,
  ``span_count`` and ``spans`` are whole statements (their docstrings give the rows' shape);
  ``flags_overlap_sql`` is the join condition the agreement, the spans and the summaries' refresh
  share.
- **Running them**: ``fetch``, and ``fetch_cached`` for aggregates, cached under
  ``audit_facts_version()``, which ``services.audit_facts_changed`` replaces whenever the audit's
  inputs change.

It only reads. The statements that write the facts stay beside the services that run them
(``annotations.audit.services``, which may import this module, never the other way round), and so
does their one dialect branch: the word counts travel as one JSON array on PostgreSQL, row by row on
SQLite. The selectors turn the rows into the pages' figures.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotations.audit.filters import (
    SERIOUS,
    AuditFilters,
    Category,
    counted_categories,
    counted_parts,
    counted_severities,
)
from annotations.audit.models import (
    AuditFactsVersion,
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.audit.stats import BOOTSTRAP_BELOW
from annotations.generations.models import ModelVersion
from annotations.reviews.models import ErrorCategory, Flag
from annotations.songs.models import Culture, Genre, Song

P = ParamSpec("P")
R = TypeVar("R")

#: A statement and its parameters, ready for ``fetch`` or ``fetch_cached``.
Statement = tuple[str, list[Any]]


# --- Dialect -----------------------------------------------------------------------------------------


def _float() -> str:
    return "DOUBLE PRECISION" if connection.vendor == "postgresql" else "REAL"


# Each use of these subqueries is planned where it is used: materialised, 300,000 units cost four
# times more to write and scan back than to read again (PostgreSQL 12+ and SQLite 3.35+ syntax).
_INLINE = "NOT MATERIALIZED "


def in_list(ids: list[int]) -> tuple[str, list[Any]]:
    """``column <this>`` matching any of ``ids``, and its parameters: one array on PostgreSQL (one
    plan whatever the length), a placeholder per id on SQLite."""
    if connection.vendor == "postgresql":
        return "= ANY(%s)", [ids]
    return f"IN ({', '.join(['%s'] * len(ids))})", list(ids)


@contextmanager
def planner() -> Iterator[None]:
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


def tuned(function: Callable[P, R]) -> Callable[P, R]:
    """Run ``function`` (a selector of large aggregates) under ``planner``'s settings."""

    @wraps(function)
    def in_planner(*args: P.args, **kwargs: P.kwargs) -> R:
        with planner():
            return function(*args, **kwargs)

    return in_planner


def as_datetime(value: Any) -> datetime:
    """A timestamp column of a raw statement: SQLite's driver hands them back as text."""
    if isinstance(value, datetime):
        return value
    parsed = parse_datetime(str(value))
    if parsed is None:
        raise ValueError(f"Not a timestamp: {value!r}")
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


# --- Running statements ------------------------------------------------------------------------------


def fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of one statement."""
    with connection.cursor() as cursor:
        cursor.execute(sql, list(params))
        return list(cursor.fetchall())


# Aggregates are cached under the version of the audit's inputs (``audit_facts_version``), which
# every change to the facts, summaries or songs' tags replaces: a cached figure is never stale, and
# a dashboard reloaded while nobody submits costs one small query per aggregate.
ROWS_CACHE_SECONDS = 24 * 3600


def fetch_cached(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """``fetch`` of an aggregate over the audit's inputs, cached under their current version."""
    version = audit_facts_version()
    digest = hashlib.sha256(
        repr((connection.settings_dict["NAME"], version, sql, list(params))).encode()
    ).hexdigest()
    key = f"audit:rows:{digest}"
    found = cache.get(key)
    if found is None:
        found = fetch(sql, params)
        cache.set(key, found, ROWS_CACHE_SECONDS)
    return list(found)


def audit_facts_version() -> int:
    """The current version of the audit's inputs (``services.audit_facts_changed`` replaces it)."""
    found = AuditFactsVersion.objects.filter(pk=1).values_list("version", flat=True).first()
    return int(found or 0)


# --- Pieces ------------------------------------------------------------------------------------------


def _t(model: Any) -> str:
    return str(model._meta.db_table)


def _placeholders(values: Sequence[Any]) -> str:
    return ", ".join(["%s"] * len(values))


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


def _category_where(
    filters: AuditFilters, alias: str, taxonomy: list[Category]
) -> tuple[list[str], list[Any]]:
    """The category, kind and aspect filters, as the ids of the counted categories."""
    if not (filters.categories or filters.kinds or filters.aspects):
        return [], []
    ids = [c.id for c in counted_categories(filters, taxonomy)]
    return [f"{alias}.category_id IN ({_placeholders(ids)})" if ids else "1 = 0"], ids


def _flag_where(
    filters: AuditFilters, alias: str, taxonomy: list[Category]
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


def flags_overlap_sql(outer: str, inner: str) -> str:
    """Flags of another review on the same generation, category and part sharing a character."""
    return (
        f"{inner}.generation_id = {outer}.generation_id "
        f"AND {inner}.category_id = {outer}.category_id AND {inner}.target = {outer}.target "
        f"AND {inner}.review_fact_id <> {outer}.review_fact_id "
        f"AND {inner}.start_char < {outer}.end_char AND {outer}.start_char < {inner}.end_char"
    )


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
    filters: AuditFilters, taxonomy: list[Category], fdims: Sequence[str]
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
    severities = counted_severities(filters)
    serious = [severity for severity in severities if severity in SERIOUS]
    parts = counted_parts(filters)
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
    filters: AuditFilters, taxonomy: list[Category], fdims: Sequence[str]
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


# --- Statements ----------------------------------------------------------------------------------------


def experts_per_cell(filters: AuditFilters, gdims: Sequence[str]) -> Statement:
    """Distinct experts per cell of the generation-level dimensions ``gdims``: one row per cell, its
    grouped values (as ``_generation_grouping`` reads them) then the count; one row without ``gdims``.

    Distinct (cell, expert) pairs first: a hash rather than a sort of every review.
    """
    grouping = _generation_grouping(gdims, filters, "rf")
    where, where_params = _where(_review_where(filters, "rf"))
    aliases = [f"g{i}" for i in range(len(gdims))]
    inner = "".join(
        f"{expr} AS {alias}, " for expr, alias in zip(grouping.exprs, aliases, strict=True)
    )
    outer = ", ".join(aliases)
    return (
        f"SELECT {outer + ', ' if outer else ''}COUNT(*) FROM (SELECT DISTINCT {inner}"  # noqa: S608 (identifiers from models and fixed names; values are parameters)
        f"rf.expert_id FROM {_t(AuditReviewFact)} rf {grouping.joins} {where}) e"
        + (f" GROUP BY {outer}" if outer else ""),
        grouping.params + where_params,
    )


def rates(
    filters: AuditFilters, taxonomy: list[Category], gdims: Sequence[str], fdims: Sequence[str]
) -> Statement:
    """What ``audit_rates`` sums per cell, in one statement.

    u: one row per unit; x (``_unit_flags``): per unit and flag-level values, its counted flags
    (nf), major/critical ones (ns) and words (w); j: per unit and cell, its rate; c: per cell, the
    sums. Each row is a tag, the cell's keys (the values of ``gdims`` then of ``fdims``) and five
    numbers; three kinds of rows:

    - ``"d"`` per generation-level cell (its ``fdims`` keys NULL): units, and units with words in
      the reasoning, the answer, either; NULL.
    - ``"n"`` per (cell, flag values): flagged units, flags, the sum and sum of squares of the
      per-generation rates, and how many are non-zero.
    - ``"v"`` per (generation, cell, flag values) with flags, only in cells whose interval is the
      bootstrap (fewer than ``BOOTSTRAP_BELOW`` non-zero rates): its rate; four NULLs.
    """
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
    return (
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


def paired_outcomes(
    filters: AuditFilters, taxonomy: list[Category], version_a: int, version_b: int
) -> Statement:
    """Per song that both versions have units on, by song: (A's units, A's flagged units, B's
    units, B's flagged units). One GROUP BY; only the shared songs are read out."""
    units_sql, units_params = _units(filters)
    source_sql, source_params = _unit_flags(filters, taxonomy, ())
    return (
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


def top_cultural_categories(filters: AuditFilters, taxonomy: list[Category]) -> Statement:
    """Per (region, category) with counted flags: (region, category_id, flags, units flagged).

    One source row per (unit, category): its flags, and one generation; a song in two cultures of
    one region counts once in that region.
    """
    units_sql, units_params = _units(filters)
    source_sql, source_params = _unit_flags(filters, taxonomy, ("category",))
    return (
        f"WITH u AS {_units_materialised(filters)}({units_sql}) "  # noqa: S608 (identifiers from models; values are parameters)
        "SELECT sr.region, x.category, SUM(x.nf), COUNT(*) "
        f"FROM ({source_sql}) x JOIN (SELECT DISTINCT sc.song_id, c.region "
        f"FROM {_t(Song.cultures.through)} sc JOIN {_t(Culture)} c ON c.id = sc.culture_id) sr "
        "ON sr.song_id = x.song_id WHERE x.nf > 0 GROUP BY sr.region, x.category",
        units_params + source_params,
    )


def agreement(filters: AuditFilters, taxonomy: list[Category]) -> tuple[Statement, Statement]:
    """``audit_agreement``'s two statements: rows (category_id, k, n, pairs, flags, agreed), one per
    (category, k, n), and rows (category_id, experts).

    From the (generation, category) summaries, whose agreement counts every review and flag, when
    the filters restrict only generations, categories and the part; from the flag facts under a
    date range or a severity filter (they change which reviews and flags count, so which agree).
    """
    if _summarised(filters) and not filters.severities:
        return _agreement_from_summaries(filters, taxonomy)
    return _agreement_from_facts(filters, taxonomy)


def _agreement_from_facts(
    filters: AuditFilters, taxonomy: list[Category]
) -> tuple[Statement, Statement]:
    """``agreement`` from the flag facts: each flag joined to the overlapping flags of the counted
    reviews."""
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
    rows = (
        "SELECT g.category_id, g.k, g.n, COUNT(*), SUM(g.flags), SUM(g.agreed) FROM ("  # noqa: S608 (identifiers from models; values are parameters)
        "SELECT p.generation_id, p.category_id, p.n, MAX(p.k) AS k, COUNT(*) AS flags, "
        "SUM(CASE WHEN p.k >= 2 THEN 1 ELSE 0 END) AS agreed "
        f"FROM ({per_flag}) p GROUP BY p.generation_id, p.category_id, p.n) g "
        "GROUP BY g.category_id, g.k, g.n",
        multi_params + other_params + flag_params,
    )
    # Every reviewer of those generations stands behind the figure, flagging or not.
    experts = (
        "SELECT e.category_id, COUNT(*) FROM (SELECT DISTINCT fc.category_id, rf.expert_id "  # noqa: S608 (identifiers from models; values are parameters)
        f"FROM (SELECT DISTINCT f.generation_id, f.category_id FROM {flag_facts} f "
        f"JOIN ({multi}) m ON m.generation_id = f.generation_id {flag_clauses}) fc "
        f"JOIN {review_facts} rf ON rf.generation_id = fc.generation_id {multi_where}) e "
        "GROUP BY e.category_id",
        multi_params + flag_params + multi_params,
    )
    return rows, experts


def _agreement_from_summaries(
    filters: AuditFilters, taxonomy: list[Category]
) -> tuple[Statement, Statement]:
    """``agreement`` from the (generation, category) summaries, whose agreement counts every review
    and flag: right whenever the filters restrict only generations, categories and the part."""
    parts = counted_parts(filters)
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
    rows = (
        "SELECT p.category_id, p.k, p.n, COUNT(*), SUM(p.flags), SUM(p.agreed) "  # noqa: S608 (fixed names)
        f"FROM ({pairs}) p WHERE p.flags > 0 GROUP BY p.category_id, p.k, p.n",
        params,
    )
    experts = (
        "SELECT e.category_id, COUNT(*) FROM (SELECT DISTINCT p.category_id, rf.expert_id "  # noqa: S608 (identifiers from models; values are parameters)
        f"FROM ({pairs}) p JOIN {_t(AuditReviewFact)} rf ON rf.generation_id = p.generation_id "
        "WHERE p.flags > 0) e GROUP BY e.category_id",
        params,
    )
    return rows, experts


def span_count(filters: AuditFilters, taxonomy: list[Category]) -> Statement:
    """One row: how many flags the filters count."""
    where, params = _where(_review_where(filters, "ff"), _flag_where(filters, "ff", taxonomy))
    return f"SELECT COUNT(*) FROM {_t(AuditFlagFact)} ff {where}", params  # noqa: S608 (identifiers from models; values are parameters)


def spans(filters: AuditFilters, taxonomy: list[Category], *, limit: int, offset: int) -> Statement:
    """The counted flags, newest review first, ``limit`` of them from ``offset``: per flag its
    flag, review, generation, version (id, name), song (id, title, artist), category (code, name),
    kind, aspect, target, severity, quoted text, characters, seconds and submission time (20
    columns), then how many experts flagged an overlapping span of the same category and target
    among the counted flags (this one included)."""
    flag_facts = _t(AuditFlagFact)
    where, params = _where(_review_where(filters, "ff"), _flag_where(filters, "ff", taxonomy))
    other_clauses, other_params = _where(
        _review_where(filters, "o"), _flag_where(filters, "o", taxonomy)
    )
    other_where = other_clauses.replace("WHERE ", " AND ", 1)
    return (
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
        other_params + params + [limit, offset],
    )
