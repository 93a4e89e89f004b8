"""Dataset snapshots and their rows.

A snapshot's files (JSON Lines that ``datasets`` loads) live in storage under a content hash; its
rows here (``DatasetExample``) say which song, output and review each example came from, so the
balance and the lineage are queries, not file scans.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel


class FrozenSnapshotError(Exception):
    """A frozen snapshot (or one of its examples) was about to be changed."""


class DatasetSnapshot(TimestampedModel):
    """A frozen, content-hashed export of curated feedback. Immutable once frozen."""

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        FROZEN = "frozen", "Frozen"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    filters = models.JSONField(default=dict, blank=True, help_text="The filters it was built from.")
    eval_fraction = models.FloatField(
        default=0.1, help_text="Share of songs held out for evaluation (split by song)."
    )
    split_seed = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    storage_path = models.CharField(max_length=500, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    row_counts = models.JSONField(default=dict, blank=True, help_text="Rows per split and format.")
    stats = models.JSONField(
        default=dict, blank=True, help_text="Balance per split: genres, cultures, sources."
    )
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    frozen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("curate_datasets", "Can build and freeze dataset snapshots")]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def from_db(cls, *args: Any, **kwargs: Any) -> DatasetSnapshot:
        instance = super().from_db(*args, **kwargs)
        instance._frozen_when_loaded = instance.status == cls.Status.FROZEN
        return instance

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The services never change a frozen snapshot; this stops a stray save() elsewhere (a
        # shell, a future service) from silently rewriting what trained a model version.
        if getattr(self, "_frozen_when_loaded", False):
            raise FrozenSnapshotError(f"Dataset snapshot {self.pk} is frozen and never changes.")
        super().save(*args, **kwargs)
        self._frozen_when_loaded = self.status == self.Status.FROZEN


class DatasetExample(models.Model):
    """One row of a frozen snapshot file, with where it came from. Written once, never changed."""

    class Format(models.TextChoices):
        SFT = "sft", "SFT conversations"
        GRPO = "grpo", "GRPO prompts"
        DPO = "dpo", "DPO pairs"

    class Split(models.TextChoices):
        TRAIN = "train", "Train"
        EVAL = "eval", "Eval"

    snapshot = models.ForeignKey(DatasetSnapshot, on_delete=models.CASCADE, related_name="examples")
    format = models.CharField(max_length=8, choices=Format.choices)
    split = models.CharField(max_length=8, choices=Split.choices)
    position = models.PositiveIntegerField(help_text="Line number in the split's file, from 0.")
    song = models.ForeignKey("annotations.Song", on_delete=models.PROTECT, related_name="+")
    generation = models.ForeignKey(
        "annotations.Generation", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    rejected_generation = models.ForeignKey(
        "annotations.Generation",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="DPO: the lower-ranked output.",
    )
    review_ids = models.JSONField(default=list, blank=True)
    source = models.CharField(
        max_length=32, help_text="corrected_caption, accepted_trace, ranking, correction, question…"
    )
    genre = models.CharField(max_length=120, blank=True)
    culture = models.CharField(max_length=120, blank=True)
    row_sha256 = models.CharField(max_length=64)

    class Meta:
        ordering = ["snapshot", "format", "split", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "format", "split", "position"], name="one_example_per_line"
            )
        ]
        indexes = [models.Index(fields=["snapshot", "format", "split", "genre"])]

    def __str__(self) -> str:
        return f"{self.snapshot_id}/{self.format}/{self.split}/{self.position}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise FrozenSnapshotError("Dataset examples are written once and never changed.")
        super().save(*args, **kwargs)


# A snapshot's files: one JSON Lines file per (format, split) under STORAGE_DIR, and a manifest.
FORMATS = tuple(DatasetExample.Format.values)  # sft, grpo, dpo
SPLITS = tuple(DatasetExample.Split.values)  # train, eval
STORAGE_DIR = "datasets"
MANIFEST = "manifest.json"
