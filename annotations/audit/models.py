"""Materialised facts the audit pages aggregate: one row per submitted review, one per its flags.

They are copies, written only by ``annotations.audit.services`` (on review submit, after commit, and
by ``manage.py refresh_audit``), so the dashboards group a million flags without joining reviews,
generations and categories on every request. Drafts and skipped reviews never get a row: reviews are
blind until submitted, and only submitted judgements count.

The copied columns (version, song, expert, category, aspect, …) are denormalised on purpose: every
filter and GROUP BY of the audit selectors reads one table plus the song's genre/culture links.

``AuditGenerationFact`` and ``AuditGenerationCategoryFact`` summarise both per generation and per
(generation, category): at 1,000,000 flags, grouping the two fact tables per generation took 1.5-2.5 s
of every dashboard figure, while the summaries are read as they are. They are rewritten with the
facts of their generation.
"""

from django.conf import settings
from django.db import models

from annotations.generations.models.generations import Generation
from annotations.generations.models.model_versions import ModelVersion
from annotations.generations.models.prompts import PromptTemplate
from annotations.reviews.models.reviews import Flag, Review
from annotations.reviews.models.taxonomy import ErrorCategory
from annotations.songs.models.songs import Song


class AuditReviewFact(models.Model):
    """One submitted review of one generation, with the generation's word counts."""

    review = models.OneToOneField(
        Review, primary_key=True, on_delete=models.CASCADE, related_name="audit_fact"
    )
    generation = models.ForeignKey(
        Generation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    song = models.ForeignKey(
        Song, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    prompt = models.ForeignKey(
        PromptTemplate,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    words_think = models.PositiveIntegerField(help_text="Words of the reasoning trace.")
    words_answer = models.PositiveIntegerField(help_text="Words of the caption / answer.")
    submitted_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["generation"], name="auditreview_generation"),
            models.Index(fields=["model_version", "song"], name="auditreview_version_song"),
            models.Index(fields=["song"], name="auditreview_song"),
            models.Index(fields=["submitted_at"], name="auditreview_submitted"),
        ]

    def __str__(self) -> str:
        return f"Audit fact of review {self.review_id}"


class AuditFlagFact(models.Model):
    """One flag of a submitted review, with what the audit groups it by."""

    flag = models.OneToOneField(
        Flag, primary_key=True, on_delete=models.CASCADE, related_name="audit_fact"
    )
    review_fact = models.ForeignKey(
        AuditReviewFact, on_delete=models.CASCADE, related_name="flag_facts", db_index=False
    )
    generation = models.ForeignKey(
        Generation,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    song = models.ForeignKey(
        Song, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    category = models.ForeignKey(
        ErrorCategory,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=ErrorCategory.Kind.choices)
    aspect = models.CharField(max_length=16, choices=ErrorCategory.Aspect.choices)
    target = models.CharField(max_length=16, choices=Flag.Target.choices)
    severity = models.CharField(max_length=16, choices=Flag.Severity.choices)
    start_char = models.PositiveIntegerField()
    end_char = models.PositiveIntegerField()
    audio_start_seconds = models.FloatField(null=True, blank=True)
    audio_end_seconds = models.FloatField(null=True, blank=True)
    submitted_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["review_fact"], name="auditflag_review"),
            # Agreement joins each flag to the overlapping flags of the same generation and category.
            models.Index(
                fields=["generation", "category", "target", "start_char"],
                name="auditflag_gen_category",
            ),
            models.Index(fields=["category", "severity"], name="auditflag_category_severity"),
            models.Index(fields=["model_version", "category"], name="auditflag_version_category"),
            models.Index(fields=["submitted_at", "flag"], name="auditflag_submitted"),
        ]

    def __str__(self) -> str:
        return f"Audit fact of flag {self.flag_id}"


class _GenerationSums(models.Model):
    """What both summaries hold of their generation (copied, so each is read alone) and
    n_<severity>_<part>: flags of each severity on each part of the output (caption/answer or
    reasoning), so that any severity or part filter is a sum of columns."""

    model_version = models.ForeignKey(
        ModelVersion,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    song = models.ForeignKey(
        Song, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+", db_index=False
    )
    n_reviews = models.PositiveIntegerField(help_text="Submitted reviews of the generation.")
    words_think = models.PositiveIntegerField()
    words_answer = models.PositiveIntegerField()
    n_minor_caption = models.PositiveIntegerField(default=0)
    n_major_caption = models.PositiveIntegerField(default=0)
    n_critical_caption = models.PositiveIntegerField(default=0)
    n_minor_reasoning = models.PositiveIntegerField(default=0)
    n_major_reasoning = models.PositiveIntegerField(default=0)
    n_critical_reasoning = models.PositiveIntegerField(default=0)

    class Meta:
        abstract = True


class AuditGenerationFact(_GenerationSums):
    """One generation with at least one submitted review: the per-generation sums of its facts.

    The audit reads it instead of grouping the fact tables whenever every review counts (no date
    range) and the figures need no category detail (no category, kind or aspect filter or grouping).
    """

    generation = models.OneToOneField(
        Generation, primary_key=True, on_delete=models.CASCADE, related_name="audit_summary"
    )

    class Meta(_GenerationSums.Meta):
        abstract = False
        indexes = [
            models.Index(fields=["model_version", "song"], name="auditgen_version_song"),
            models.Index(fields=["song"], name="auditgen_song"),
        ]

    def __str__(self) -> str:
        return f"Audit summary of generation {self.generation_id}"


class AuditGenerationCategoryFact(_GenerationSums):
    """One (generation, error category) with flags on submitted reviews: their counts per severity
    and part, how many of them another expert's overlapping flag agrees with, and the largest
    number of experts agreeing on one flag (per part). The generation's columns are copied so that
    category-level figures read this table alone."""

    generation = models.ForeignKey(
        Generation, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    category = models.ForeignKey(
        ErrorCategory,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
        db_index=False,
    )
    kind = models.CharField(max_length=16, choices=ErrorCategory.Kind.choices)
    aspect = models.CharField(max_length=16, choices=ErrorCategory.Aspect.choices)
    # A flag agrees when a flag of another review on the same generation, category and part shares a
    # character with it; its k is the number of reviews with such a flag, itself included.
    agreed_caption = models.PositiveIntegerField(default=0)
    agreed_reasoning = models.PositiveIntegerField(default=0)
    max_k_caption = models.PositiveIntegerField(default=0)
    max_k_reasoning = models.PositiveIntegerField(default=0)

    class Meta(_GenerationSums.Meta):
        abstract = False
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "category"], name="auditgencat_generation_category"
            )
        ]
        indexes = [
            models.Index(fields=["category", "model_version"], name="auditgencat_category"),
            models.Index(fields=["song"], name="auditgencat_song"),
        ]

    def __str__(self) -> str:
        return f"Audit summary of category {self.category_id} on generation {self.generation_id}"


class AuditFactsVersion(models.Model):
    """One row: a token that changes whenever anything the audit's figures are computed from
    changes (facts, summaries, a song's genres or cultures, a culture's region), so that computed
    figures can be cached under it and never served stale. Random rather than counted: a rolled
    back change must not hand its number (and its cached figures) to the next change."""

    version = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"Audit facts version {self.version}"
