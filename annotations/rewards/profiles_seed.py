"""The reward profiles every database starts with (admins add versions and new ones).

``paper`` is Music Flamingo's GRPO recipe (arXiv 2511.10289 §3.3): format plus accuracy on
question rows, format plus structured thinking on caption rows; each row only has the values that
apply to it, so one profile covers both. ``expert-feedback`` adds the workbench's expert-derived
rewards; the hallucination penalty is negative, so a positive weight subtracts it.
"""

from __future__ import annotations

from typing import Any

DEFAULT_PROFILES: list[dict[str, object]] = [
    {
        "name": "paper",
        "description": "The paper's GRPO rewards: format + accuracy (QA) or structured thinking.",
        "weights": {"format": 1.0, "accuracy": 1.0, "structured_thinking": 1.0},
    },
    {
        "name": "expert-feedback",
        "description": "The paper's rewards plus the experts': flags, step grades, rankings.",
        "weights": {
            "format": 1.0,
            "accuracy": 1.0,
            "structured_thinking": 1.0,
            "hallucination_penalty": 1.0,
            "step_validity": 0.5,
            "preference": 1.0,
        },
    },
]


def seed_reward_profiles(apps: Any) -> None:
    """Version 1 of each default profile (migration-time or the live app registry)."""
    profile_model = apps.get_model("annotations", "RewardProfile")
    for spec in DEFAULT_PROFILES:
        profile_model.objects.get_or_create(
            name=spec["name"],
            version=1,
            defaults={"description": spec["description"], "weights": spec["weights"]},
        )
