"""The audit dashboard at 1,000,000 flags on PostgreSQL: the product's pages vs. naive per-row Python.

Usage (via benchmarks/run.sh, which makes a throwaway database and migrates it):

    bash benchmarks/run.sh audit                  # 1,000,000 flags (~17 minutes on 2 cores)
    bash benchmarks/run.sh audit --flags 20000    # a quick check

What it does, in one run on one database:

1. **Build** (timed apart, not part of any measurement) with ``benchmarks.rewards.build`` (COPY;
   3 submitted reviews per output by distinct experts out of 50, ~1 flag per review on claims of
   the caption, minor/major/critical) and ``--flags`` / 0.99 flags, so that ~``--flags`` count once
   1 % of the reviews are drafts (below). Then, set-based, what an audit needs on top: a lineage
   of three model versions on the same songs (siblings 0-2 of every song stay with the base
   version, 3 goes to its retrained child, 4 to the grandchild; each retraining turns some major
   flags minor), one culture (with its region) and the style's genres per song, drawn with uneven
   weights so some cultures have few songs; the flags on a culture's songs partly recategorised as
   cultural errors (misattributed tradition, regional instrument name); 15 % of the tempo flags
   moved to the reasoning trace (the "about N BPM" span of its first step); an audio time per
   flag; reviews submitted over 600 days, one day per block of reviews, so a date window holds a
   subset of songs with all their versions; 1 % of reviews back to draft (their flags must count
   nowhere). ``VACUUM ANALYZE``.
2. **Refresh**: ``manage.py refresh_audit`` (the product's bulk command) over everything: wall time.
   Then ``ANALYZE`` of the two fact tables (what autovacuum does within a minute of a bulk write).
3. **Pages at N flags**: an auditor (Django test client: the real URLs, views, forms, templates and
   middleware; DEBUG off) requests nine pages: the dashboard grouped by version × category, filtered
   by one culture, by one genre (version × aspect), by reasoning vs answer, cultural errors by
   region; two versions compared with the lineage trend; the blind-spot report; agreement; the
   drill-down spans of one cell. Each URL once to warm, then rounds over all nine until
   ``--requests`` rounds (10) or ``--seconds`` (300; at least 3 rounds): p50/p95 per page, twice:
   *computed* (the cache emptied before each request, as after any review is submitted: every
   aggregate is computed from the summaries) and *cached* (nothing changed since the last view).
   Then the summaries are checked against the fact tables at N: every page's figures without a
   date range (summaries) and with one spanning every day (fact tables) must be equal.
4. **Like for like on a subset**: the date window (whole days) holding ~``--subset`` flags (10,000).
   The same pages with that window added to their filters (the product, computed; a date range
   reads the fact tables, not the summaries), and the same figures by a
   **naive** Python version, once per page: the ORM's rows one by one (the submitted reviews in the
   window; per generation its row, song, genres and cultures, its words counted; per review its
   flags with their categories) and the definitions evaluated in loops (Wilson and the bootstrap
   from ``annotations.audit.stats``, the same seed; paired per-song shares; span overlaps). It
   renders no template, so its time is a lower bound of a naive page. Both run in this one
   process. Ratios: naive ÷ product on the subset (like for like: same rows, same process, the
   headline) and naive on the subset ÷ product at N (not like for like: the naive side has ~1 %
   of the data; a conservative bound). The naive loop is not run at N nor extrapolated to it.
5. **Checks**, after the table; the run exits 1 and names each one that missed: the naive figures
   must equal the selectors' on the subset (every row's cell, labels, n generations, n experts,
   flagged, share with its interval, flags per 100 words with its interval, n flags; the
   comparison with McNemar and Newcombe and the lineage; blind spots with the top cultural
   categories; agreement with its k-of-n counts; the first page of spans with their expert
   counts); the summaries must equal the fact tables at N; every page must be at least
   ``--min-speedup`` (10×) faster than the naive one on the subset (p50, computed); and every
   page's computed p95 at N must be within ``--max-computed-ms`` (5,000 ms) and its cached p95
   within ``--max-cached-ms`` (500 ms). Issue 8 asked for pages that "stay fast at 1,000,000
   flags" without a number; these thresholds are the benchmark's, set with headroom over the run
   at d66e618 (computed p95 ≤ 3.1 s, cached p95 ≤ 0.42 s, 58–400× the naive pages).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")
django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.cache import cache  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.http import QueryDict  # noqa: E402
from django.test import Client  # noqa: E402
from tqdm import tqdm  # noqa: E402

from annotations.audit import selectors as audit_selectors  # noqa: E402
from annotations.audit.filters import AuditFilters  # noqa: E402
from annotations.audit.models import (  # noqa: E402
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.audit.selectors import RateRow, VersionComparison  # noqa: E402
from annotations.audit.stats import mcnemar_exact, mean_ci, newcombe, paired_bootstrap, wilson  # noqa: E402
from annotations.core.roles import AUDITOR  # noqa: E402
from annotations.generations.models import Generation, GenerationGroup, ModelVersion  # noqa: E402
from annotations.reviews.models import ErrorCategory, Flag, Review  # noqa: E402
from annotations.songs.models import Culture, Genre, Song  # noqa: E402
from benchmarks import checks  # noqa: E402
from benchmarks import rewards as builder  # noqa: E402
from modeling.rewards.hallucination import count_words  # noqa: E402

SEED = 8
FIRST_DAY = datetime(2025, 1, 6, 12, 0, tzinfo=UTC)
DAYS = 600
DRAFT_SHARE = 0.01
REASONING_SHARE = 0.15
CHILD = f"{builder.MODEL_NAME} · retrained"
GRANDCHILD = f"{builder.MODEL_NAME} · retrained twice"
# (culture slug, name, region, weight of songs); the builder's styles in order, one culture each.
CULTURES = [
    ("british-new-wave", "British new wave", "Western Europe", 16),
    ("african-american-jazz", "African American jazz tradition", "North America", 14),
    ("brazilian", "Brazilian", "South America", 12),
    ("andalusian", "Andalusian", "Southern Europe", 6),
    ("jamaican", "Jamaican", "Caribbean", 8),
    ("south-korean", "South Korean", "East Asia", 10),
    ("irish", "Irish", "Western Europe", 7),
    ("nigerian", "Nigerian", "West Africa", 3),
    ("american", "American", "North America", 12),
    ("rioplatense", "Rioplatense", "South America", 2),
    ("western-art-music", "Western art music", "Europe", 8),
    ("detroit-chicago-club", "Detroit and Chicago club culture", "North America", 2),
]
assert len(CULTURES) == len(builder.STYLES)


# --- building -------------------------------------------------------------------------------------


@dataclass
class Built:
    flags: int
    flags_submitted: int
    generations: int
    reviews: int
    songs: int
    versions: list[int]
    seconds: float


def generations_for(flags: int) -> int:
    """Outputs to build so that ``flags`` flags are surely drawn (1 per review on average, 3 reviews
    per output, standard deviation 1 per review): the mean plus five deviations, whole songs."""
    needed = (flags + 5 * math.sqrt(flags) + 0.002 * flags) / builder.REVIEWS_PER_GENERATION
    return math.ceil(needed / builder.SIBLINGS) * builder.SIBLINGS


def build(flags: int) -> Built:
    """About ``flags`` flags on submitted reviews, and those of the 1 % of reviews left as drafts."""
    started = time.perf_counter()
    total = round(flags / (1 - DRAFT_SHARE))
    base = builder.build(generations_for(total), max_flags=total)
    if base.flags != total:
        raise SystemExit(f"the builder drew {base.flags:,} flags, fewer than {total:,}")
    print(f"rewards' builder: {base.seconds:.0f} s", file=sys.stderr, flush=True)
    rng = random.Random(SEED)
    root = ModelVersion.objects.get(name=builder.MODEL_NAME)
    child = ModelVersion.objects.create(
        name=CHILD, variant=root.variant, parent=root, checkpoint_uri="bench/retrained"
    )
    grandchild = ModelVersion.objects.create(
        name=GRANDCHILD, variant=root.variant, parent=child, checkpoint_uri="bench/retrained-2"
    )
    songs = list(
        GenerationGroup.objects.filter(model_version=root)
        .order_by("song_id")
        .values_list("song_id", flat=True)
    )
    cultures = [
        Culture.objects.get_or_create(slug=slug, defaults={"name": name, "region": region})[0]
        for slug, name, region, _ in CULTURES
    ]
    genres: dict[str, Genre] = {}
    for style in builder.STYLES:
        for name in style[0]:
            slug = name.replace(" ", "-")
            genres[name] = Genre.objects.get_or_create(slug=slug, defaults={"name": name})[0]
    weights = [w for *_, w in CULTURES]
    style_of = rng.choices(range(len(CULTURES)), weights=weights, k=len(songs))
    builder._copy(
        Song.cultures.through._meta.db_table,
        ["song_id", "culture_id"],
        (f"{song}\t{cultures[s].pk}" for song, s in zip(songs, style_of, strict=True)),
    )
    builder._copy(
        Song.genres.through._meta.db_table,
        ["song_id", "genre_id"],
        (
            f"{song}\t{genres[name].pk}"
            for song, s in zip(songs, style_of, strict=True)
            for name in builder.STYLES[s][0]
        ),
    )
    category = dict(ErrorCategory.objects.values_list("code", "pk"))
    generation, review, flag = (
        Generation._meta.db_table,
        Review._meta.db_table,
        Flag._meta.db_table,
    )
    song_cultures = Song.cultures.through._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        # A lineage on the same songs: siblings 0-2 base, 3 the child, 4 the grandchild (one
        # output per song each, so their comparison is also a McNemar test).
        cursor.execute(
            f"UPDATE {generation} SET model_version_id = CASE WHEN sibling_index < 3 THEN %s "  # noqa: S608 (a model's table)
            "WHEN sibling_index = 3 THEN %s ELSE %s END WHERE model_version_id = %s",
            [root.pk, child.pk, grandchild.pk, root.pk],
        )
        # Each retraining fixes some of the major errors (they stay flagged, as minor).
        cursor.execute(
            f"UPDATE {flag} f SET severity = 'minor' FROM {review} r, {generation} g "  # noqa: S608
            "WHERE f.review_id = r.id AND r.generation_id = g.id AND f.severity = 'major' "
            "AND ((g.model_version_id = %s AND f.id %% 4 = 0) "
            "OR (g.model_version_id = %s AND f.id %% 5 < 2))",
            [child.pk, grandchild.pk],
        )
        # Cultural errors, more often on the rarer traditions' songs.
        rare = [cultures[i].pk for i, (*_, w) in enumerate(CULTURES) if w <= 6]
        for old, new in (
            ("genre-mislabel", "misattributed-tradition"),
            ("instrument-not-present", "wrong-regional-instrument-name"),
        ):
            cursor.execute(
                f"UPDATE {flag} f SET category_id = %s FROM {review} r, {generation} g, "  # noqa: S608
                f"{song_cultures} sc WHERE f.review_id = r.id AND r.generation_id = g.id "
                "AND sc.song_id = g.song_id AND f.category_id = %s "
                "AND (f.id %% 3 = 0 OR (sc.culture_id = ANY(%s) AND f.id %% 3 = 1))",
                [category[new], category[old], rare],
            )
        # Some tempo flags are on the reasoning: the "about N BPM" of its first step.
        cursor.execute(
            f"UPDATE {flag} f SET target = 'reasoning', "  # noqa: S608
            "start_char = strpos(g.think_text, 'about ') - 1, "
            "end_char = strpos(g.think_text, ' BPM') + 3, "
            "quoted_text = substr(g.think_text, strpos(g.think_text, 'about '), "
            "strpos(g.think_text, ' BPM') + 4 - strpos(g.think_text, 'about ')) "
            f"FROM {review} r, {generation} g WHERE f.review_id = r.id AND r.generation_id = g.id "
            "AND f.category_id = %s AND strpos(g.think_text, 'about ') > 0 "
            "AND strpos(g.think_text, ' BPM') > strpos(g.think_text, 'about ') "
            "AND (hashtext(g.id::text) & 2147483647) %% 100 < %s",
            [category["wrong-tempo-meter"], round(REASONING_SHARE * 100)],
        )
        cursor.execute(
            f"UPDATE {flag} SET audio_start_seconds = (id * 7919) %% %s, "  # noqa: S608
            "audio_end_seconds = (id * 7919) %% %s + 4",
            [230, 230],
        )
        # Submitted over DAYS days in review order (whole songs together), one draft in 100.
        cursor.execute(f"SELECT MIN(id), MAX(id) FROM {review}")  # noqa: S608
        first, last = cursor.fetchone()
        per_day = max(1, math.ceil((last - first + 1) / DAYS))
        # One statement: each UPDATE rewrites every (wide) review row.
        cursor.execute(
            f"UPDATE {review} SET (status, submitted_at) = (SELECT CASE WHEN d THEN 'draft' "  # noqa: S608
            "ELSE 'submitted' END, CASE WHEN d THEN NULL ELSE %s + ((id - %s) / %s) * interval "
            "'1 day' + ((id - %s) %% %s) * interval '1 second' END FROM (SELECT "
            "(hashtext('draft' || id::text) & 2147483647) %% 1000 < %s AS d) x)",
            [FIRST_DAY, first, per_day, first, per_day, round(DRAFT_SHARE * 1000)],
        )
        for table in (generation, review, flag, song_cultures, Song.genres.through._meta.db_table):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute(
            f"SELECT COUNT(*) FROM {flag} f JOIN {review} r ON r.id = f.review_id "  # noqa: S608
            "WHERE r.status = 'submitted'"
        )
        submitted_flags = int(cursor.fetchone()[0])
    auditor, _ = User.objects.get_or_create(username="bench-auditor")
    auditor.groups.add(Group.objects.get(name=AUDITOR))
    return Built(
        flags=base.flags,
        flags_submitted=submitted_flags,
        generations=base.generations,
        reviews=base.reviews,
        songs=base.songs,
        versions=[root.pk, child.pk, grandchild.pk],
        seconds=time.perf_counter() - started,
    )


def subset_window(target_flags: int) -> tuple[str, str, int]:
    """The first whole days (from the middle of the range) whose submitted reviews hold at least
    ``target_flags`` flags: (first day, last day, flags), dates as ISO strings."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT r.submitted_at::date, COUNT(f.id) FROM {Review._meta.db_table} r "  # noqa: S608
            f"JOIN {Flag._meta.db_table} f ON f.review_id = r.id WHERE r.status = 'submitted' "
            "GROUP BY 1 ORDER BY 1"
        )
        days = cursor.fetchall()
    start = len(days) // 2
    total = 0
    for i in range(start, len(days)):
        total += days[i][1]
        if total >= target_flags:
            return days[start][0].isoformat(), days[i][0].isoformat(), total
    return days[start][0].isoformat(), days[-1][0].isoformat(), total


# --- the naive baseline ----------------------------------------------------------------------------


@dataclass
class NaiveFlag:
    id: int
    category: str
    category_name: str
    kind: str
    aspect: str
    target: str
    severity: str
    start: int
    end: int
    quoted_text: str
    audio_start: float | None
    audio_end: float | None


@dataclass
class NaiveReview:
    id: int
    generation: int
    expert: int
    version: int
    song: int
    song_label: str
    genres: list[tuple[str, str]]  # (slug, name)
    cultures: list[tuple[str, str, str]]  # (slug, name, region)
    words_think: int
    words_answer: int
    submitted_at: datetime
    flags: list[NaiveFlag]


def naive_reviews(filters: AuditFilters) -> list[NaiveReview]:
    """The submitted reviews in the filter, as a straightforward Django version reads them: one query
    for the reviews, then per generation its row, its song and the song's genres and cultures (and
    its words counted), per review its flags with their categories. Generation-level filters
    other than the version are checked in Python on each row."""
    reviews = Review.objects.filter(status=Review.Status.SUBMITTED)
    if filters.date_from:
        reviews = reviews.filter(submitted_at__date__gte=filters.date_from)
    if filters.date_to:
        reviews = reviews.filter(submitted_at__date__lte=filters.date_to)
    if filters.model_versions:
        reviews = reviews.filter(generation__model_version_id__in=filters.model_versions)
    out: list[NaiveReview] = []
    current: tuple[Generation, Song, list[tuple[str, str]], list[tuple[str, str, str]]] | None
    current = None
    words = (0, 0)
    for review in reviews.order_by("generation_id", "pk"):
        if current is None or current[0].pk != review.generation_id:
            generation = Generation.objects.get(pk=review.generation_id)
            song = Song.objects.get(pk=generation.song_id)
            genres = [(g.slug, g.name) for g in song.genres.all()]
            cultures = [(c.slug, c.name, c.region) for c in song.cultures.all()]
            current = (generation, song, genres, cultures)
            words = (count_words(generation.think_text), count_words(generation.answer_text))
        generation, song, genres, cultures = current
        if filters.genres and not {slug for slug, _ in genres} & set(filters.genres):
            continue
        if filters.cultures and not {slug for slug, *_ in cultures} & set(filters.cultures):
            continue
        if filters.regions and not {region for *_, region in cultures} & set(filters.regions):
            continue
        flags = []
        for flag in Flag.objects.filter(review_id=review.pk).select_related("category"):
            category = flag.category
            flags.append(
                NaiveFlag(
                    id=flag.pk,
                    category=category.code,
                    category_name=category.name,
                    kind=category.kind,
                    aspect=category.aspect,
                    target=flag.target,
                    severity=flag.severity,
                    start=flag.start_char,
                    end=flag.end_char,
                    quoted_text=flag.quoted_text,
                    audio_start=flag.audio_start_seconds,
                    audio_end=flag.audio_end_seconds,
                )
            )
        out.append(
            NaiveReview(
                id=review.pk,
                generation=generation.pk,
                expert=review.expert_id,
                version=generation.model_version_id,
                song=song.pk,
                song_label=str(song),
                genres=genres,
                cultures=cultures,
                words_think=words[0],
                words_answer=words[1],
                submitted_at=review.submitted_at or FIRST_DAY,  # submitted: always set
                flags=flags,
            )
        )
    return out


# The naive figures, straight from the definitions over the rows read above (no SQL aggregates).

SERIOUS = ("major", "critical")
TARGET_LABELS = dict(Flag.Target.choices)
KIND_LABELS = dict(ErrorCategory.Kind.choices)
ASPECT_LABELS = dict(ErrorCategory.Aspect.choices)
GENERATION_DIMS = ("model_version", "genre", "culture", "region")
FLAG_DIMS = ("category", "kind", "aspect", "target")


@dataclass
class Taxonomy:
    """The categories in the taxonomy's order and the names of versions, for cells and labels."""

    categories: list[ErrorCategory]
    versions: dict[int, str]

    @classmethod
    def read(cls) -> Taxonomy:
        return cls(
            list(ErrorCategory.objects.order_by("kind", "sort_order", "code")),
            dict(ModelVersion.objects.values_list("pk", "name")),
        )


def _counts(flag: NaiveFlag, filters: AuditFilters, taxonomy: Taxonomy) -> bool:
    """Whether a flag counts under the flag filters."""
    if filters.categories and flag.category not in filters.categories:
        return False
    if filters.kinds and flag.kind not in filters.kinds:
        return False
    if filters.aspects and flag.aspect not in filters.aspects:
        return False
    if filters.target and flag.target != filters.target:
        return False
    return not filters.severities or flag.severity in filters.severities


def _generation_cells(
    review: NaiveReview, dims: Sequence[str], filters: AuditFilters
) -> list[tuple[tuple[str, str], ...]]:
    """The generation-level cells a generation belongs to: ((value, label) per dim)."""
    options: list[list[tuple[str, str]]] = []
    for dim in dims:
        if dim == "model_version":
            options.append([(str(review.version), "")])
        elif dim == "genre":
            options.append(
                [(s, n) for s, n in review.genres if not filters.genres or s in filters.genres]
            )
        elif dim == "culture":
            options.append(
                [
                    (s, n)
                    for s, n, r in review.cultures
                    if (not filters.cultures or s in filters.cultures)
                    and (not filters.regions or r in filters.regions)
                ]
            )
        else:
            regions = sorted({r for *_, r in review.cultures})
            options.append([(r, r) for r in regions if not filters.regions or r in filters.regions])
    cells: list[tuple[tuple[str, str], ...]] = [()]
    for values in options:
        cells = [cell + (value,) for cell in cells for value in values]
    return cells


def _flag_value(flag: NaiveFlag, dim: str) -> tuple[str, str]:
    if dim == "category":
        return flag.category, flag.category_name
    if dim == "kind":
        return flag.kind, KIND_LABELS[flag.kind]
    if dim == "aspect":
        return flag.aspect, ASPECT_LABELS[flag.aspect]
    return flag.target, TARGET_LABELS[flag.target]


def _flag_combos(
    dims: Sequence[str], filters: AuditFilters, taxonomy: Taxonomy
) -> list[tuple[tuple[str, str], ...]]:
    """Every flag-level cell the taxonomy offers (active categories in the filter × targets)."""
    if not dims:
        return [()]
    targets = [filters.target] if filters.target else list(Flag.Target.values)
    combos: dict[tuple[tuple[str, str], ...], None] = {}
    for category in taxonomy.categories:
        if not category.is_active:
            continue
        if filters.categories and category.code not in filters.categories:
            continue
        if filters.kinds and category.kind not in filters.kinds:
            continue
        if filters.aspects and category.aspect not in filters.aspects:
            continue
        for target in targets:
            values = {
                "category": (category.code, category.name),
                "kind": (category.kind, KIND_LABELS[category.kind]),
                "aspect": (category.aspect, ASPECT_LABELS[category.aspect]),
                "target": (target, TARGET_LABELS[target]),
            }
            combos[tuple(values[d] for d in dims)] = None
    return list(combos)


def _words(review: NaiveReview, part: str) -> int:
    if part == "reasoning":
        return review.words_think
    if part == "caption":
        return review.words_answer
    return review.words_think + review.words_answer


def _rate(
    cell: dict[str, str],
    units: dict[int, list[NaiveReview]],
    matching: Callable[[NaiveFlag], bool],
    part: str,
) -> dict[str, Any]:
    """One cell's figures, by the definitions, over its units' reviews."""
    experts = {review.expert for reviews in units.values() for review in reviews}
    flagged = flags = 0
    per_generation: list[float] = []
    for reviews in units.values():
        serious = False
        per_review: list[float] = []
        for review in reviews:
            mine = [flag for flag in review.flags if matching(flag)]
            flags += len(mine)
            serious = serious or any(flag.severity in SERIOUS for flag in mine)
            words = _words(review, part)
            if words > 0:
                per_review.append(len(mine) / words * 100)
        flagged += serious
        if per_review:
            per_generation.append(sum(per_review) / len(per_review))
    n = len(units)
    share = low = high = None
    if n:
        share = flagged / n
        low, high = wilson(flagged, n)
    per_word = per_low = per_high = None
    if per_generation:
        per_word = sum(per_generation) / len(per_generation)
        # The selectors' rule: the bootstrap below 1,000 non-zero values, else the normal interval.
        per_low, per_high = mean_ci(per_generation)
    return {
        "cell": cell,
        "n_generations": n,
        "n_experts": len(experts),
        "n_flagged": flagged,
        "share_flagged": share,
        "share_low": low,
        "share_high": high,
        "per_100_words": per_word,
        "per_100_words_low": per_low,
        "per_100_words_high": per_high,
        "n_word_generations": len(per_generation),
        "n_flags": flags,
    }


def naive_rates(
    reviews: list[NaiveReview],
    filters: AuditFilters,
    group_by: Sequence[str],
    taxonomy: Taxonomy,
) -> list[dict[str, Any]]:
    """The dashboard's rows: per generation-level cell × flag-level cell, sorted by their labels."""
    gdims = [d for d in group_by if d in GENERATION_DIMS]
    fdims = [d for d in group_by if d in FLAG_DIMS]
    cells: dict[tuple[tuple[str, str], ...], dict[int, list[NaiveReview]]] = defaultdict(
        lambda: defaultdict(list)
    )
    seen: dict[tuple[tuple[str, str], ...], None] = {}
    for review in reviews:
        for cell in _generation_cells(review, gdims, filters):
            cells[cell][review.generation].append(review)
        for flag in review.flags:
            if _counts(flag, filters, taxonomy):
                seen[tuple(_flag_value(flag, d) for d in fdims)] = None
    if not gdims:
        cells.setdefault((), defaultdict(list))
    combos = _flag_combos(fdims, filters, taxonomy)
    combos += [c for c in seen if c not in set(combos)]
    rows = []
    for gcell, units in cells.items():
        for combo in combos:

            def matching(flag: NaiveFlag, combo: tuple[tuple[str, str], ...] = combo) -> bool:
                return _counts(flag, filters, taxonomy) and all(
                    _flag_value(flag, d)[0] == value
                    for d, (value, _) in zip(fdims, combo, strict=True)
                )

            part = dict(zip(fdims, (v for v, _ in combo), strict=True)).get(
                "target", filters.target
            )
            values = dict(zip(gdims, gcell, strict=True)) | dict(zip(fdims, combo, strict=True))
            row = _rate({d: values[d][0] for d in group_by}, units, matching, part)
            row["labels"] = {
                d: taxonomy.versions[int(values[d][0])] if d == "model_version" else values[d][1]
                for d in group_by
            }
            rows.append(row)
    rows.sort(key=lambda r: tuple(r["labels"][d].casefold() for d in group_by))
    return rows


def naive_overall(
    reviews: list[NaiveReview], filters: AuditFilters, taxonomy: Taxonomy
) -> dict[str, Any]:
    return naive_rates(reviews, filters, (), taxonomy)[0]


def _serious_units(
    reviews: list[NaiveReview], filters: AuditFilters, taxonomy: Taxonomy
) -> dict[int, dict[int, list[int]]]:
    """Song → version → flagged (1) or not (0), one entry per unit."""
    flagged: dict[int, bool] = {}
    where: dict[int, tuple[int, int]] = {}
    for review in reviews:
        where[review.generation] = (review.song, review.version)
        serious = any(
            flag.severity in SERIOUS and _counts(flag, filters, taxonomy) for flag in review.flags
        )
        flagged[review.generation] = flagged.get(review.generation, False) or serious
    outcomes: dict[int, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for generation, found in flagged.items():
        song, version = where[generation]
        outcomes[song][version].append(int(found))
    return outcomes


def naive_compare(
    reviews: list[NaiveReview], a: int, b: int, filters: AuditFilters, taxonomy: Taxonomy
) -> dict[str, Any]:
    mine = [r for r in reviews if r.version in (a, b)]
    scoped = replace(filters, model_versions=(a, b))
    rates = {
        int(r["cell"]["model_version"]): r
        for r in naive_rates(mine, scoped, ("model_version",), taxonomy)
    }
    per_song = _serious_units(mine, scoped, taxonomy)
    shared = sorted(song for song, found in per_song.items() if a in found and b in found)
    a_shares = [sum(per_song[s][a]) / len(per_song[s][a]) for s in shared]
    b_shares = [sum(per_song[s][b]) / len(per_song[s][b]) for s in shared]
    mcnemar = None
    if shared and all(len(per_song[s][a]) == len(per_song[s][b]) == 1 for s in shared):
        only_a = sum(1 for x, y in zip(a_shares, b_shares, strict=True) if x and not y)
        only_b = sum(1 for x, y in zip(a_shares, b_shares, strict=True) if y and not x)
        mcnemar = (only_a, only_b, len(shared), mcnemar_exact(only_a, only_b))
    ra, rb = rates.get(a), rates.get(b)
    unpaired = None
    if ra and rb:
        difference, interval = newcombe(
            ra["n_flagged"], ra["n_generations"], rb["n_flagged"], rb["n_generations"]
        )
        unpaired = (difference, interval.low, interval.high)
    headline: tuple[float | None, float | None, float | None]
    if shared:
        paired = paired_bootstrap(a_shares, b_shares)
        method, headline = "paired", (paired.mean, paired.low, paired.high)
    elif unpaired:
        method, headline = "unpaired", unpaired
    else:
        method, headline = "", (None, None, None)
    return {
        "a": ra,
        "b": rb,
        "shared_songs": len(shared),
        "method": method,
        "difference": headline[0],
        "low": headline[1],
        "high": headline[2],
        "significant": headline[1] is not None and (headline[1] > 0 or headline[2] < 0),
        "a_paired": sum(a_shares) / len(shared) if shared else None,
        "b_paired": sum(b_shares) / len(shared) if shared else None,
        "mcnemar": mcnemar,
        "unpaired": unpaired,
    }


def naive_lineage(
    reviews: list[NaiveReview], version: int, filters: AuditFilters, taxonomy: Taxonomy
) -> list[dict[str, Any]]:
    parents = dict(ModelVersion.objects.values_list("pk", "parent_id"))
    chain = [version]
    while parents.get(chain[-1]) is not None and parents[chain[-1]] not in chain:
        chain.append(parents[chain[-1]])
    chain.reverse()
    scoped = replace(filters, model_versions=tuple(chain))
    mine = [r for r in reviews if r.version in chain]
    rates = {
        int(r["cell"]["model_version"]): r
        for r in naive_rates(mine, scoped, ("model_version",), taxonomy)
    }
    return [
        {
            "version": member,
            "rate": rates.get(member),
            "change": naive_compare(reviews, member, chain[depth - 1], filters, taxonomy)
            if depth
            else None,
        }
        for depth, member in enumerate(chain)
    ]


def naive_blind_spots(
    reviews: list[NaiveReview], filters: AuditFilters, taxonomy: Taxonomy
) -> dict[str, Any]:
    overall = naive_overall(reviews, filters, taxonomy)

    def rows(level: str) -> list[dict[str, Any]]:
        rates = naive_rates(reviews, filters, (level,), taxonomy)
        smallest = min((r["n_generations"] for r in rates), default=0)
        out = []
        for rate in rates:
            share, ref = rate["share_flagged"], overall["share_flagged"]
            if share is None or ref is None:
                relation, difference = "no data", None
            else:
                difference = share - ref
                relation = (
                    "above"
                    if rate["share_low"] > ref
                    else "below"
                    if rate["share_high"] < ref
                    else "in line"
                )
            out.append(
                {
                    "value": rate["cell"][level],
                    "rate": rate,
                    "difference": difference,
                    "relation": relation,
                    "small_sample": rate["n_generations"] < 30,
                    "smallest": rate["n_generations"] == smallest,
                }
            )
        return out

    top: dict[str, dict[str, tuple[int, set[int]]]] = defaultdict(dict)
    for review in reviews:
        for region in {r for *_, r in review.cultures}:
            for flag in review.flags:
                if flag.kind == "cultural" and _counts(flag, filters, taxonomy):
                    count, generations = top[region].get(flag.category, (0, set()))
                    generations.add(review.generation)
                    top[region][flag.category] = (count + 1, generations)
    return {
        "overall": overall,
        "regions": {r["value"]: r for r in rows("region")},
        "cultures": {r["value"]: r for r in rows("culture")},
        "top": {
            region: sorted(
                ((code, n, len(g)) for code, (n, g) in found.items()),
                key=lambda c: (-c[1], c[0]),
            )[:3]
            for region, found in sorted(top.items())
        },
    }


def _overlapping(flag: NaiveFlag, other: NaiveFlag) -> bool:
    return (
        other.category == flag.category
        and other.target == flag.target
        and other.start < flag.end
        and flag.start < other.end
    )


def naive_agreement(
    reviews: list[NaiveReview], filters: AuditFilters, taxonomy: Taxonomy
) -> dict[str, dict[str, Any]]:
    by_generation: dict[int, list[NaiveReview]] = defaultdict(list)
    for review in reviews:
        by_generation[review.generation].append(review)
    found: dict[str, dict[str, Any]] = {}
    for mine in by_generation.values():
        if len(mine) < 2:
            continue
        per_category: dict[str, list[int]] = defaultdict(list)  # category → k of each flag
        for review in mine:
            for flag in review.flags:
                if not _counts(flag, filters, taxonomy):
                    continue
                k = 1 + sum(
                    1
                    for other in mine
                    if other.id != review.id
                    and any(
                        _overlapping(flag, o) and _counts(o, filters, taxonomy) for o in other.flags
                    )
                )
                per_category[flag.category].append(k)
        for category, ks in per_category.items():
            row = found.setdefault(
                category,
                {
                    "n_generations": 0,
                    "experts": set(),
                    "n_flags": 0,
                    "n_agreed": 0,
                    "k_of_n": Counter(),
                },
            )
            row["n_generations"] += 1
            row["experts"].update(r.expert for r in mine)
            row["n_flags"] += len(ks)
            row["n_agreed"] += sum(1 for k in ks if k >= 2)
            row["k_of_n"][(max(ks), len(mine))] += 1
    for row in found.values():
        row["n_experts"] = len(row.pop("experts"))
        row["agreement"] = row["n_agreed"] / row["n_flags"]
        row["contested"] = row["agreement"] < 0.5
        row["k_of_n"] = sorted((k, n, c) for (k, n), c in row["k_of_n"].items())
    return found


def naive_spans(
    reviews: list[NaiveReview], filters: AuditFilters, taxonomy: Taxonomy, per_page: int = 50
) -> dict[str, Any]:
    by_generation: dict[int, list[NaiveReview]] = defaultdict(list)
    for review in reviews:
        by_generation[review.generation].append(review)
    spans = []
    for review in reviews:
        for flag in review.flags:
            if not _counts(flag, filters, taxonomy):
                continue
            experts = {review.expert} | {
                other.expert
                for other in by_generation[review.generation]
                if other.id != review.id
                and any(
                    _overlapping(flag, o) and _counts(o, filters, taxonomy) for o in other.flags
                )
            }
            spans.append((review, flag, len(experts)))
    spans.sort(key=lambda s: (-s[0].submitted_at.timestamp(), s[1].id))
    return {
        "total": len(spans),
        "rows": [
            {
                "flag_id": flag.id,
                "review_id": review.id,
                "song": review.song_label,
                "category": flag.category,
                "target": flag.target,
                "severity": flag.severity,
                "quoted_text": flag.quoted_text,
                "audio_start_seconds": flag.audio_start,
                "expert_count": count,
            }
            for review, flag, count in spans[:per_page]
        ],
    }


# --- the product's figures, in the naive version's shape ----------------------------------------------


def _rate_dict(row: RateRow | None) -> dict[str, Any] | None:
    if row is None or (row.n_generations == 0 and "model_version" in row.cell):
        return None
    return asdict(row)


def _compare_dict(found: VersionComparison) -> dict[str, Any]:
    mcnemar = found.mcnemar
    return {
        "a": _rate_dict(found.a),
        "b": _rate_dict(found.b),
        "shared_songs": found.shared_songs,
        "method": found.method,
        "difference": found.difference,
        "low": found.low,
        "high": found.high,
        "significant": found.significant,
        "a_paired": found.a_paired,
        "b_paired": found.b_paired,
        "mcnemar": (mcnemar.b, mcnemar.c, mcnemar.n_pairs, mcnemar.p_value) if mcnemar else None,
        "unpaired": (found.unpaired_difference, found.unpaired_low, found.unpaired_high)
        if found.unpaired_difference is not None
        else None,
    }


def product_dashboard(filters: AuditFilters, group_by: Sequence[str]) -> dict[str, Any]:
    return {
        "rows": [asdict(r) for r in audit_selectors.audit_rates(filters, group_by)],
        "overall": asdict(audit_selectors.audit_overall(filters)),
    }


def product_compare(filters: AuditFilters, a: int, b: int) -> dict[str, Any]:
    version_a, version_b = ModelVersion.objects.get(pk=a), ModelVersion.objects.get(pk=b)
    return {
        "comparison": _compare_dict(audit_selectors.audit_compare(version_a, version_b, filters)),
        "lineage": [
            {
                "version": point.version.pk,
                "rate": _rate_dict(point.rate),
                "change": _compare_dict(point.change) if point.change else None,
            }
            for point in audit_selectors.audit_lineage_trend(version_b, filters)
        ],
    }


def product_blind_spots(filters: AuditFilters) -> dict[str, Any]:
    report = audit_selectors.audit_blind_spots(filters)

    def rows(found: list[Any]) -> dict[str, Any]:
        return {
            (row.region if row.level == "region" else row.culture): {
                "value": row.region if row.level == "region" else row.culture,
                "rate": asdict(row.rate),
                "difference": row.difference,
                "relation": row.relation,
                "small_sample": row.small_sample,
                "smallest": row.smallest,
            }
            for row in found
        }

    return {
        "overall": asdict(report.overall),
        "regions": rows(report.regions),
        "cultures": rows(report.cultures),
        "top": {
            region: [(c.code, c.n_flags, c.n_generations) for c in counts]
            for region, counts in report.top_cultural_categories.items()
        },
    }


def product_agreement(filters: AuditFilters) -> dict[str, dict[str, Any]]:
    return {
        row.category: {
            "n_generations": row.n_generations,
            "n_experts": row.n_experts,
            "n_flags": row.n_flags,
            "n_agreed": row.n_agreed,
            "agreement": row.agreement,
            "contested": row.contested,
            "k_of_n": list(row.k_of_n),
        }
        for row in audit_selectors.audit_agreement(filters)
    }


def product_spans(filters: AuditFilters) -> dict[str, Any]:
    page = audit_selectors.audit_spans(filters, page=1, per_page=50)
    return {
        "total": page.total,
        "rows": [
            {
                "flag_id": row.flag_id,
                "review_id": row.review_id,
                "song": row.song,
                "category": row.category,
                "target": row.target,
                "severity": row.severity,
                "quoted_text": row.quoted_text,
                "audio_start_seconds": row.audio_start_seconds,
                "expert_count": row.expert_count,
            }
            for row in page.rows
        ],
    }


def differences(product: Any, naive: Any, path: str = "") -> list[str]:
    """Where two figures differ (floats within 1e-9, relative): "path: product … naive …"."""
    if isinstance(product, dict) and isinstance(naive, dict):
        out = []
        for key in list(product) + [k for k in naive if k not in product]:
            if key not in naive or key not in product:
                out.append(f"{path}.{key}: product {product.get(key)!r} naive {naive.get(key)!r}")
            else:
                out.extend(differences(product[key], naive[key], f"{path}.{key}"))
        return out
    if isinstance(product, list | tuple) and isinstance(naive, list | tuple):
        if len(product) != len(naive):
            return [f"{path}: product {len(product)} items, naive {len(naive)}"]
        return [
            d
            for i, (p, n) in enumerate(zip(product, naive, strict=True))
            for d in differences(p, n, f"{path}[{i}]")
        ]
    if isinstance(product, float) or isinstance(naive, float):
        if (
            isinstance(product, int | float)
            and isinstance(naive, int | float)
            and math.isclose(product, naive, rel_tol=1e-9, abs_tol=1e-12)
        ):
            return []
    elif product == naive:
        return []
    return [f"{path}: product {product!r} naive {naive!r}"]


# --- the pages ------------------------------------------------------------------------------------


@dataclass
class Page:
    label: str
    path: str
    query: list[tuple[str, str]]
    product: Callable[[AuditFilters], Any]
    naive: Callable[[list[NaiveReview], AuditFilters, Taxonomy], Any]


def pages(versions: list[int]) -> list[Page]:
    root, child, grandchild = versions
    by_version_category = ("model_version", "category")
    by_version = ("model_version",)
    by_version_aspect = ("model_version", "aspect")
    by_version_target = ("model_version", "target")
    by_region_kind = ("region", "kind")

    def dashboard(group_by: tuple[str, ...], query: list[tuple[str, str]], label: str) -> Page:
        return Page(
            label,
            "/audit/",
            [("group_by", d) for d in group_by] + query,
            lambda f: product_dashboard(f, group_by),
            lambda reviews, f, t: {
                "rows": naive_rates(reviews, f, group_by, t),
                "overall": naive_overall(reviews, f, t),
            },
        )

    return [
        dashboard(by_version_category, [], "rates: version × category"),
        dashboard(by_version, [("culture", "andalusian")], "rates: one culture, by version"),
        dashboard(by_version_aspect, [("genre", "jazz")], "rates: one genre, version × aspect"),
        dashboard(by_version_target, [], "rates: version × reasoning/answer"),
        dashboard(by_region_kind, [("kind", "cultural")], "rates: cultural errors by region"),
        Page(
            "compare two versions + lineage",
            "/audit/compare/",
            [("version_a", str(child)), ("version_b", str(grandchild))],
            lambda f: product_compare(f, child, grandchild),
            lambda reviews, f, t: {
                "comparison": naive_compare(reviews, child, grandchild, f, t),
                "lineage": naive_lineage(reviews, grandchild, f, t),
            },
        ),
        Page("blind spots", "/audit/blind-spots/", [], product_blind_spots, naive_blind_spots),
        Page("agreement", "/audit/agreement/", [], product_agreement, naive_agreement),
        Page(
            "drill-down spans (one cell, page 1)",
            "/audit/spans/",
            [("model_version", str(root)), ("category", "wrong-key-mode")],
            product_spans,
            naive_spans,
        ),
    ]


def filters_of(page: Page, window: tuple[str, str] | None) -> AuditFilters:
    query = QueryDict(mutable=True)
    for key, value in page.query + _window(window):
        if key not in ("group_by", "version_a", "version_b"):
            query.appendlist(key, value)
    return AuditFilters.from_query(query)


def _window(window: tuple[str, str] | None) -> list[tuple[str, str]]:
    return [("date_from", window[0]), ("date_to", window[1])] if window else []


def measure(
    client: Client,
    urls: list[str],
    requests: int,
    seconds: float,
    label: str,
    *,
    cold: bool,
) -> list[list[float]]:
    """Each URL once to warm, then rounds over all of them until ``requests`` rounds or ``seconds``
    have passed (at least 3 rounds): milliseconds per URL. ``cold`` empties the cache before each
    request (untimed), as after any change to the audit's inputs: every aggregate is computed."""
    for url in urls:
        response = client.get(url)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}: {response.content[:500]!r}")
    times: list[list[float]] = [[] for _ in urls]
    stop = time.monotonic() + seconds
    bar = tqdm(total=requests, desc=label, unit="round", file=sys.stderr, mininterval=2)
    for done in range(requests):
        if done >= 3 and time.monotonic() > stop:
            break
        for i, url in enumerate(urls):
            if cold:
                cache.clear()
            started = time.perf_counter()
            response = client.get(url)
            times[i].append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        bar.update()
    bar.close()
    return times


def _pct(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def refresh() -> tuple[float, str, dict[str, int]]:
    """``manage.py refresh_audit`` over everything: seconds, its summary line, the rows of the facts
    and of their summaries."""
    out = io.StringIO()
    started = time.perf_counter()
    call_command("refresh_audit", stdout=out)
    seconds = time.perf_counter() - started
    rows = {}
    with connection.cursor() as cursor:
        for model in (
            AuditReviewFact,
            AuditFlagFact,
            AuditGenerationFact,
            AuditGenerationCategoryFact,
        ):
            table = model._meta.db_table
            # What autovacuum does within a minute of a bulk write: statistics for the planner.
            cursor.execute(f"ANALYZE {table}")
            cursor.execute(f"SELECT COUNT(*) FROM {table}")  # noqa: S608 (a model's table)
            rows[table] = int(cursor.fetchone()[0])
    return seconds, out.getvalue().strip(), rows


def _ms(values: Sequence[float]) -> str:
    return f"{_pct(values, 50):,.0f} / {_pct(values, 95):,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--flags", type=int, default=1_000_000, help="flags on submitted reviews (about)"
    )
    parser.add_argument("--subset", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=10, help="measured requests per page")
    parser.add_argument(
        "--seconds",
        type=float,
        default=300,
        help="stop the measured rounds over all pages after this long (at least 3 rounds)",
    )
    parser.add_argument(
        "--min-speedup",
        type=float,
        default=10.0,
        help="target: naive ÷ product p50 on the subset, per page",
    )
    parser.add_argument(
        "--max-computed-ms", type=float, default=5000.0, help="target: computed p95 at N, per page"
    )
    parser.add_argument(
        "--max-cached-ms", type=float, default=500.0, help="target: cached p95 at N, per page"
    )
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        raise SystemExit("audit needs PostgreSQL (bash benchmarks/run.sh audit)")

    code = builder.measured_code(
        (
            "annotations/audit",
            "templates/audit",
            "benchmarks/audit.py",
        )
    )
    print(f"audit: {args.flags:,} flags (PostgreSQL), code {code}", flush=True)
    built = build(args.flags)
    print(
        f"built in {built.seconds:.0f} s: {built.songs:,} songs, {built.generations:,} outputs of "
        f"3 versions, {built.reviews:,} reviews, {built.flags:,} flags "
        f"({built.flags_submitted:,} on submitted reviews)",
        flush=True,
    )
    refresh_s, summary, fact_rows = refresh()
    print(f"refresh_audit: {refresh_s:.1f} s: {summary}", flush=True)
    first, last, subset_flags = subset_window(args.subset)
    window = (first, last)
    print(f"subset: reviews submitted {first} to {last}: {subset_flags:,} flags", flush=True)

    auditor = User.objects.get(username="bench-auditor")
    client = Client(HTTP_HOST="localhost")
    client.force_login(auditor)
    taxonomy = Taxonomy.read()
    chosen = pages(built.versions)

    def urls(found: tuple[str, str] | None) -> list[str]:
        return [f"{p.path}?{urlencode(p.query + _window(found))}" for p in chosen]

    full = measure(
        client, urls(None), args.requests, args.seconds, f"at {args.flags:,} flags", cold=True
    )
    cached = measure(
        client, urls(None), args.requests, args.seconds, "cached, at N flags", cold=False
    )
    subset = measure(client, urls(window), args.requests, args.seconds, "on the subset", cold=True)

    # The summaries (read without a date range) against the fact tables (read with one) on all
    # the data: a window over every day counts the same reviews.
    everything = (
        FIRST_DAY.date().isoformat(),
        (FIRST_DAY + timedelta(days=DAYS + 1)).date().isoformat(),
    )
    summary_problems: list[str] = []
    for page in tqdm(chosen, desc="summaries vs facts at N", unit="page", file=sys.stderr):
        found = differences(
            page.product(filters_of(page, None)), page.product(filters_of(page, everything))
        )
        summary_problems.extend(f"{page.label}: {d}" for d in found)

    naive_s: list[float] = []
    problems: list[str] = []
    queries: list[int] = []
    for page in tqdm(chosen, desc="naive pages", unit="page", file=sys.stderr):
        filters = filters_of(page, window)
        counter = builder.Queries()
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            naive = page.naive(naive_reviews(filters), filters, taxonomy)
            naive_s.append(time.perf_counter() - started)
        queries.append(counter.count)
        found = differences(page.product(filters), naive)
        problems.extend(f"{page.label}: {d}" for d in found)

    print()
    print(
        f"| audit page ({len(full[0])}, {len(cached[0])} and {len(subset[0])} requests; ms p50 / "
        f"p95) | product, {args.flags:,} flags, computed | product, {args.flags:,} flags, cached "
        f"| product, {subset_flags:,}-flag subset, computed | naive, subset (queries) "
        "| naive ÷ product, subset (like for like) | naive on the subset ÷ product at N |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|")
    missed: list[str] = []
    for page, at_n, at_n_cached, on_subset, naive_one, count in zip(
        chosen, full, cached, subset, naive_s, queries, strict=True
    ):
        speedup = naive_one * 1000 / _pct(on_subset, 50)
        print(
            f"| {page.label} | {_ms(at_n)} | {_ms(at_n_cached)} | {_ms(on_subset)} "
            f"| {naive_one * 1000:,.0f} "
            f"({count:,}) | {speedup:,.0f}× "
            f"| {naive_one * 1000 / _pct(at_n, 50):,.1f}× |"
        )
        if speedup < args.min_speedup:
            missed.append(
                f"{page.label}: {speedup:,.1f}× the naive page on the subset "
                f"(target ≥ {args.min_speedup:g}×)"
            )
        if _pct(at_n, 95) > args.max_computed_ms:
            missed.append(
                f"{page.label}: computed p95 {_pct(at_n, 95):,.0f} ms at {args.flags:,} flags "
                f"(target ≤ {args.max_computed_ms:,.0f} ms)"
            )
        if _pct(at_n_cached, 95) > args.max_cached_ms:
            missed.append(
                f"{page.label}: cached p95 {_pct(at_n_cached, 95):,.0f} ms at {args.flags:,} "
                f"flags (target ≤ {args.max_cached_ms:,.0f} ms)"
            )
    every_n = [v for values in full for v in values]
    every_cached = [v for values in cached for v in values]
    every_subset = [v for values in subset for v in values]
    print(
        f"| all pages | {_ms(every_n)} | {_ms(every_cached)} | {_ms(every_subset)} "
        f"| {sum(naive_s) * 1000:,.0f} ({sum(queries):,}) | | |"
    )
    print()
    rows = [
        ("code measured", code),
        ("flags (on submitted reviews)", f"{built.flags:,} ({built.flags_submitted:,})"),
        (
            "reviews / outputs / songs",
            f"{built.reviews:,} / {built.generations:,} / {built.songs:,}",
        ),
        ("build (not measured)", f"{built.seconds:,.0f} s"),
        ("refresh_audit (all facts)", f"{refresh_s:,.1f} s"),
        *((f"rows in {table}", f"{n:,}") for table, n in fact_rows.items()),
        ("subset", f"{first} … {last}: {subset_flags:,} flags"),
        (
            "same numbers: naive vs product on the subset",
            "yes" if not problems else f"NO ({len(problems)})",
        ),
        (
            "same numbers: summaries vs fact tables at N",
            "yes" if not summary_problems else f"NO ({len(summary_problems)})",
        ),
    ]
    for label, value in rows:
        print(f"{label}: {value}")
    if problems or summary_problems:
        print("\n".join((problems + summary_problems)[:30]))
    if problems:
        missed.append(f"same numbers: naive vs product on the subset: {len(problems)} differ")
    if summary_problems:
        missed.append(
            f"same numbers: summaries vs fact tables at N: {len(summary_problems)} differ"
        )
    checks.finish(missed)


if __name__ == "__main__":
    main()
