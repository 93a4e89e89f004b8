"""Machine hints: where a generation's claim contradicts what the analysis measured.

Suggestions for experts, never flags: they are not counted in error rates or rewards until an expert
confirms one in their own review.
"""

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel
from annotations.generations.models.generations import Generation


class GenerationHint(TimestampedModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CONFIRMED = "confirmed", "Confirmed"
        DISMISSED = "dismissed", "Dismissed"

    generation = models.ForeignKey(Generation, on_delete=models.CASCADE, related_name="hints")
    kind = models.CharField(max_length=32, help_text="What was compared: tempo, key, …")
    target = models.CharField(
        max_length=16, blank=True, help_text="Which text the span is in (as the parser names it)."
    )
    start_char = models.PositiveIntegerField(null=True, blank=True)
    end_char = models.PositiveIntegerField(null=True, blank=True)
    quoted_text = models.TextField(blank=True)
    claimed = models.JSONField(null=True, blank=True, help_text="What the text says.")
    measured = models.JSONField(null=True, blank=True, help_text="What the analysis found.")
    message = models.TextField()
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.OPEN, db_index=True
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["generation_id", "start_char", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_char__isnull=True)
                | models.Q(end_char__gt=models.F("start_char")),
                name="hint_span_non_empty",
            ),
            models.CheckConstraint(
                condition=models.Q(status="open") | models.Q(decided_at__isnull=False),
                name="decided_hint_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} hint on generation {self.generation_id} ({self.status})"
