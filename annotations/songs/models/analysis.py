"""What measuring the audio found: one row per (audio file, analyser version).

Small facts (tempo, key, sections…) live in ``facts``; arrays and images (beats, loudness curve,
waveform peaks, spectrogram) live in storage, named in ``artifacts``. Keeping the analyser version
on each row lets a better analyser recompute old songs without losing what the old one said.
"""

from django.db import models

from annotations.core.models import TimestampedModel
from annotations.songs.models.songs import AudioFile, Song


class SongAnalysis(TimestampedModel):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Done"
        FAILED = "failed", "Failed"

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="analyses")
    audio_file = models.ForeignKey(AudioFile, on_delete=models.CASCADE, related_name="analyses")
    analyser_version = models.CharField(max_length=32)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="0 to 1, written while the task runs.")
    stage = models.CharField(max_length=64, blank=True, help_text="The step running now.")
    error = models.TextField(blank=True)
    facts = models.JSONField(default=dict, blank=True)
    artifacts = models.JSONField(
        default=dict, blank=True, help_text="Artifact name → storage path (peaks, beats, PNG…)."
    )
    timings = models.JSONField(default=dict, blank=True, help_text="Seconds per stage.")
    celery_task_id = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["audio_file", "analyser_version"], name="analysis_file_version_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=1),
                name="analysis_progress_0_1",
            ),
        ]

    def __str__(self) -> str:
        return f"Analysis {self.analyser_version} of {self.audio_file_id} ({self.status})"
