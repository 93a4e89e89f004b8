"""Songs and the audio files that carry them."""

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel
from annotations.songs.models.vocabulary import Culture, Genre, Language


class Song(TimestampedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for analysis"
        READY = "ready", "Ready"
        FAILED = "failed", "Analysis failed"

    title = models.CharField(max_length=300, db_index=True)
    artist = models.CharField(max_length=300, blank=True, db_index=True)
    album = models.CharField(max_length=300, blank=True)
    year = models.PositiveSmallIntegerField(null=True, blank=True)
    genres = models.ManyToManyField(Genre, blank=True, related_name="songs")
    cultures = models.ManyToManyField(
        Culture, blank=True, related_name="songs", help_text="Cultures, regions and traditions."
    )
    languages = models.ManyToManyField(Language, blank=True, related_name="songs")
    licence = models.CharField(max_length=200, blank=True)
    source = models.CharField(
        max_length=500, blank=True, help_text="Where the recording came from (label, archive, URL)."
    )
    tags = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["title", "id"]
        # Keyset pagination walks these orderings; each needs its index at 100,000 songs.
        indexes = [
            models.Index(fields=["title", "id"], name="song_title_id"),
            models.Index(fields=["artist", "id"], name="song_artist_id"),
            models.Index(fields=["created_at", "id"], name="song_created_id"),
            models.Index(fields=["year", "id"], name="song_year_id"),
        ]
        permissions = [("manage_songs", "Can upload, import and edit songs")]

    def __str__(self) -> str:
        return f"{self.artist} — {self.title}" if self.artist else self.title


def audio_upload_path(instance: "AudioFile", filename: str) -> str:
    # Content-addressed: the hash names the file, so a retried import cannot leave two copies.
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else "bin"
    return f"audio/{instance.sha256[:2]}/{instance.sha256}.{suffix}"


class AudioFile(TimestampedModel):
    """One stored audio file of a song. Unique by content hash: duplicates are found by content."""

    song = models.ForeignKey(Song, on_delete=models.CASCADE, related_name="audio_files")
    file = models.FileField(upload_to=audio_upload_path, max_length=300)
    original_filename = models.CharField(max_length=300, blank=True)
    sha256 = models.CharField(max_length=64, unique=True)
    size_bytes = models.BigIntegerField()
    format = models.CharField(max_length=16, blank=True, help_text="Container found by decoding.")
    duration_seconds = models.FloatField(null=True, blank=True)
    sample_rate = models.PositiveIntegerField(null=True, blank=True)
    channels = models.PositiveSmallIntegerField(null=True, blank=True)
    probed_at = models.DateTimeField(null=True, blank=True)
    probe_error = models.TextField(blank=True)

    class Meta:
        ordering = ["song_id", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(size_bytes__gte=0), name="audiofile_size_non_negative"
            ),
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="audiofile_sha256_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.original_filename or self.sha256[:12]} ({self.song_id})"

    @property
    def exceeds_model_window(self) -> bool:
        """True when Music Flamingo will hear only the first 20 minutes of this file."""
        return (self.duration_seconds or 0) > settings.WORKBENCH_MODEL_WINDOW_SECONDS
