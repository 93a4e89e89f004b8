"""The error taxonomy experts flag with. Data, not code: seeded by a migration, edited in the admin."""

from django.db import models


class ErrorCategory(models.Model):
    class Kind(models.TextChoices):
        HALLUCINATION = "hallucination", "Hallucination"
        CULTURAL = "cultural", "Cultural error"

    class Aspect(models.TextChoices):
        """The caption's aspects, so rates can be broken down by what the claim was about."""

        GENRE = "genre", "Genre & style"
        INSTRUMENTATION = "instrumentation", "Instrumentation & production"
        HARMONY = "harmony", "Harmony & theory"
        RHYTHM = "rhythm", "Rhythm, tempo & metre"
        STRUCTURE = "structure", "Structure & dynamics"
        VOCALS = "vocals", "Vocals & lyrics"
        CULTURE = "culture", "Mood & cultural context"
        REASONING = "reasoning", "Reasoning"

    code = models.SlugField(
        max_length=64, unique=True, help_text="Stable identifier; exports and rewards use it."
    )
    name = models.CharField(max_length=120)
    kind = models.CharField(max_length=16, choices=Kind.choices, db_index=True)
    aspect = models.CharField(max_length=16, choices=Aspect.choices)
    description = models.TextField(help_text="Shown to experts when they choose the category.")
    example = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["kind", "sort_order", "code"]
        verbose_name_plural = "error categories"

    def __str__(self) -> str:
        return self.name
