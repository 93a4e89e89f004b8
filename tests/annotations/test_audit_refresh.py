"""The audit's fact tables: written after a submit commits, rebuilt by refresh_audit, only submitted."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.utils import timezone

from annotations.audit import services as audit
from annotations.audit.models import (
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.audit.sql import audit_facts_version
from annotations.reviews import services as review_services
from annotations.reviews.models import ErrorCategory, Flag, Review
from modeling.rewards.hallucination import count_words
from tests import factories
from tests.helpers import complete_review_form

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def _submit_through_services(generation: Any, flags: list[dict[str, Any]]) -> Review:
    expert = factories.expert()
    review = review_services.review_claim(expert=expert, generation=generation)
    for data in flags:
        _, review = review_services.flag_save(
            review=review, expert=expert, data=data, version=review.version
        )
    form = complete_review_form(review, verdict="reject")
    review = review_services.review_save_draft(
        review=review, expert=expert, data=form, version=review.version
    )
    return review_services.review_submit(review=review, expert=expert, version=review.version)


def _caption_flag(generation: Any, word: str, **extra: Any) -> dict[str, Any]:
    return _flag(generation, "caption", word, **extra)


def _reasoning_flag(generation: Any, word: str, **extra: Any) -> dict[str, Any]:
    return _flag(generation, "reasoning", word, **extra)


def _flag(generation: Any, target: str, word: str, **extra: Any) -> dict[str, Any]:
    """A flag on the first occurrence of ``word`` in the caption or the reasoning trace."""
    text = generation.think_text if target == "reasoning" else generation.answer_text
    start = text.index(word)
    data = {
        "target": target,
        "start": start,
        "end": start + len(word),
        "category": "instrument-not-present",
        "severity": "major",
        "audio_start": "",
        "audio_end": "",
    }
    data.update(extra)
    return data


def _submitted(generation: Any = None, **kwargs: Any) -> Review:
    return factories.ReviewFactory(  # type: ignore[no-any-return]
        generation=generation or factories.generation_with_output(),
        status=Review.Status.SUBMITTED,
        submitted_at=timezone.now(),
        **kwargs,
    )


def test_submitting_a_review_writes_its_facts_once_the_submit_commits(
    django_capture_on_commit_callbacks: Any,
) -> None:
    generation = factories.generation_with_output()
    with django_capture_on_commit_callbacks() as callbacks:
        review = _submit_through_services(
            generation,
            [
                _caption_flag(generation, "Sitar", severity="critical", audio_start="12.5"),
                _caption_flag(generation, "Hindi", category="misattributed-tradition"),
            ],
        )
    assert not AuditReviewFact.objects.exists(), "nothing is written before the commit"
    refreshes = [c for c in callbacks if getattr(c, "func", None) is audit.audit_refresh_reviews]
    assert [c.keywords for c in refreshes] == [{"review_ids": [review.pk]}]
    refreshes[0]()

    fact = AuditReviewFact.objects.get()
    assert (fact.review_id, fact.generation_id, fact.expert_id) == (
        review.pk,
        generation.pk,
        review.expert_id,
    )
    assert (fact.model_version_id, fact.song_id, fact.prompt_id) == (
        generation.model_version_id,
        generation.song_id,
        generation.prompt_id,
    )
    # Whitespace tokens with a letter or digit: the "##" section marks do not count.
    assert fact.words_think == count_words(generation.think_text) == 54
    assert fact.words_answer == count_words(generation.answer_text) == 56
    assert fact.submitted_at == review.submitted_at
    flags = {f.flag.quoted_text: f for f in AuditFlagFact.objects.select_related("flag")}
    sitar, hindi = flags["Sitar"], flags["Hindi"]
    assert (sitar.severity, sitar.target, sitar.audio_start_seconds) == (
        "critical",
        "caption",
        12.5,
    )
    assert (sitar.kind, sitar.aspect) == ("hallucination", "instrumentation")
    assert sitar.category.code == "instrument-not-present"
    assert (sitar.review_fact_id, sitar.generation_id, sitar.expert_id) == (
        review.pk,
        generation.pk,
        review.expert_id,
    )
    assert (sitar.start_char, sitar.end_char) == (sitar.flag.start_char, sitar.flag.end_char)
    assert hindi.category.code == "misattributed-tradition" and hindi.kind == "cultural"


def test_drafts_and_skipped_reviews_never_get_facts() -> None:
    generation = factories.generation_with_output()
    draft = factories.ReviewFactory(generation=generation)
    factories.FlagFactory(review=draft)
    skipped = factories.ReviewFactory(
        generation=generation, status=Review.Status.SKIPPED, skip_reason="other"
    )
    submitted = _submitted(generation)
    factories.FlagFactory(review=submitted)

    stats = audit.audit_refresh_reviews(review_ids=[draft.pk, skipped.pk, submitted.pk])

    assert (stats.reviews, stats.flags) == (1, 1)
    assert list(AuditReviewFact.objects.values_list("review_id", flat=True)) == [submitted.pk]
    assert list(AuditFlagFact.objects.values_list("review_fact_id", flat=True)) == [submitted.pk]


def test_the_scheduled_refresh_of_a_review_is_harmless_to_repeat() -> None:
    review = _submitted()
    factories.FlagFactory(review=review)
    audit.audit_refresh_reviews(review_ids=[review.pk])
    again = audit.audit_refresh_reviews(review_ids=[review.pk])
    assert (again.reviews, again.flags, again.removed) == (1, 1, 0)
    assert AuditReviewFact.objects.count() == AuditFlagFact.objects.count() == 1


def test_a_full_refresh_rebuilds_every_fact_and_drops_those_of_unsubmitted_reviews() -> None:
    reviews = [_submitted() for _ in range(5)]
    for review in reviews:
        factories.FlagFactory(review=review)
    audit.audit_refresh_all(batch_size=2)
    assert AuditReviewFact.objects.count() == 5 and AuditFlagFact.objects.count() == 5

    # An admin reopens one (facts now stale), another changes a category's aspect in the admin.
    Review.objects.filter(pk=reviews[2].pk).update(status=Review.Status.DRAFT)
    Review.objects.filter(pk=reviews[4].pk).update(status=Review.Status.DRAFT)
    ErrorCategory.objects.filter(code="instrument-not-present").update(aspect="harmony")
    progress: list[tuple[int, int]] = []
    stats = audit.audit_refresh_all(batch_size=2, on_progress=lambda d, t: progress.append((d, t)))

    assert (stats.reviews, stats.flags, stats.removed) == (3, 3, 2)
    assert progress == [(2, 3), (3, 3)]
    assert set(AuditReviewFact.objects.values_list("review_id", flat=True)) == {
        reviews[0].pk,
        reviews[1].pk,
        reviews[3].pk,
    }
    assert set(AuditFlagFact.objects.values_list("aspect", flat=True)) == {"harmony"}


def test_deleting_a_review_deletes_its_facts() -> None:
    review = _submitted()
    factories.FlagFactory(review=review)
    audit.audit_refresh_reviews(review_ids=[review.pk])
    review.delete()
    assert not AuditReviewFact.objects.exists() and not AuditFlagFact.objects.exists()


def test_words_count_each_cjk_character_as_one() -> None:
    generation = factories.GenerationFactory(think_text="", answer_text="演歌のバラード with piano")
    review = _submitted(generation)
    audit.audit_refresh_reviews(review_ids=[review.pk])
    fact = AuditReviewFact.objects.get()
    assert (fact.words_think, fact.words_answer) == (0, 9)


def test_refresh_audit_command_rebuilds_in_batches_and_reports() -> None:
    for _ in range(3):
        factories.FlagFactory(review=_submitted(), severity=Flag.Severity.MINOR)
    out = StringIO()
    call_command("refresh_audit", "--batch-size", "2", "--no-progress", stdout=out)
    assert out.getvalue().strip() == (
        "3 submitted review(s) and 3 flag(s) written; 0 stale review fact(s) removed."
    )
    assert AuditFlagFact.objects.filter(severity="minor").count() == 3


SQLITE_SCRIPT = textwrap.dedent(
    """
    from django.db import connection
    from django.utils import timezone
    from annotations.audit.models import AuditFlagFact, AuditReviewFact
    from annotations.reviews.models import ErrorCategory, Flag, Review
    from annotations.audit.services import audit_refresh_all, audit_refresh_reviews
    from annotations.audit.filters import AuditFilters
    from annotations.audit.selectors import audit_rates
    from tests import factories

    assert connection.vendor == "sqlite", connection.vendor
    generation = factories.GenerationFactory(think_text="", answer_text="word " * 50)
    generation.song.genres.set([factories.GenreFactory(slug="rock")])
    generation.song.cultures.set([factories.CultureFactory(slug="yoruba", region="West Africa")])
    category = ErrorCategory.objects.get(code="instrument-not-present")
    for flags in (2, 0):
        review = factories.ReviewFactory(
            generation=generation, status="submitted", submitted_at=timezone.now()
        )
        for _ in range(flags):
            Flag.objects.create(review=review, category=category, start_char=0, end_char=4,
                                quoted_text="word", severity="major")
    stats = audit_refresh_all(batch_size=1)
    again = audit_refresh_reviews(review_ids=list(Review.objects.values_list("pk", flat=True)))
    [row] = audit_rates(AuditFilters(), ())
    # Every page's SQL runs on SQLite too (the demo): grouped rates, comparison, lineage, blind
    # spots, agreement and spans.
    from annotations.audit.selectors import audit_agreement, audit_blind_spots, audit_compare, audit_lineage_trend, audit_spans
    from datetime import date
    filters = AuditFilters(date_from=date(2000, 1, 1), genres=(), target="caption")
    by = audit_rates(filters, ("model_version", "genre", "region", "category", "target"))
    [flagged] = [r for r in by if r.n_flagged]
    assert (flagged.cell["genre"], flagged.cell["region"], flagged.per_100_words) == (
        "rock", "West Africa", 2.0)
    version = generation.model_version
    assert audit_compare(version, version, filters).shared_songs == 1
    assert len(audit_lineage_trend(version, filters)) == 1
    assert audit_blind_spots(filters).overall.n_generations == 1
    [agreement] = audit_agreement(filters)
    spans = audit_spans(filters, {"category": "instrument-not-present"})
    print(stats.reviews, stats.flags, again.reviews, again.flags,
          AuditReviewFact.objects.get(review__expert__isnull=False, pk=review.pk).words_answer,
          row.n_generations, row.n_experts, row.n_flagged, round(row.per_100_words, 6),
          agreement.n_flags, agreement.n_agreed, spans.total, spans.rows[0].expert_count, len(by))
    """
)


@pytest.mark.subprocess
def test_the_embedded_sqlite_database_is_refreshed_and_aggregated_the_same_way(
    tmp_path: Path,
) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WORKBENCH_", "DJANGO_", "DATABASE_"))
    }
    env.update(WORKBENCH_ENV="test", WORKBENCH_DATA_DIR=str(tmp_path))

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr + result.stdout
        return result.stdout

    manage("migrate", "--no-input", "-v", "0")
    output = manage("shell", "-c", SQLITE_SCRIPT).splitlines()[-1].split()
    # Two reviews, two flags; 2 flags / 50 words × 100 = 4 for one review, 0 for the other: mean 2.
    # The two flags are the same reviewer's: agreement 0 of 2, one expert per span. One row per
    # active category for the one version, genre, region and target.
    assert output == ["2", "2", "2", "2", "50", "1", "2", "1", "2.0", "2", "0", "2", "1", "16"]


# --- per-generation summaries ----------------------------------------------------------------------


_COUNTS = (
    "n_minor_caption",
    "n_major_caption",
    "n_critical_caption",
    "n_minor_reasoning",
    "n_major_reasoning",
    "n_critical_reasoning",
)


def _summaries() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every summary row as a dict (the category rows without their surrogate id), in a fixed order."""
    generations = list(AuditGenerationFact.objects.order_by("generation_id").values())
    categories = [
        {k: v for k, v in row.items() if k != "id"}
        for row in AuditGenerationCategoryFact.objects.order_by(
            "generation_id", "category_id"
        ).values()
    ]
    return generations, categories


def _counts(**nonzero: int) -> dict[str, int]:
    return {column: nonzero.get(column, 0) for column in _COUNTS}


@pytest.fixture
def summarised(django_capture_on_commit_callbacks: Any, settings: Any) -> dict[str, Any]:
    """Two outputs reviewed through the services, their facts written by the submit's refresh.

    shared (54 think words, 56 answer words), three reviews:
      r1: caption "Sitar" instrument-not-present critical, caption "Hindi" misattributed-tradition
          major, reasoning "sitar" instrument-not-present minor;
      r2: caption "Sitar" instrument-not-present major (the same span as r1's: they agree),
          caption "Cymbal" instrument-not-present minor (nobody else's: not agreed);
      r3: reasoning "tabla" instrument-not-present critical (does not touch r1's "sitar").
    single, one review: caption "Sitar" instrument-not-present major.
    """
    settings.WORKBENCH_REVIEWS_PER_GENERATION = 3
    shared = factories.generation_with_output()
    single = factories.generation_with_output()
    with django_capture_on_commit_callbacks(execute=True):
        r1 = _submit_through_services(
            shared,
            [
                _caption_flag(shared, "Sitar", severity="critical"),
                _caption_flag(shared, "Hindi", category="misattributed-tradition"),
                _reasoning_flag(shared, "sitar", severity="minor"),
            ],
        )
        r2 = _submit_through_services(
            shared,
            [_caption_flag(shared, "Sitar"), _caption_flag(shared, "Cymbal", severity="minor")],
        )
        r3 = _submit_through_services(
            shared, [_reasoning_flag(shared, "tabla", severity="critical")]
        )
        alone = _submit_through_services(single, [_caption_flag(single, "Sitar")])
    return {"shared": shared, "single": single, "reviews": [r1, r2, r3], "alone": alone}


def test_submits_write_per_generation_summaries_computed_by_hand(
    summarised: dict[str, Any],
) -> None:
    shared, single = summarised["shared"], summarised["single"]
    instrument = ErrorCategory.objects.get(code="instrument-not-present")
    tradition = ErrorCategory.objects.get(code="misattributed-tradition")
    assert AuditReviewFact.objects.count() == 4 and AuditFlagFact.objects.count() == 7

    summary = AuditGenerationFact.objects.get(generation=shared)
    assert (summary.model_version_id, summary.song_id) == (shared.model_version_id, shared.song_id)
    assert (summary.n_reviews, summary.words_think, summary.words_answer) == (3, 54, 56)
    assert {c: getattr(summary, c) for c in _COUNTS} == _counts(
        n_minor_caption=1,  # r2's Cymbal
        n_major_caption=2,  # r2's Sitar, r1's Hindi
        n_critical_caption=1,  # r1's Sitar
        n_minor_reasoning=1,  # r1's sitar
        n_critical_reasoning=1,  # r3's tabla
    )
    lone = AuditGenerationFact.objects.get(generation=single)
    assert (lone.n_reviews, lone.words_think, lone.words_answer) == (1, 54, 56)
    assert {c: getattr(lone, c) for c in _COUNTS} == _counts(n_major_caption=1)

    rows = {
        (row.generation_id, row.category_id): row
        for row in AuditGenerationCategoryFact.objects.all()
    }
    assert set(rows) == {
        (shared.pk, instrument.pk),
        (shared.pk, tradition.pk),
        (single.pk, instrument.pk),
    }
    flagged = rows[(shared.pk, instrument.pk)]
    assert (flagged.kind, flagged.aspect) == ("hallucination", "instrumentation")
    assert (flagged.model_version_id, flagged.song_id) == (shared.model_version_id, shared.song_id)
    assert (flagged.n_reviews, flagged.words_think, flagged.words_answer) == (3, 54, 56)
    assert {c: getattr(flagged, c) for c in _COUNTS} == _counts(
        n_minor_caption=1,
        n_major_caption=1,
        n_critical_caption=1,
        n_minor_reasoning=1,
        n_critical_reasoning=1,
    )
    # Caption: r1's and r2's Sitar agree (k 2 each), r2's Cymbal does not. Reasoning: r1's sitar
    # and r3's tabla share no character, so each has k 1.
    assert (flagged.agreed_caption, flagged.max_k_caption) == (2, 2)
    assert (flagged.agreed_reasoning, flagged.max_k_reasoning) == (0, 1)

    cultural = rows[(shared.pk, tradition.pk)]
    assert (cultural.kind, cultural.aspect, cultural.n_reviews) == ("cultural", "culture", 3)
    assert {c: getattr(cultural, c) for c in _COUNTS} == _counts(n_major_caption=1)
    # One flag of the category: k 1 on the caption, no flag (k 0) on the reasoning.
    assert (cultural.agreed_caption, cultural.max_k_caption) == (0, 1)
    assert (cultural.agreed_reasoning, cultural.max_k_reasoning) == (0, 0)

    only = rows[(single.pk, instrument.pk)]
    assert (only.n_reviews, only.agreed_caption, only.max_k_caption) == (1, 0, 1)
    assert {c: getattr(only, c) for c in _COUNTS} == _counts(n_major_caption=1)


def test_three_experts_on_one_span_agree_with_k_three(
    django_capture_on_commit_callbacks: Any, settings: Any
) -> None:
    settings.WORKBENCH_REVIEWS_PER_GENERATION = 3
    generation = factories.generation_with_output()
    with django_capture_on_commit_callbacks(execute=True):
        # "Sitar carries" overlaps both "Sitar" and "carries the melody"; those two do not overlap.
        _submit_through_services(generation, [_caption_flag(generation, "Sitar")])
        _submit_through_services(generation, [_caption_flag(generation, "Sitar carries")])
        _submit_through_services(generation, [_caption_flag(generation, "carries the melody")])
    row = AuditGenerationCategoryFact.objects.get()
    # Sitar: itself and "Sitar carries" (k 2); "Sitar carries": all three (k 3); "carries the
    # melody": itself and "Sitar carries" (k 2).
    assert (row.agreed_caption, row.max_k_caption, row.n_major_caption) == (3, 3, 3)
    assert (row.agreed_reasoning, row.max_k_reasoning) == (0, 0)


def test_deleting_a_review_through_the_orm_recomputes_its_generations_summaries(
    summarised: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    shared, single = summarised["shared"], summarised["single"]
    r1, r2, r3 = summarised["reviews"]
    instrument = ErrorCategory.objects.get(code="instrument-not-present")
    untouched = AuditGenerationFact.objects.filter(generation=single).values().get()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        Review.objects.get(pk=r2.pk).delete()
    assert callbacks, "the recompute waits for the deletion to commit"
    summary = AuditGenerationFact.objects.get(generation=shared)
    assert summary.n_reviews == 2
    assert {c: getattr(summary, c) for c in _COUNTS} == _counts(
        n_major_caption=1, n_critical_caption=1, n_minor_reasoning=1, n_critical_reasoning=1
    )
    flagged = AuditGenerationCategoryFact.objects.get(generation=shared, category=instrument)
    assert flagged.n_reviews == 2
    assert {c: getattr(flagged, c) for c in _COUNTS} == _counts(
        n_critical_caption=1, n_minor_reasoning=1, n_critical_reasoning=1
    )
    # r1's Sitar lost the flag that agreed with it.
    assert (flagged.agreed_caption, flagged.max_k_caption) == (0, 1)
    assert AuditGenerationCategoryFact.objects.filter(generation=shared).count() == 2

    with django_capture_on_commit_callbacks(execute=True):
        Review.objects.get(pk=r1.pk).delete()
    summary = AuditGenerationFact.objects.get(generation=shared)
    assert summary.n_reviews == 1
    assert {c: getattr(summary, c) for c in _COUNTS} == _counts(n_critical_reasoning=1)
    # r1's Hindi was the only misattributed-tradition flag: its row goes.
    assert list(
        AuditGenerationCategoryFact.objects.filter(generation=shared).values_list(
            "category_id", "n_reviews", "n_critical_reasoning", "max_k_reasoning"
        )
    ) == [(instrument.pk, 1, 1, 1)]

    with django_capture_on_commit_callbacks(execute=True):
        r3.delete()
    assert not AuditGenerationFact.objects.filter(generation=shared).exists()
    assert not AuditGenerationCategoryFact.objects.filter(generation=shared).exists()
    # The other output's summaries are as they were.
    assert AuditGenerationFact.objects.filter(generation=single).values().get() == untouched
    assert AuditGenerationCategoryFact.objects.filter(generation=single).count() == 1


def test_deleting_a_flag_through_the_orm_recomputes_its_generations_summaries_once(
    summarised: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    shared = summarised["shared"]
    _r1, r2, _r3 = summarised["reviews"]
    before = AuditGenerationFact.objects.get(generation=shared)
    flags = list(Flag.objects.filter(review=r2))
    assert len(flags) >= 2
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        for flag in flags:
            flag.delete()
    # One recompute for every flag deleted in the transaction.
    assert len(callbacks) == 1
    after = AuditGenerationFact.objects.get(generation=shared)
    assert after.n_reviews == before.n_reviews
    assert sum(getattr(after, c) for c in _COUNTS) == sum(
        getattr(before, c) for c in _COUNTS
    ) - len(flags)


def test_a_full_refresh_rebuilds_the_summaries_the_submits_wrote(
    summarised: dict[str, Any],
) -> None:
    written = _summaries()
    assert len(written[0]) == 2 and len(written[1]) == 3
    # One review per batch: the shared output's summaries are recomputed batch after batch.
    audit.audit_refresh_all(batch_size=1)
    assert _summaries() == written
    audit.audit_refresh_all()
    assert _summaries() == written


def test_a_full_refresh_drops_the_summaries_of_reviews_turned_back_to_draft(
    summarised: dict[str, Any],
) -> None:
    shared, single = summarised["shared"], summarised["single"]
    _r1, r2, _r3 = summarised["reviews"]
    written = _summaries()
    # An admin reopens r2 and the single output's only review (their facts are now stale).
    Review.objects.filter(pk__in=[r2.pk, summarised["alone"].pk]).update(status=Review.Status.DRAFT)
    audit.audit_refresh_all(batch_size=2)
    summary = AuditGenerationFact.objects.get(generation=shared)
    assert summary.n_reviews == 2
    assert {c: getattr(summary, c) for c in _COUNTS} == _counts(
        n_major_caption=1, n_critical_caption=1, n_minor_reasoning=1, n_critical_reasoning=1
    )
    instrument = AuditGenerationCategoryFact.objects.get(
        generation=shared, category__code="instrument-not-present"
    )
    assert (instrument.n_reviews, instrument.agreed_caption, instrument.max_k_caption) == (2, 0, 1)
    assert instrument.n_minor_caption == 0 and instrument.n_major_caption == 0
    # The single output's only review is a draft again: no summary of it is left.
    assert not AuditGenerationFact.objects.filter(generation=single).exists()
    assert not AuditGenerationCategoryFact.objects.filter(generation=single).exists()
    # Submitted again, they bring back exactly what the submits wrote.
    Review.objects.filter(pk__in=[r2.pk, summarised["alone"].pk]).update(
        status=Review.Status.SUBMITTED
    )
    audit.audit_refresh_all(batch_size=2)
    assert _summaries() == written


def test_rebuilding_the_summaries_restores_them_exactly(summarised: dict[str, Any]) -> None:
    written = _summaries()
    AuditGenerationCategoryFact.objects.all().delete()
    AuditGenerationFact.objects.all().delete()
    assert _summaries() == ([], [])
    assert audit.audit_rebuild_summaries(batch_size=1) == 2
    assert _summaries() == written
    # A summary whose generation has lost its facts behind the refresh's back is dropped.
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {AuditFlagFact._meta.db_table} WHERE generation_id = %s",  # noqa: S608 (a model's table; the value is a parameter)
            [summarised["single"].pk],
        )
        cursor.execute(
            f"DELETE FROM {AuditReviewFact._meta.db_table} WHERE generation_id = %s",  # noqa: S608 (a model's table; the value is a parameter)
            [summarised["single"].pk],
        )
    assert audit.audit_rebuild_summaries() == 1
    generations, categories = _summaries()
    assert [row["generation_id"] for row in generations] == [summarised["shared"].pk]
    assert {row["generation_id"] for row in categories} == {summarised["shared"].pk}
    assert (generations, categories) == (
        [row for row in written[0] if row["generation_id"] == summarised["shared"].pk],
        [row for row in written[1] if row["generation_id"] == summarised["shared"].pk],
    )


def test_every_summary_write_gives_the_audit_inputs_a_new_version(
    summarised: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    first = audit_facts_version()
    assert first != 0
    audit.audit_refresh_reviews(review_ids=[summarised["alone"].pk])
    second = audit_facts_version()
    assert second != first
    audit.audit_rebuild_summaries()
    third = audit_facts_version()
    assert third not in (first, second)
    with django_capture_on_commit_callbacks(execute=True):
        summarised["alone"].delete()
    assert audit_facts_version() != third
    fourth = audit_facts_version()
    summarised["shared"].song.genres.add(factories.GenreFactory(slug="jazz"))
    assert audit_facts_version() != fourth
