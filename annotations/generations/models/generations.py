"""What the model said: single generations and groups of siblings sampled for one prompt."""

from django.db import models

from annotations.core.models import TimestampedModel
from annotations.generations.models.model_versions import ModelVersion
from annotations.generations.models.prompts import PromptTemplate
from annotations.songs.models.songs import Song


class GenerationGroup(TimestampedModel):
    """Siblings sampled for one (song, model version, prompt): what experts rank and GRPO groups."""

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="generation_groups")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="generation_groups"
    )
    prompt = models.ForeignKey(
        PromptTemplate, on_delete=models.PROTECT, related_name="generation_groups"
    )
    size = models.PositiveSmallIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Group #{self.pk} ({self.size} siblings)"


class Generation(TimestampedModel):
    """One output of one model version for one song and prompt, with all it takes to reproduce it.

    ``think_text`` and ``answer_text`` are the parsed parts of ``raw_text``; flags point at character
    offsets of one of them, so they are written once, by the parser, and never edited.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="generations")
    model_version = models.ForeignKey(
        ModelVersion, on_delete=models.PROTECT, related_name="generations"
    )
    prompt = models.ForeignKey(PromptTemplate, on_delete=models.PROTECT, related_name="generations")
    group = models.ForeignKey(
        GenerationGroup,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="generations",
    )
    sibling_index = models.PositiveSmallIntegerField(default=0)
    decoding = models.JSONField(
        default=dict, blank=True, help_text="max_new_tokens, temperature, top_p, do_sample, …"
    )
    seed = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    error = models.TextField(blank=True)
    raw_text = models.TextField(blank=True)
    think_text = models.TextField(blank=True, help_text="Inside <think>…</think>, if any.")
    answer_text = models.TextField(blank=True, help_text="The caption or answer.")
    parsed = models.JSONField(
        default=dict,
        blank=True,
        help_text="Caption sections, sentences and reasoning steps as character offsets.",
    )
    audio_seconds_heard = models.FloatField(null=True, blank=True)
    audio_file = models.ForeignKey(
        "annotations.AudioFile",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generations",
        help_text="The file the model heard (its hash is in audio_heard).",
    )
    audio_heard = models.JSONField(
        default=dict,
        blank=True,
        help_text="Which part the model heard: start, end, source seconds, truncated, sha256.",
    )
    input_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage.")
    celery_task_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    review_complete = models.BooleanField(
        default=False,
        help_text="Has its WORKBENCH_REVIEWS_PER_GENERATION submitted reviews: the review queue "
        "skips it (manage.py sync_review_queue recomputes it after k changes).",
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [("run_generation", "Can start Music Flamingo generation runs")]
        indexes = [
            models.Index(fields=["model_version", "status"], name="gen_version_status"),
            # The review queue walks this in id order and stops at the first claimable output, so
            # "next" stays fast however many outputs are already fully reviewed.
            models.Index(
                fields=["id"],
                condition=models.Q(status="succeeded", review_complete=False),
                name="gen_review_queue",
            ),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["group", "sibling_index"], name="generation_sibling_index_unique"
            )
        ]

    def __str__(self) -> str:
        return f"Generation #{self.pk} of {self.song_id} by {self.model_version_id}"
