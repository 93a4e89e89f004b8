"""Writing the audit's fact tables (``AuditReviewFact``, ``AuditFlagFact``) from submitted reviews.

A submitted review is final, so its facts are written once, after the submit commits
(``audit_schedule_for_review``), and rewritten only by ``manage.py refresh_audit`` — after a bulk
import of reviews, or after an admin edits a category's aspect or kind (the facts copy both).
Deleting a review, generation or song deletes its facts with it (foreign-key cascades).

Each refresh deletes the facts of a set of reviews and re-inserts them: the flag facts with one
``INSERT … SELECT`` per batch on both databases; the review facts carry word counts, which are
Python (``modeling.rewards.hallucination.count_words``, CJK-aware), so on PostgreSQL they travel as
one JSON array joined in one ``INSERT … SELECT``, and on SQLite (the demo) row by row. Then the
per-generation summaries (``AuditGenerationFact``) of every generation those reviews belong to are
recomputed from its facts, in the same transaction; a review deleted through the ORM (its facts go by
cascade) has its generation's summary recomputed after the deletion commits.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from annotations.audit.models import (
    AuditFactsVersion,
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.audit.sql import flags_overlap_sql, in_list
from annotations.generations.models import Generation
from annotations.reviews.models import ErrorCategory, Flag, Review
from annotations.songs.models import Culture, Genre, Song

logger = logging.getLogger(__name__)

BATCH_SIZE = 5000


@dataclass
class RefreshStats:
    reviews: int = 0  # review facts written
    flags: int = 0  # flag facts written
    removed: int = 0  # review facts of reviews no longer submitted (or gone)
    generations: set[int] = field(default_factory=set, repr=False)  # of the facts written

    def add(self, other: RefreshStats) -> None:
        self.reviews += other.reviews
        self.flags += other.flags
        self.removed += other.removed


def audit_schedule_for_review(review: Review) -> None:
    """Once this transaction commits, write the facts of ``review`` (a no-op unless submitted).

    In-process rather than a task: one review is a handful of statements, and the auditor's next
    page load then sees it. ``robust``: a failure is logged, never shown to the submitting expert;
    ``manage.py refresh_audit`` repairs what it missed.
    """
    transaction.on_commit(partial(audit_refresh_reviews, review_ids=[review.pk]), robust=True)


def audit_refresh_reviews(*, review_ids: Iterable[int]) -> RefreshStats:
    """Rewrite the facts of these reviews from the reviews (facts of unsubmitted ones are removed)."""
    ids = sorted(set(review_ids))
    stats = RefreshStats()
    for start in range(0, len(ids), BATCH_SIZE):
        batch = ids[start : start + BATCH_SIZE]
        with transaction.atomic():
            touched = _generations_of_facts(batch)
            removed = _delete_facts(batch)
            written = _insert_facts(batch)
            written.removed = max(0, removed - written.reviews)
            _refresh_generations(touched | written.generations)
            stats.add(written)
    return stats


def audit_refresh_all(
    *,
    batch_size: int = BATCH_SIZE,
    on_progress: Callable[[int, int], None] | None = None,
) -> RefreshStats:
    """Rebuild every fact, in batches of submitted reviews walked by id (one transaction each).

    Each batch owns the id range from the previous batch's last id to its own last id, so facts of
    reviews that are no longer submitted inside that range are deleted too; after the last batch,
    facts above it go. Safe to run while experts submit: a submit's own refresh and a batch's
    rewrite of the same review compute the same rows (``ON CONFLICT DO NOTHING``).
    """
    submitted = Review.objects.filter(status=Review.Status.SUBMITTED)
    total = submitted.count()
    stats = RefreshStats()
    done = 0
    last = 0
    while True:
        batch = list(
            submitted.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch_size]
        )
        with transaction.atomic():
            upper = batch[-1] if batch else None
            touched = _generations_in_range(last, upper)
            removed = _delete_range(last, upper)
            written = _insert_facts(batch) if batch else RefreshStats()
            written.removed = max(0, removed - written.reviews)
            _refresh_generations(touched | written.generations)
            stats.add(written)
        if not batch:
            break
        last = batch[-1]
        done += len(batch)
        if on_progress is not None:
            on_progress(min(done, total), total)
    if on_progress is not None and total == 0:
        on_progress(0, 0)
    _drop_orphan_summaries()
    return stats


@receiver(post_delete, sender=AuditReviewFact, dispatch_uid="audit_summary_after_review_delete")
@receiver(post_delete, sender=AuditFlagFact, dispatch_uid="audit_summary_after_flag_delete")
def _summary_after_fact_delete(
    sender: type, instance: AuditReviewFact | AuditFlagFact, **kwargs: Any
) -> None:
    """A review or flag deleted through the ORM takes its facts along (cascade): its generation's
    summaries are recomputed once that deletion commits (a generation deleted with it has none)."""
    _schedule_summaries(instance.generation_id)


_local = threading.local()


class _PendingSummaries:
    """Generations whose summaries to recompute when the current transaction commits: one
    recompute for all the facts a cascade deletes (a song's thousand reviews and their flags)."""

    def __init__(self) -> None:
        self.generation_ids: set[int] = set()
        self.done = False

    def __call__(self) -> None:
        self.done = True
        _refresh_generations_atomically(self.generation_ids)


def _schedule_summaries(generation_id: int) -> None:
    pending = getattr(_local, "pending", None)
    # Still waiting for this transaction's commit? (Django drops the callbacks of a rollback.)
    if (
        pending is None
        or pending.done
        or not any(entry[1] is pending for entry in connection.run_on_commit)
    ):
        pending = _local.pending = _PendingSummaries()
        pending.generation_ids.add(generation_id)
        # Outside a transaction this runs at once, with the one generation.
        transaction.on_commit(pending, robust=True)
        return
    pending.generation_ids.add(generation_id)


# --- Writing -------------------------------------------------------------------------------------


def _tables() -> tuple[str, str]:
    return AuditReviewFact._meta.db_table, AuditFlagFact._meta.db_table


def _delete_facts(review_ids: list[int]) -> int:
    review_table, flag_table = _tables()
    in_sql, params = in_list(review_ids)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {flag_table} WHERE review_fact_id {in_sql}", params)  # noqa: S608 (table names from models; values are parameters)
        cursor.execute(f"DELETE FROM {review_table} WHERE review_id {in_sql}", params)  # noqa: S608 (table names from models; values are parameters)
        return int(cursor.rowcount)


def _delete_range(after: int, upto: int | None) -> int:
    review_table, flag_table = _tables()
    where = "review_fact_id > %s" + ("" if upto is None else " AND review_fact_id <= %s")
    params = [after] if upto is None else [after, upto]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {flag_table} WHERE {where}", params)  # noqa: S608 (table names from models; values are parameters)
        cursor.execute(
            f"DELETE FROM {review_table} WHERE {where.replace('review_fact_id', 'review_id')}",  # noqa: S608 (table names from models; values are parameters)
            params,
        )
        return int(cursor.rowcount)


def _word_counts(generation_ids: set[int]) -> dict[int, tuple[int, int]]:
    from modeling.rewards.hallucination import count_words

    return {
        pk: (count_words(think), count_words(answer))
        for pk, think, answer in Generation.objects.filter(pk__in=generation_ids).values_list(
            "pk", "think_text", "answer_text"
        )
    }


def _insert_facts(review_ids: list[int]) -> RefreshStats:
    """Insert the facts of those of these reviews that are submitted (none may exist yet)."""
    rows = list(
        Review.objects.filter(pk__in=review_ids, status=Review.Status.SUBMITTED)
        .order_by("pk")
        .values_list(
            "pk",
            "generation_id",
            "expert_id",
            "generation__model_version_id",
            "generation__song_id",
            "generation__prompt_id",
            "submitted_at",
        )
    )
    if not rows:
        return RefreshStats()
    generations = {row[1] for row in rows}
    words = _word_counts(generations)
    review_table, flag_table = _tables()
    columns = (
        "review_id, generation_id, expert_id, model_version_id, song_id, prompt_id, "
        "words_think, words_answer, submitted_at"
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement: the word counts travel per generation as a JSON array; everything else
            # is read from the reviews and generations by the database itself.
            cursor.execute(
                f"INSERT INTO {review_table} ({columns}) "  # noqa: S608 (table names from models; values are parameters)
                "SELECT r.id, r.generation_id, r.expert_id, g.model_version_id, g.song_id, "
                "g.prompt_id, w.t, w.a, r.submitted_at "
                f"FROM {Review._meta.db_table} r "
                f"JOIN {Generation._meta.db_table} g ON g.id = r.generation_id "
                "JOIN jsonb_to_recordset(%s::jsonb) AS w(g bigint, t int, a int) ON w.g = g.id "
                "WHERE r.id = ANY(%s) AND r.status = %s ON CONFLICT DO NOTHING",
                [
                    json.dumps([{"g": g, "t": t, "a": a} for g, (t, a) in words.items()]),
                    [row[0] for row in rows],
                    Review.Status.SUBMITTED,
                ],
            )
            reviews = cursor.rowcount
        else:
            reviews = 0
            for review_id, generation_id, *rest, submitted_at in rows:
                think, answer = words[generation_id]
                cursor.execute(
                    f"INSERT INTO {review_table} ({columns}) "  # noqa: S608 (table names from models; values are parameters)
                    "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    [review_id, generation_id, *rest, think, answer, submitted_at],
                )
                reviews += cursor.rowcount
        in_sql, params = in_list([row[0] for row in rows])
        cursor.execute(
            f"INSERT INTO {flag_table} (flag_id, review_fact_id, generation_id, expert_id, "  # noqa: S608 (table names from models; values are parameters)
            "model_version_id, song_id, category_id, kind, aspect, target, severity, start_char, "
            "end_char, audio_start_seconds, audio_end_seconds, submitted_at) "
            "SELECT f.id, rf.review_id, rf.generation_id, rf.expert_id, rf.model_version_id, "
            "rf.song_id, f.category_id, c.kind, c.aspect, f.target, f.severity, f.start_char, "
            "f.end_char, f.audio_start_seconds, f.audio_end_seconds, rf.submitted_at "
            f"FROM {Flag._meta.db_table} f "
            f"JOIN {review_table} rf ON rf.review_id = f.review_id "
            f"JOIN {ErrorCategory._meta.db_table} c ON c.id = f.category_id "
            # On the flags' own review index: joined only through the facts, the planner scanned
            # every flag for each batch.
            f"WHERE f.review_id {in_sql} AND rf.review_id {in_sql} ON CONFLICT DO NOTHING",
            params + params,
        )
        flags = cursor.rowcount
    return RefreshStats(reviews=int(reviews), flags=int(flags), generations=generations)


# --- Per-generation summaries ---------------------------------------------------------------------


def _generations_of_facts(review_ids: list[int]) -> set[int]:
    """The generations of these reviews' facts (before they are rewritten)."""
    review_table, _ = _tables()
    in_sql, params = in_list(review_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT generation_id FROM {review_table} WHERE review_id {in_sql}",  # noqa: S608 (table names from models; values are parameters)
            params,
        )
        return {int(row[0]) for row in cursor.fetchall()}


def _generations_in_range(after: int, upto: int | None) -> set[int]:
    """The generations of the facts of reviews with ids in (after, upto]."""
    review_table, _ = _tables()
    where = "review_id > %s" + ("" if upto is None else " AND review_id <= %s")
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT generation_id FROM {review_table} WHERE {where}",  # noqa: S608 (table names from models; values are parameters)
            [after] if upto is None else [after, upto],
        )
        return {int(row[0]) for row in cursor.fetchall()}


_PARTS = tuple(Flag.Target.values)
_COUNT_COLUMNS = [f"n_{severity}_{part}" for part in _PARTS for severity in Flag.Severity.values]


def _count_sums(alias: str) -> tuple[list[str], list[str]]:
    """SUM(...) for each n_<severity>_<part> column over flag rows ``alias``, and their parameters."""
    sums, params = [], []
    for part in _PARTS:
        for severity in Flag.Severity.values:
            sums.append(
                f"SUM(CASE WHEN {alias}.target = %s AND {alias}.severity = %s THEN 1 ELSE 0 END)"
            )
            params.extend([part, severity])
    return sums, params


def _refresh_generations(generation_ids: set[int]) -> None:
    """Recompute the summaries of these generations from their facts (none when they have none):
    per generation (``AuditGenerationFact``), then per (generation, category) with each flag's
    agreement (``AuditGenerationCategoryFact``)."""
    ids = sorted(generation_ids)
    review_table, flag_table = _tables()
    summary_table = AuditGenerationFact._meta.db_table
    category_table = AuditGenerationCategoryFact._meta.db_table
    counts = ", ".join(_COUNT_COLUMNS)
    audit_facts_changed()
    with connection.cursor() as cursor:
        for start in range(0, len(ids), BATCH_SIZE):
            in_sql, params = in_list(ids[start : start + BATCH_SIZE])
            for table in (category_table, summary_table):
                cursor.execute(f"DELETE FROM {table} WHERE generation_id {in_sql}", params)  # noqa: S608 (table names from models; values are parameters)
            sums, sum_params = _count_sums("ff")
            cursor.execute(
                f"INSERT INTO {summary_table} (generation_id, model_version_id, song_id, "  # noqa: S608 (table names from models; values are parameters)
                f"n_reviews, words_think, words_answer, {counts}) "
                "SELECT r.generation_id, r.v, r.s, r.n, r.wt, r.wa, "
                + ", ".join(f"COALESCE(f.c{i}, 0)" for i in range(len(_COUNT_COLUMNS)))
                + " FROM (SELECT generation_id, MIN(model_version_id) AS v, MIN(song_id) AS s, "  # noqa: S608 (table names from models; values are parameters)
                "COUNT(*) AS n, MIN(words_think) AS wt, MIN(words_answer) AS wa "
                f"FROM {review_table} WHERE generation_id {in_sql} GROUP BY generation_id) r "
                "LEFT JOIN (SELECT ff.generation_id, "
                + ", ".join(f"{expr} AS c{i}" for i, expr in enumerate(sums))
                + f" FROM {flag_table} ff WHERE ff.generation_id {in_sql} "
                "GROUP BY ff.generation_id) f ON f.generation_id = r.generation_id",
                params + sum_params + params,
            )
            sums, sum_params = _count_sums("fk")
            agreement = []
            for part in _PARTS:
                agreement.append(
                    f"SUM(CASE WHEN fk.target = '{part}' AND fk.k >= 2 THEN 1 ELSE 0 END)"
                )
            for part in _PARTS:
                agreement.append(f"MAX(CASE WHEN fk.target = '{part}' THEN fk.k ELSE 0 END)")
            agreement_columns = [f"agreed_{part}" for part in _PARTS] + [
                f"max_k_{part}" for part in _PARTS
            ]
            cursor.execute(
                f"INSERT INTO {category_table} (generation_id, category_id, kind, aspect, "  # noqa: S608 (table names from models; values are parameters)
                "model_version_id, song_id, n_reviews, words_think, words_answer, "
                f"{counts}, {', '.join(agreement_columns)}) "
                "SELECT fk.generation_id, fk.category_id, MIN(fk.kind), MIN(fk.aspect), "
                "g.model_version_id, g.song_id, g.n_reviews, g.words_think, g.words_answer, "
                f"{', '.join(sums)}, {', '.join(agreement)} "
                "FROM (SELECT f.flag_id, f.generation_id, f.category_id, f.kind, f.aspect, "
                "f.target, f.severity, 1 + COUNT(DISTINCT o.review_fact_id) AS k "
                f"FROM {flag_table} f LEFT JOIN {flag_table} o ON {flags_overlap_sql('f', 'o')} "
                f"WHERE f.generation_id {in_sql} GROUP BY f.flag_id, f.generation_id, "
                "f.category_id, f.kind, f.aspect, f.target, f.severity) fk "
                f"JOIN {summary_table} g ON g.generation_id = fk.generation_id "
                "GROUP BY fk.generation_id, fk.category_id, g.model_version_id, g.song_id, "
                "g.n_reviews, g.words_think, g.words_answer",
                sum_params + params,
            )


def audit_rebuild_summaries(*, batch_size: int = BATCH_SIZE) -> int:
    """Recompute every generation's summaries from the facts, in batches; the number of
    generations with facts. (The migration that adds the summaries runs it; ``refresh_audit``
    rewrites them with the facts.)"""
    review_table, _ = _tables()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT DISTINCT generation_id FROM {review_table}")  # noqa: S608 (a model's table)
        ids = sorted(int(row[0]) for row in cursor.fetchall())
    for start in range(0, len(ids), batch_size):
        _refresh_generations_atomically(set(ids[start : start + batch_size]))
    _drop_orphan_summaries()
    return len(ids)


def audit_facts_changed() -> None:
    """Give the audit's inputs a new version (in the caller's transaction): figures cached under
    the old one (``sql.audit_facts_version``) are no longer served."""
    token = secrets.randbits(62)
    updated = AuditFactsVersion.objects.filter(pk=1).update(version=token)
    if not updated:
        AuditFactsVersion.objects.update_or_create(pk=1, defaults={"version": token})


@receiver(m2m_changed, sender=Song.genres.through, dispatch_uid="audit_version_song_genres")
@receiver(m2m_changed, sender=Song.cultures.through, dispatch_uid="audit_version_song_cultures")
def _song_tags_changed(action: str, **kwargs: Any) -> None:
    # Genre, culture and region cells join the songs' current tags.
    if action in ("post_add", "post_remove", "post_clear"):
        audit_facts_changed()


@receiver(post_save, sender=Culture, dispatch_uid="audit_version_culture_saved")
@receiver(post_delete, sender=Culture, dispatch_uid="audit_version_culture_deleted")
@receiver(post_delete, sender=Genre, dispatch_uid="audit_version_genre_deleted")
def _vocabulary_changed(**kwargs: Any) -> None:
    audit_facts_changed()


def _refresh_generations_atomically(generation_ids: set[int]) -> None:
    with transaction.atomic():
        _refresh_generations(generation_ids)


def _drop_orphan_summaries() -> None:
    """Summaries of generations left without facts by anything that bypassed the refresh."""
    review_table, _ = _tables()
    audit_facts_changed()
    with connection.cursor() as cursor:
        for model in (AuditGenerationCategoryFact, AuditGenerationFact):
            table = model._meta.db_table
            cursor.execute(
                f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM {review_table} r "  # noqa: S608 (table names from models)
                f"WHERE r.generation_id = {table}.generation_id)"
            )
