"""Training runs, their metrics and evaluations: the provenance of every trained version."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel
from annotations.datasets.models import DatasetSnapshot


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
