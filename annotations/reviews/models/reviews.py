"""An expert's work on one generation, and the spans they flag in it."""

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel
from annotations.generations.models.generations import Generation
from annotations.reviews.models.taxonomy import ErrorCategory


class Review(TimestampedModel):
    """One expert's review of one generation.

    ``version`` increases on every save through the services; a save that carries a stale version
    is refused, so two tabs (or a tab and a reconnecting one) never overwrite each other silently.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SUBMITTED = "submitted", "Submitted"
        SKIPPED = "skipped", "Skipped"

    class SkipReason(models.TextChoices):
        OUTSIDE_EXPERTISE = "outside_expertise", "Outside my expertise"
        AUDIO_PROBLEM = "audio_problem", "Audio will not play or is damaged"
        OUTPUT_UNUSABLE = "output_unusable", "Output is empty or unreadable"
        CONFLICT_OF_INTEREST = "conflict_of_interest", "Conflict of interest"
        OTHER = "other", "Other (say why)"

    class Verdict(models.TextChoices):
        ACCEPT = "accept", "Accept"
        ACCEPT_WITH_FIXES = "accept_with_fixes", "Accept with fixes"
        REJECT = "reject", "Reject"

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="reviews")
    expert = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="reviews"
    )
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True
    )
    version = models.PositiveIntegerField(default=1)
    verdict = models.CharField(max_length=24, choices=Verdict.choices, blank=True)
    comment = models.TextField(blank=True)
    corrected_caption = models.TextField(blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(
        null=True,
        blank=True,
        help_text="A draft holds one of the generation's review slots until then; saves renew it.",
    )
    skip_reason = models.CharField(max_length=32, choices=SkipReason.choices, blank=True)
    skip_note = models.TextField(blank=True)
    step_grades = models.JSONField(
        default=dict,
        blank=True,
        help_text='Step number → "correct", "incorrect" or "unverifiable".',
    )
    aspect_ratings = models.JSONField(
        default=dict, blank=True, help_text="Caption aspect code → rating 1–5."
    )
    verified_metadata = models.JSONField(
        default=dict,
        blank=True,
        help_text='Field → {"value", "source": analysis/model/expert, "status"}: reward ground truth.',
    )
    sibling_ranks = models.JSONField(
        default=dict,
        blank=True,
        help_text="Sibling generation id → rank (1 best; ties share a rank).",
    )
    siblings_all_wrong = models.BooleanField(default=False)
    dismissed_hints = models.JSONField(
        default=list, blank=True, help_text="Machine hints this expert dismissed (ids)."
    )

    class Meta:
        ordering = ["-updated_at"]
        permissions = [("review_generations", "Can review generations")]
        indexes = [
            models.Index(fields=["generation", "status"], name="review_generation_status"),
            models.Index(fields=["expert", "status", "-updated_at"], name="review_expert_status"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["generation", "expert"], name="one_review_per_expert"),
            models.CheckConstraint(
                condition=~models.Q(status="submitted") | models.Q(submitted_at__isnull=False),
                name="submitted_review_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="skipped") | ~models.Q(skip_reason=""),
                name="skipped_review_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"Review #{self.pk} of generation {self.generation_id} ({self.status})"


class Flag(TimestampedModel):
    """A wrong span: characters [start_char, end_char) of the caption or of the reasoning trace."""

    class Target(models.TextChoices):
        CAPTION = "caption", "Caption / answer"
        REASONING = "reasoning", "Reasoning trace"

    class Severity(models.TextChoices):
        MINOR = "minor", "Minor"
        MAJOR = "major", "Major"
        CRITICAL = "critical", "Critical"

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="flags")
    category = models.ForeignKey(ErrorCategory, on_delete=models.PROTECT, related_name="flags")
    target = models.CharField(max_length=16, choices=Target.choices, default=Target.CAPTION)
    start_char = models.PositiveIntegerField()
    end_char = models.PositiveIntegerField()
    quoted_text = models.TextField(help_text="The span as the expert saw it, kept for audits.")
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.MAJOR)
    audio_start_seconds = models.FloatField(null=True, blank=True)
    audio_end_seconds = models.FloatField(null=True, blank=True)
    correction = models.TextField(blank=True)
    note = models.TextField(blank=True)
    hint = models.ForeignKey(
        "annotations.GenerationHint",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="flags",
        help_text="The machine hint this flag confirmed, if any.",
    )

    class Meta:
        ordering = ["target", "start_char", "id"]
        permissions = [
            ("view_audit", "Can view hallucination and cultural-error analytics"),
            ("export_audit", "Can export analytics tables"),
        ]
        indexes = [models.Index(fields=["category", "severity"], name="flag_category_severity")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_char__gt=models.F("start_char")), name="flag_span_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(audio_start_seconds__isnull=True)
                | models.Q(audio_start_seconds__gte=0),
                name="flag_audio_start_non_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(audio_end_seconds__isnull=True)
                | models.Q(
                    audio_start_seconds__isnull=False,
                    audio_end_seconds__gte=models.F("audio_start_seconds"),
                ),
                name="flag_audio_range_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.category.code} [{self.start_char}:{self.end_char}] in {self.target}"
