"""The form that launches a training run: stage, base, snapshot, profile, LoRA or full, and the
preset's hyperparameters, each overridable. Messages say what to fix."""

from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse

from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import ModelVersion
from annotations.rewards.models import RewardProfile
from annotations.training.hyperparameters import coerce_setting, display_setting
from annotations.training.models import TrainingRun
from annotations.training.services.creation import (
    training_preset_names,
    training_preset_settings,
    training_setting_types,
)

# Set by the form itself (stage, LoRA or full) rather than typed in as a hyperparameter.
_NOT_OVERRIDABLE = ("stage", "use_lora")
# Shown for every stage; the rest only for the stage that reads them.
_STAGE_ONLY = {
    "num_generations": "grpo",
    "max_completion_length": "grpo",
    "beta": "grpo",
    "loss_type": "grpo",
    "temperature": "grpo",
    "dpo_beta": "dpo",
}
_LORA_ONLY = ("lora_r", "lora_alpha", "lora_dropout")


def hyperparameter_fields() -> list[tuple[str, str]]:
    """(name, type) of every overridable TrainingConfig setting, in the dataclass's order."""
    return [
        (name, type_) for name, type_ in training_setting_types() if name not in _NOT_OVERRIDABLE
    ]


def preset_values(stage: str, preset: str, *, use_lora: bool = True) -> dict[str, Any]:
    """The preset's full settings for a stage (every field, defaults filled in); {} if unknown."""
    try:
        return training_preset_settings(stage, preset, use_lora=use_lora)
    except ValueError:
        return {}


def hyperparameter_rows(stage: str, preset: str, data: Any = None) -> list[dict[str, Any]]:
    """What the form's table shows: each setting that applies to ``stage``, its preset value and
    the override typed (if any)."""
    values = preset_values(stage, preset)
    rows = []
    for name, _type in hyperparameter_fields():
        only = _STAGE_ONLY.get(name)
        if only is not None and only != stage:
            continue
        rows.append(
            {
                "name": name,
                "field": f"hp_{name}",
                "preset": display_setting(values.get(name)),
                "value": (data.get(f"hp_{name}", "") if data is not None else ""),
                "lora_only": name in _LORA_ONLY,
            }
        )
    return rows


class TrainingRunForm(forms.Form):
    stage = forms.ChoiceField(choices=TrainingRun.Stage.choices, initial=TrainingRun.Stage.SFT)
    base_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.exclude(status=ModelVersion.Status.RETIRED).order_by("name"),
        label="Base model version",
    )
    snapshot = forms.ModelChoiceField(
        queryset=DatasetSnapshot.objects.filter(status=DatasetSnapshot.Status.FROZEN),
        label="Dataset snapshot",
        help_text="Frozen snapshots only; the run trains on its train split.",
    )
    reward_profile = forms.ModelChoiceField(
        queryset=RewardProfile.objects.order_by("name", "-version"),
        required=False,
        help_text="GRPO only. Launching freezes the profile: later edits make a new version.",
    )
    method = forms.ChoiceField(
        choices=[("lora", "LoRA adapter"), ("full", "Full fine-tuning")],
        initial="lora",
        widget=forms.RadioSelect,
        label="Weights trained",
    )
    preset = forms.ChoiceField(
        choices=[],
        initial="paper",
        help_text="The paper's recipe by default; a blank setting below keeps the preset's value.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        preset_field = self.fields["preset"]
        assert isinstance(preset_field, forms.ChoiceField)
        preset_field.choices = [(name, name) for name in training_preset_names()]
        # Picking another stage or preset redraws the hyperparameter table (typed values kept).
        for name in ("stage", "preset"):
            self.fields[name].widget.attrs.update(
                {
                    "hx-get": reverse("training_run_new"),
                    "hx-trigger": "change",
                    "hx-target": "#hyperparameters",
                    "hx-swap": "outerHTML",
                    # Not the whole form: the CSRF token has no place in a URL.
                    "hx-include": "#id_stage, #id_preset, [name^='hp_']",
                }
            )
        self._types = dict(hyperparameter_fields())
        for name in self._types:
            self.fields[f"hp_{name}"] = forms.CharField(required=False, max_length=64, label=name)

    def current(self, name: str) -> str:
        """The stage or preset the page shows (the posted one, else the initial)."""
        raw = self.data.get(name) if self.is_bound else None
        return str(raw or self.initial.get(name) or self.fields[name].initial)

    @property
    def preset_name(self) -> str:
        return self.current("preset")

    def rows(self) -> list[dict[str, Any]]:
        rows = hyperparameter_rows(
            self.current("stage"), self.current("preset"), self.data if self.is_bound else None
        )
        errors = self.errors if self.is_bound else {}
        for row in rows:
            row["errors"] = errors.get(row["field"], [])
        return rows

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        overrides: dict[str, Any] = {}
        stage = data.get("stage", "")
        for name, type_name in self._types.items():
            raw = (data.get(f"hp_{name}") or "").strip()
            if not raw:
                continue
            only = _STAGE_ONLY.get(name)
            if only is not None and only != stage:
                continue  # a box left over from another stage's table
            try:
                overrides[name] = coerce_setting(name, type_name, raw)
            except ValueError as exc:
                self.add_error(f"hp_{name}", str(exc))
        data["overrides"] = overrides
        data["use_lora"] = data.get("method") != "full"
        if stage == TrainingRun.Stage.GRPO and not data.get("reward_profile"):
            self.add_error("reward_profile", "GRPO needs a reward profile: pick one.")
        elif stage and stage != TrainingRun.Stage.GRPO:
            data["reward_profile"] = None  # only GRPO reads one; a stale choice is ignored
        return data
