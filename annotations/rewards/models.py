"""Rewards: every value a generation earned from each reward function, and weighted profiles.

The functions themselves live in ``modeling.rewards`` (plain Python, shared with the GRPO trainer);
these tables keep what they returned, why, and from which reviews, so admins can train on them and
auditors can question them. Rows are written set-based by ``annotations.rewards.services.rewards``.
"""

from django.conf import settings
from django.db import models

from annotations.core.models import TimestampedModel


class RewardProfile(TimestampedModel):
    """A named, versioned set of weights over reward functions.

    Immutable once a training run used it: an edit then creates the next version of the same name,
    so a run's rewards can always be recomputed exactly as it saw them.
    """

    name = models.SlugField(max_length=80)
    version = models.PositiveIntegerField(default=1)
    description = models.TextField(blank=True)
    weights = models.JSONField(
        default=dict, help_text="Reward function name to weight, e.g. {'format': 1.0}."
    )
    is_active = models.BooleanField(
        default=True, help_text="Active profiles get a composite reward for every generation."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "-version"]
        permissions = [("manage_reward_profiles", "Can create and edit reward profiles")]
        constraints = [
            models.UniqueConstraint(fields=["name", "version"], name="rewardprofile_name_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class RewardValue(models.Model):
    """One reward function's value for one generation, at one version of the function.

    Only applicable values are stored (a caption has no accuracy, an unreviewed output no
    hallucination penalty). ``inputs_hash`` fingerprints everything the value was computed from,
    so a recompute with the same inputs rewrites nothing.
    """

    id = models.BigAutoField(primary_key=True)
    generation = models.ForeignKey(
        "annotations.Generation", on_delete=models.CASCADE, related_name="rewards"
    )
    # Copied from the generation so distributions per version read one index, not a join.
    model_version = models.ForeignKey(
        "annotations.ModelVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    function = models.CharField(max_length=40)
    function_version = models.PositiveSmallIntegerField()
    value = models.FloatField()
    details = models.JSONField(default=dict, help_text="Why: what matched, what cost it.")
    provenance = models.JSONField(
        default=dict, help_text="Which reviews (and versions) and which verified metadata."
    )
    inputs_hash = models.CharField(max_length=32)
    computed_at = models.DateTimeField()

    class Meta:
        permissions = [("view_rewards", "Can read reward values and distributions")]
        constraints = [
            models.UniqueConstraint(
                fields=["generation", "function", "function_version"], name="reward_unique"
            )
        ]
        indexes = [
            models.Index(
                fields=["model_version", "function", "function_version", "value"],
                name="reward_distribution",
            )
        ]

    def __str__(self) -> str:
        return f"{self.function} v{self.function_version} = {self.value:.3f}"


class CompositeReward(models.Model):
    """A profile's weighted sum of a generation's current reward values (missing ones skipped)."""

    id = models.BigAutoField(primary_key=True)
    generation = models.ForeignKey(
        "annotations.Generation", on_delete=models.CASCADE, related_name="composite_rewards"
    )
    profile = models.ForeignKey(RewardProfile, on_delete=models.CASCADE, related_name="composites")
    model_version = models.ForeignKey(
        "annotations.ModelVersion", on_delete=models.CASCADE, related_name="+", db_index=False
    )
    value = models.FloatField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["generation", "profile"], name="composite_unique")
        ]
        indexes = [
            models.Index(
                fields=["profile", "model_version", "value"], name="composite_distribution"
            )
        ]

    def __str__(self) -> str:
        return f"{self.profile} = {self.value:.3f}"
