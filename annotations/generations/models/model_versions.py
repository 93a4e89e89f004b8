"""Music Flamingo versions and their lineage."""

from django.db import models

from annotations.core.models import TimestampedModel


class ModelVersion(TimestampedModel):
    """A loadable checkpoint. Provenance is foreign keys plus a content hash, never a version string.

    A base version points at a hub id (``nvidia/music-flamingo-2601-hf``) pinned to a revision, or a
    local path; a trained version points at its parent and at the run (and so the dataset snapshot)
    that made it.
    """

    class Status(models.TextChoices):
        CANDIDATE = "candidate", "Candidate"
        SERVING = "serving", "Serving"
        RETIRED = "retired", "Retired"

    class Variant(models.TextChoices):
        INSTRUCT = "instruct", "Instruct (captions)"
        THINK = "think", "Think (reasoning traces)"

    name = models.CharField(max_length=120, unique=True)
    variant = models.CharField(max_length=16, choices=Variant.choices, default=Variant.INSTRUCT)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    training_run = models.OneToOneField(
        "annotations.TrainingRun",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="produced_version",
    )
    checkpoint_uri = models.CharField(
        max_length=500, help_text="A hub id or a path under the storage root."
    )
    checkpoint_revision = models.CharField(
        max_length=64, blank=True, help_text="Hub revision (commit) pinned at registration."
    )
    checkpoint_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Hash over the weight files, computed at registration."
    )
    adapter_uri = models.CharField(
        max_length=500, blank=True, help_text="The LoRA adapter beside the merged weights, if any."
    )
    dtype = models.CharField(max_length=16, default="bfloat16")
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.CANDIDATE, db_index=True
    )
    notes = models.TextField(blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        permissions = [("promote_modelversion", "Can promote or retire model versions")]
        constraints = [
            # New generations use the serving version, so there is at most one per variant.
            models.UniqueConstraint(
                fields=["variant"],
                condition=models.Q(status="serving"),
                name="one_serving_version_per_variant",
            ),
            models.CheckConstraint(
                condition=~models.Q(parent=models.F("id")), name="modelversion_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return self.name
