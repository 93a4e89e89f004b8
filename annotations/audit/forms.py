"""The audit pages' filters: one form whose field names are the query-string keys, so a filtered
page's URL is what the form sends and every link can carry it on.

The form lists the choices and checks the shapes (a date is a date); what each value means is
``AuditFilters.from_query``'s call, and its messages name the value that is wrong.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import QueryDict

from annotations.audit.filters import (
    DEFAULT_GROUP_BY,
    DIMENSION_LABELS,
    DIMENSIONS,
    AuditFilterError,
    AuditFilters,
    parse_group_by,
)
from annotations.audit.selectors import filter_choices


class _Choices(forms.MultipleChoiceField):
    """A multi-select whose choices are for display: AuditFilters.from_query says what is unknown."""

    def valid_value(self, value: str) -> bool:
        return True


class _Choice(forms.ChoiceField):
    def valid_value(self, value: str) -> bool:
        return True


def _multi(label: str, help_text: str = "") -> _Choices:
    return _Choices(label=label, required=False, help_text=help_text)


class AuditFilterForm(forms.Form):
    """Bound to ``request.GET``; after ``is_valid()``, ``filters`` and ``grouping`` are set."""

    model_version = _multi("Model versions")
    category = _multi("Error categories", "Only flags of these categories count.")
    kind = _multi("Kinds")
    aspect = _multi("Caption aspects", "The aspect of the flagged claim's category.")
    genre = _multi("Genres", "Songs in any of these genres.")
    culture = _multi("Cultures / traditions", "Songs of any of these cultures.")
    region = _multi("Regions")
    target = _Choice(label="Part", required=False)
    severity = _multi("Severities", "None selected: all. “Flagged” always means major or critical.")
    date_from = forms.DateField(
        label="Reviewed from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label="Reviewed until", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    group_by = _Choices(
        label="Group by",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        choices=[(key, DIMENSION_LABELS[key]) for key in DIMENSIONS],
        help_text="Rows per combination of these (none ticked: by model version).",
    )

    # The fields whose choices come from filter_choices() (keyed by the same query keys).
    _LISTED = (
        "model_version",
        "category",
        "kind",
        "aspect",
        "genre",
        "culture",
        "region",
        "severity",
    )

    filters: AuditFilters
    grouping: tuple[str, ...]

    def __init__(
        self,
        data: QueryDict,
        *,
        with_group_by: bool = False,
        with_versions: bool = True,
        **kwargs: Any,
    ) -> None:
        if with_group_by and not data.getlist("group_by"):
            data = data.copy()
            data.setlist("group_by", list(DEFAULT_GROUP_BY))
        super().__init__(data, **kwargs)
        choices = self.choices = filter_choices()
        for name in self._LISTED:
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = list(choices[name])
        target = self.fields["target"]
        assert isinstance(target, forms.ChoiceField)
        target.choices = [("", "Caption and reasoning"), *choices["target"]]
        if not with_group_by:
            del self.fields["group_by"]
        if not with_versions:
            del self.fields["model_version"]
        self.filters = AuditFilters()
        self.grouping = DEFAULT_GROUP_BY

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        try:
            self.filters = AuditFilters.from_query(self.data)
            if "group_by" in self.fields:
                self.grouping = parse_group_by(self.data)
        except AuditFilterError as exc:
            for key, message in exc.errors.items():
                self.add_error(key if key in self.fields else None, message)
        return cleaned

    def filter_fields(self) -> list[forms.BoundField]:
        """The filters, without the grouping (the template lays that out on its own)."""
        return [self[name] for name in self.fields if name != "group_by"]


class AuditCompareForm(AuditFilterForm):
    """Two model versions side by side; the other filters narrow what both are measured on."""

    version_a = _Choice(label="Version A", required=False)
    version_b = _Choice(label="Version B", required=False)

    def __init__(self, data: QueryDict, **kwargs: Any) -> None:
        super().__init__(data, with_versions=False, **kwargs)
        versions = [("", "—"), *self.choices["model_version"]]
        for name in ("version_a", "version_b"):
            field = self.fields[name]
            assert isinstance(field, forms.ChoiceField)
            field.choices = versions
        # The two versions lead the form.
        self.order_fields(["version_a", "version_b"])
        self.version_ids: tuple[int, int] | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        raw = (cleaned.get("version_a") or "", cleaned.get("version_b") or "")
        if not any(raw):
            return cleaned
        try:
            a, b = (int(value) for value in raw)
        except ValueError:
            self.add_error(None, "Choose two model versions to compare.")
            return cleaned
        if a == b:
            self.add_error("version_b", "Choose a different version from version A.")
            return cleaned
        self.version_ids = (a, b)
        return cleaned

    def filter_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name not in {"version_a", "version_b"}]
