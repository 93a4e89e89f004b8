from django.db import models


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class TaskClaim(models.Model):
    """One Celery message of a task that has no status row of its own (a probe, a reward
    recompute), claimed by the delivery that runs it: a message that ran to the end never runs
    again (see ``annotations.core.task_claims``)."""

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        DONE = "done", "Done"

    task_id = models.CharField(max_length=64, primary_key=True)
    task_name = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    attempts = models.PositiveIntegerField(
        default=1, help_text="Deliveries that ran it: more than 1 only after a worker died."
    )
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}] ({self.status})"
