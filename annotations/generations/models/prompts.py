"""Prompt templates, versioned: a generation points at the exact text it was asked with."""

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel


class PromptTemplate(TimestampedModel):
    """Immutable once a generation uses it: edits create the next version of the same name."""

    name = models.SlugField(max_length=80)
    version = models.PositiveIntegerField(default=1)
    text = models.TextField()
    thinking = models.BooleanField(
        default=False, help_text="Append the paper's thinking-mode instruction to the question."
    )
    is_active = models.BooleanField(default=True)

    # A question prompt names the verified-metadata field that holds its gold answer (the accuracy
    # reward compares the answer with the experts' agreed value); a caption prompt leaves it blank.
    class AnswerField(models.TextChoices):
        # The fields experts verify on the review page (annotations.reviews.services).
        TEMPO_BPM = "tempo_bpm", "Tempo (BPM)"
        KEY = "key", "Key / mode"
        METER = "meter", "Metre"
        GENRES = "genres", "Genres"
        INSTRUMENTS = "instruments", "Instruments"
        VOCALS = "vocals", "Vocals"
        LANGUAGES = "languages", "Languages"
        CULTURE = "culture", "Culture or tradition"

    answer_field = models.CharField(
        max_length=32,
        blank=True,
        choices=AnswerField.choices,
        help_text="Question prompts: the verified metadata field holding the gold answer.",
    )
    answer_options = models.JSONField(
        default=list, blank=True, help_text="Multiple choice: the options, in letter order."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="prompt_name_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"
