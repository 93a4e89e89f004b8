"""The model page's form: which frozen snapshot to evaluate a version on."""

from __future__ import annotations

from django import forms

from annotations.datasets.models import DatasetSnapshot


class EvaluateForm(forms.Form):
    snapshot = forms.ModelChoiceField(
        queryset=DatasetSnapshot.objects.filter(status=DatasetSnapshot.Status.FROZEN).order_by(
            "-created_at"
        ),
        error_messages={
            "required": "Pick a frozen snapshot to evaluate on.",
            "invalid_choice": "That snapshot is not frozen (or no longer exists); pick a frozen one.",
        },
    )
