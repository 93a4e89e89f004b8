"""What the audit counts: its filters and dimensions, read from a query string and checked.

``AuditFilters`` says which generations, reviews and flags count (empty: everything);
``AuditFilterError`` names each value that makes no sense, for the form to show. The taxonomy and
the ``counted_*`` helpers turn filters into the categories, parts and severities whose flags count:
the query builder (``sql``) and the selectors both read them, and the parts and severities are
checked here because the summaries' column names are built from them.

Definitions of the figures are in ``annotations.audit.selectors``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from django.utils.dateparse import parse_date

from annotations.core.errors import ValidationFailed
from annotations.generations.models import ModelVersion
from annotations.reviews.models import ErrorCategory, Flag
from annotations.songs.models import Culture, Genre

GENERATION_DIMENSIONS = ("model_version", "genre", "culture", "region")
FLAG_DIMENSIONS = ("category", "kind", "aspect", "target")
DIMENSIONS = GENERATION_DIMENSIONS + FLAG_DIMENSIONS
DIMENSION_LABELS = {
    "model_version": "Model version",
    "genre": "Genre",
    "culture": "Culture / tradition",
    "region": "Region",
    "category": "Error category",
    "kind": "Kind",
    "aspect": "Caption aspect",
    "target": "Reasoning vs answer",
}
DEFAULT_GROUP_BY = ("model_version",)
SERIOUS = (Flag.Severity.MAJOR.value, Flag.Severity.CRITICAL.value)
PARTS = tuple(Flag.Target.values)  # the parts of an output a flag is on: caption, reasoning


class AuditFilterError(ValidationFailed):
    """Filters a person typed or a stale link carried that do not make sense; one message per key."""

    code = "invalid_filter"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()), extra={"errors": errors})
        self.errors = errors


# --- Filters -----------------------------------------------------------------------------------------

# Query-string key → AuditFilters field, for the multi-valued filters.
_MULTI_KEYS = {
    "model_version": "model_versions",
    "category": "categories",
    "kind": "kinds",
    "genre": "genres",
    "culture": "cultures",
    "region": "regions",
    "aspect": "aspects",
    "severity": "severities",
}


@dataclass(frozen=True)
class AuditFilters:
    """What the audit counts. Empty means everything; values are query-string values (slugs, codes)."""

    model_versions: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    genres: tuple[str, ...] = ()
    cultures: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    aspects: tuple[str, ...] = ()
    target: str = ""
    severities: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None

    @classmethod
    def from_query(cls, query: Any) -> AuditFilters:
        """Parse a QueryDict (or a mapping of key → list of values); unknown values are refused.

        Raises ``AuditFilterError`` whose ``errors`` maps each bad key to a message to show.
        """
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for key, name in _MULTI_KEYS.items():
            raw = _values(query, key)
            if key == "model_version":
                ids: list[int] = []
                for value in raw:
                    if not value.isdigit():
                        errors[key] = f"Model version “{value}” is not a version id."
                        break
                    ids.append(int(value))
                values[name] = tuple(dict.fromkeys(ids))
            else:
                values[name] = tuple(dict.fromkeys(raw))
        target = _values(query, "target")
        if len(target) > 1:
            errors["target"] = "Choose one target: reasoning or answer, or neither for both."
        values["target"] = target[0] if target else ""
        for key in ("date_from", "date_to"):
            raw = _values(query, key)
            values[key] = None
            if raw:
                parsed = _parse_day(raw[0])
                if parsed is None:
                    errors[key] = f"“{raw[0]}” is not a date: use YYYY-MM-DD."
                values[key] = parsed
        if (
            values["date_from"] is not None
            and values["date_to"] is not None
            and values["date_from"] > values["date_to"]
        ):
            errors["date_to"] = "The end date is before the start date."
        if "model_version" not in errors:
            errors.update(_unknown_values(values))
        if errors:
            raise AuditFilterError(errors)
        return cls(**values)

    def narrowed(self, cell: Mapping[str, str]) -> AuditFilters:
        """These filters with each of the cell's dimensions fixed to the cell's value."""
        changes: dict[str, Any] = {}
        for key, value in cell.items():
            if key not in DIMENSIONS:
                raise AuditFilterError({key: f"“{key}” is not an audit dimension."})
            if key == "target":
                changes["target"] = value
            elif key == "model_version":
                if not str(value).isdigit():
                    raise AuditFilterError({key: f"Model version “{value}” is not a version id."})
                changes["model_versions"] = (int(value),)
            else:
                changes[_MULTI_KEYS[key]] = (str(value),)
        return replace(self, **changes)

    def to_query(self) -> list[tuple[str, str]]:
        """The filters as query-string pairs; ``from_query`` reads them back unchanged."""
        pairs: list[tuple[str, str]] = []
        for key, name in _MULTI_KEYS.items():
            pairs.extend((key, str(value)) for value in getattr(self, name))
        if self.target:
            pairs.append(("target", self.target))
        if self.date_from:
            pairs.append(("date_from", self.date_from.isoformat()))
        if self.date_to:
            pairs.append(("date_to", self.date_to.isoformat()))
        return pairs

    def describe(self) -> dict[str, Any]:
        """The set filters, JSON-able and readable (versions by name), for exports to record."""
        described: dict[str, Any] = {}
        names = dict(
            ModelVersion.objects.filter(pk__in=self.model_versions).values_list("pk", "name")
        )
        for key, name in _MULTI_KEYS.items():
            chosen = getattr(self, name)
            if chosen:
                described[key] = (
                    [f"{names.get(pk, '?')} (#{pk})" for pk in chosen]
                    if key == "model_version"
                    else list(chosen)
                )
        if self.target:
            described["target"] = self.target
        if self.date_from:
            described["date_from"] = self.date_from.isoformat()
        if self.date_to:
            described["date_to"] = self.date_to.isoformat()
        return described

    @property
    def is_empty(self) -> bool:
        return self == AuditFilters()


def _values(query: Any, key: str) -> list[str]:
    if hasattr(query, "getlist"):
        raw = query.getlist(key)
    else:
        found = query.get(key, [])
        raw = [found] if isinstance(found, str) else list(found)
    return [str(v).strip() for v in raw if str(v).strip()]


def _parse_day(value: str) -> date | None:
    try:
        return parse_date(value)
    except ValueError:
        return None


def _unknown_values(values: dict[str, Any]) -> dict[str, str]:
    """One message per key naming the first value the database does not know."""
    known: dict[str, Iterable[Any]] = {}
    if values["model_versions"]:
        known["model_version"] = ModelVersion.objects.filter(
            pk__in=values["model_versions"]
        ).values_list("pk", flat=True)
    if values["categories"]:
        known["category"] = ErrorCategory.objects.filter(code__in=values["categories"]).values_list(
            "code", flat=True
        )
    if values["genres"]:
        known["genre"] = Genre.objects.filter(slug__in=values["genres"]).values_list(
            "slug", flat=True
        )
    if values["cultures"]:
        known["culture"] = Culture.objects.filter(slug__in=values["cultures"]).values_list(
            "slug", flat=True
        )
    if values["regions"]:
        known["region"] = Culture.objects.filter(region__in=values["regions"]).values_list(
            "region", flat=True
        )
    known["kind"] = ErrorCategory.Kind.values
    known["aspect"] = ErrorCategory.Aspect.values
    known["severity"] = Flag.Severity.values
    nouns = {
        "model_version": "model version",
        "category": "error category",
        "genre": "genre",
        "culture": "culture",
        "region": "region",
        "kind": "kind of error",
        "aspect": "caption aspect",
        "severity": "severity",
    }
    errors: dict[str, str] = {}
    for key, allowed in known.items():
        allowed_set = set(allowed)
        for value in values[_MULTI_KEYS[key]]:
            if value not in allowed_set:
                errors[key] = f"Unknown {nouns[key]} “{value}”."
                break
    if values["target"] and values["target"] not in Flag.Target.values:
        errors["target"] = (
            f"Unknown target “{values['target']}”: use “caption” (the answer) or “reasoning”."
        )
    return errors


def parse_group_by(query: Any) -> tuple[str, ...]:
    """The ``group_by`` dimensions, in order (default: by model version; an empty value: none)."""
    present = query.getlist("group_by") if hasattr(query, "getlist") else _values(query, "group_by")
    if not present:
        return DEFAULT_GROUP_BY
    chosen = tuple(dict.fromkeys(v.strip() for v in present if v.strip()))
    unknown = [v for v in chosen if v not in DIMENSIONS]
    if unknown:
        raise AuditFilterError(
            {
                "group_by": f"Cannot group by “{unknown[0]}”: choose from "
                + ", ".join(DIMENSION_LABELS[d].lower() for d in DIMENSIONS)
                + "."
            }
        )
    return chosen


def check_group_by(group_by: Sequence[str]) -> tuple[str, ...]:
    """``group_by`` without repeats; an unknown dimension is refused."""
    chosen = tuple(dict.fromkeys(group_by))
    unknown = [d for d in chosen if d not in DIMENSIONS]
    if unknown:
        raise AuditFilterError({"group_by": f"Cannot group by “{unknown[0]}”."})
    return chosen


@dataclass
class Category:
    """An error category as the audit reads it (one query for all of them: ``read_taxonomy``)."""

    id: int
    code: str
    name: str
    kind: str
    aspect: str
    is_active: bool


def read_taxonomy() -> list[Category]:
    """Every error category, retired ones included, in the order the pages list them."""
    return [
        Category(*row)
        for row in ErrorCategory.objects.order_by("kind", "sort_order", "code").values_list(
            "id", "code", "name", "kind", "aspect", "is_active"
        )
    ]


def counted_categories(filters: AuditFilters, taxonomy: list[Category]) -> list[Category]:
    """The categories whose flags the category, kind and aspect filters count."""
    return [
        c
        for c in taxonomy
        if (not filters.categories or c.code in filters.categories)
        and (not filters.kinds or c.kind in filters.kinds)
        and (not filters.aspects or c.aspect in filters.aspects)
    ]


def counted_parts(filters: AuditFilters) -> list[str]:
    """The parts of an output whose flags count. Checked, as they name the summaries' columns."""
    if filters.target and filters.target not in PARTS:
        raise AuditFilterError({"target": f"Unknown target “{filters.target}”."})
    return [filters.target] if filters.target else list(PARTS)


def counted_severities(filters: AuditFilters) -> list[str]:
    """The severities of the flags that count. Checked, as they name the summaries' columns."""
    for severity in filters.severities:
        if severity not in Flag.Severity.values:
            raise AuditFilterError({"severity": f"Unknown severity “{severity}”."})
    return list(filters.severities) or list(Flag.Severity.values)
