"""Dataset snapshots, training runs and their metrics: the provenance of every trained version.

A snapshot's files (JSON Lines that ``datasets`` loads) live in storage under a content hash; its
rows here (``DatasetExample``) say which song, output and review each example came from, so the
balance and the lineage are queries, not file scans.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models

from annotations.models.base import TimestampedModel


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


class TrainingRun(TimestampedModel):
    """One TRL stage (SFT, chain-of-thought warm-up, GRPO, DPO) from a parent version on a snapshot."""

    class Stage(models.TextChoices):
        SFT = "sft", "Supervised fine-tuning"
        COT = "cot", "Chain-of-thought warm-up"
        GRPO = "grpo", "GRPO with rewards"
        DPO = "dpo", "DPO on expert rankings"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    stage = models.CharField(max_length=8, choices=Stage.choices)
    base_version = models.ForeignKey(
        "annotations.ModelVersion", on_delete=models.PROTECT, related_name="training_runs"
    )
    dataset_snapshot = models.ForeignKey(
        DatasetSnapshot, on_delete=models.PROTECT, related_name="training_runs"
    )
    reward_profile = models.ForeignKey(
        "annotations.RewardProfile",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="training_runs",
        help_text="GRPO's rewards; using a profile freezes it.",
    )
    preset = models.CharField(max_length=32, default="paper")
    use_lora = models.BooleanField(default=True)
    config = models.JSONField(default=dict, blank=True, help_text="Hyperparameters as launched.")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="0–1, written by the worker.")
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    eta_seconds = models.FloatField(null=True, blank=True)
    output_dir = models.CharField(
        max_length=500, blank=True, help_text="Checkpoints and final weights, under storage."
    )
    last_checkpoint_step = models.PositiveIntegerField(default=0)
    attempts = models.PositiveIntegerField(
        default=0, help_text="Starts, counting resumes after a lost worker."
    )
    worker = models.CharField(max_length=200, blank=True, help_text="host:pid holding the run.")
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    launched_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-created_at"]
        permissions = [("run_training", "Can launch and cancel training runs")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__gte=0.0, progress__lte=1.0),
                name="trainingrun_progress_0_1",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_stage_display()} #{self.pk}"


class TrainingMetric(models.Model):
    """One logged step of a run (loss, learning rate, reward means, steps/s, ETA): the live charts'
    history, so a reload draws what was streamed."""

    class Kind(models.TextChoices):
        TRAIN = "train", "Train"
        EVAL = "eval", "Eval"

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metric_rows")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.TRAIN)
    step = models.PositiveIntegerField()
    values = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "kind", "step"]
        constraints = [
            models.UniqueConstraint(fields=["run", "kind", "step"], name="one_metric_row_per_step")
        ]

    def __str__(self) -> str:
        return f"{self.run_id}/{self.kind}/{self.step}"


class ModelEvaluation(models.Model):
    """A model version measured on a snapshot's eval split: the figures a promotion rests on."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"

    model_version = models.ForeignKey(
        "annotations.ModelVersion", on_delete=models.CASCADE, related_name="evaluations"
    )
    snapshot = models.ForeignKey(
        DatasetSnapshot, on_delete=models.PROTECT, related_name="evaluations"
    )
    split = models.CharField(max_length=8, default="eval")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0)
    metrics = models.JSONField(
        default=dict, blank=True, help_text="Accuracy, reward means, format compliance, hint rate."
    )
    samples = models.JSONField(default=list, blank=True, help_text="A few outputs to read.")
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["model_version", "snapshot", "split"], name="one_evaluation_per_split"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_version_id} on {self.snapshot_id}/{self.split}"
