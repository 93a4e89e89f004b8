"""The new-snapshot form: a name, the split, and the filters as multi-selects. The service
(``annotations.datasets.services``) has the last word on what is valid."""

from __future__ import annotations

from typing import Any

from django import forms

from annotations.datasets.services import MAX_AGREEING_EXPERTS, MAX_NAME_LENGTH, PROMPT_KINDS
from annotations.generations.models import ModelVersion
from annotations.reviews.models import Review
from annotations.songs.models import Culture, Genre


class DatasetSnapshotForm(forms.Form):
    name = forms.CharField(max_length=MAX_NAME_LENGTH, help_text="Unique, e.g. hindustani-2026-11.")
    description = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2, "cols": 70})
    )
    model_versions = forms.ModelMultipleChoiceField(
        queryset=ModelVersion.objects.order_by("name"),
        required=False,
        help_text="Outputs of these versions; none selected means all.",
    )
    date_from = forms.DateField(
        required=False,
        label="Reviewed from",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Reviews submitted on or after this day.",
    )
    date_to = forms.DateField(
        required=False,
        label="Reviewed until",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Reviews submitted on or before this day.",
    )
    genres = forms.MultipleChoiceField(required=False, help_text="Songs with any of these genres.")
    cultures = forms.MultipleChoiceField(
        required=False, help_text="Songs of any of these cultures or traditions."
    )
    verdicts = forms.MultipleChoiceField(
        choices=Review.Verdict.choices,
        required=False,
        help_text="Only reviews with these verdicts count; none selected means all.",
    )
    min_agreeing_experts = forms.IntegerField(
        min_value=1,
        max_value=MAX_AGREEING_EXPERTS,
        initial=1,
        label="Minimum agreeing experts",
        help_text="Experts who must back each example (review, verified field or ranking).",
    )
    prompt_kinds = forms.MultipleChoiceField(
        choices=list(PROMPT_KINDS.items()),
        required=False,
        help_text="None selected means all.",
    )
    eval_fraction = forms.FloatField(
        min_value=0.0,
        max_value=0.9,
        initial=0.1,
        label="Eval share",
        help_text="Share of songs held out for evaluation (whole songs, stratified by genre "
        "and culture).",
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    split_seed = forms.IntegerField(
        min_value=0, initial=0, help_text="The same seed and data give the same split."
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        genres = self.fields["genres"]
        cultures = self.fields["cultures"]
        assert isinstance(genres, forms.MultipleChoiceField)
        assert isinstance(cultures, forms.MultipleChoiceField)
        genres.choices = list(Genre.objects.order_by("name").values_list("slug", "name"))
        cultures.choices = list(Culture.objects.order_by("name").values_list("slug", "name"))

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "model_versions": [version.pk for version in data["model_versions"]],
            "date_from": data["date_from"].isoformat() if data["date_from"] else None,
            "date_to": data["date_to"].isoformat() if data["date_to"] else None,
            "genres": data["genres"],
            "cultures": data["cultures"],
            "verdicts": data["verdicts"],
            "min_agreeing_experts": data["min_agreeing_experts"],
            "prompt_kinds": data["prompt_kinds"],
        }
