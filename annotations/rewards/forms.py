"""The reward profile form: one weight per registered reward function. Messages say what to fix;
the service (``annotations.rewards.services.reward_profiles``) has the last word on what is valid."""

from __future__ import annotations

from typing import Any

from django import forms

from annotations.rewards.services.reward_profiles import MAX_ABS_WEIGHT, MAX_NAME_LENGTH
from annotations.rewards.services.rewards import reward_functions

WEIGHT_PREFIX = "weight_"


class RewardProfileForm(forms.Form):
    name = forms.SlugField(
        max_length=MAX_NAME_LENGTH,
        help_text="Letters, digits and hyphens, e.g. expert-heavy. Fixed once created.",
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2, "cols": 70}), required=False
    )
    is_active = forms.BooleanField(
        required=False,
        initial=True,
        label="Active",
        help_text="Active profiles get a composite reward for every generation.",
    )

    def __init__(self, *args: Any, with_name: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not with_name:
            del self.fields["name"]
        for function in reward_functions():
            self.fields[WEIGHT_PREFIX + function.name] = forms.FloatField(
                label=function.name.replace("_", " "),
                required=False,
                min_value=-MAX_ABS_WEIGHT,
                max_value=MAX_ABS_WEIGHT,
                help_text=function.definition,
                widget=forms.NumberInput(attrs={"step": "any"}),
            )

    @classmethod
    def initial_for(cls, profile: Any) -> dict[str, Any]:
        weights = profile.weights or {}
        return {
            "description": profile.description,
            "is_active": profile.is_active,
            **{WEIGHT_PREFIX + name: weight for name, weight in weights.items()},
        }

    def weight_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(WEIGHT_PREFIX)]

    def weights(self) -> dict[str, float]:
        return {
            name.removeprefix(WEIGHT_PREFIX): value
            for name, value in self.cleaned_data.items()
            if name.startswith(WEIGHT_PREFIX) and value is not None
        }
