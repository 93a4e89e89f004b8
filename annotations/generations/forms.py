"""The form that starts a generation run. Messages say what to fix."""

from __future__ import annotations

from typing import Any

from django import forms

from annotations.generations.models import ModelVersion, PromptTemplate
from annotations.generations.services.generations import MAX_SAMPLES, decoding_params
from annotations.songs.models import Song


class GenerationRequestForm(forms.Form):
    songs = forms.ModelMultipleChoiceField(
        queryset=Song.objects.all(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one song (from the song list or a song page)."},
    )
    model_version = forms.ModelChoiceField(
        queryset=ModelVersion.objects.exclude(status=ModelVersion.Status.RETIRED).order_by("name")
    )
    prompt = forms.ModelChoiceField(
        queryset=PromptTemplate.objects.filter(is_active=True).order_by("name", "-version")
    )
    samples = forms.IntegerField(
        min_value=1,
        max_value=MAX_SAMPLES,
        initial=5,
        help_text="Sibling samples per song (5 is the paper's GRPO group size).",
    )
    max_new_tokens = forms.IntegerField(min_value=1, max_value=8192, initial=1024)
    temperature = forms.FloatField(min_value=0.01, max_value=5, initial=0.7)
    top_p = forms.FloatField(min_value=0.01, max_value=1, initial=0.95, label="Top-p")
    greedy = forms.BooleanField(required=False, help_text="Greedy decoding: no sampling.")
    seed = forms.IntegerField(
        min_value=0,
        max_value=2**31 - 1,
        required=False,
        help_text="Sibling i gets seed + i. Blank: a random seed, recorded.",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        try:
            data["decoding"] = decoding_params(
                max_new_tokens=data["max_new_tokens"],
                do_sample=not data["greedy"],
                temperature=data["temperature"],
                top_p=data["top_p"],
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data
