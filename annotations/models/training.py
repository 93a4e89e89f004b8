"""Dataset snapshots and training runs: the provenance of every model version after the base one.

Only the columns that lineage needs live here now; the training issue fills in the rest.
"""

from django.conf import settings
from django.db import models

from annotations.models.base import TimestampedModel


class DatasetSnapshot(TimestampedModel):
    """A frozen, content-hashed export of curated feedback. Immutable once frozen."""

    class Status(models.TextChoices):
        BUILDING = "building", "Building"
        FROZEN = "frozen", "Frozen"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=200, unique=True)
    filters = models.JSONField(default=dict, blank=True, help_text="The filters it was built from.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.BUILDING)
    storage_path = models.CharField(max_length=500, blank=True)
    content_sha256 = models.CharField(max_length=64, blank=True)
    row_counts = models.JSONField(default=dict, blank=True, help_text="Rows per split and format.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    frozen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("curate_datasets", "Can build and freeze dataset snapshots")]

    def __str__(self) -> str:
        return self.name


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
    config = models.JSONField(default=dict, blank=True, help_text="Hyperparameters as launched.")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    progress = models.FloatField(default=0.0, help_text="0–1, written by the worker.")
    metrics = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    celery_task_id = models.CharField(max_length=64, blank=True)
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
