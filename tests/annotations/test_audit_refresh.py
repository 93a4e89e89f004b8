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
from django.utils import timezone

from annotations.models import AuditFlagFact, AuditReviewFact, ErrorCategory, Flag, Review
from annotations.services import audit
from annotations.services import reviews as review_services
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
    start = generation.answer_text.index(word)
    data = {
        "target": "caption",
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
    from annotations.models import AuditFlagFact, AuditReviewFact, ErrorCategory, Flag, Review
    from annotations.services.audit import audit_refresh_all, audit_refresh_reviews
    from annotations.audit_selectors import AuditFilters, audit_rates
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
    from annotations.audit_selectors import (
        audit_agreement, audit_blind_spots, audit_compare, audit_lineage_trend, audit_spans,
    )
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
