"""What the reward pages show: one generation's rewards explained, and distributions per version.

Reads only. Reward rows are written by ``annotations.rewards.services.rewards``; their ``details`` (the
"why") and ``provenance`` are JSON written by code that evolves, so everything read from them here
is read defensively: a missing key shows as a dash, an unknown one as a small key/value list.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    FloatField,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Cast, Floor, Greatest, Least

from annotations.generations.models import Generation, ModelVersion
from annotations.reviews.models import Review
from annotations.rewards.models import CompositeReward, RewardProfile, RewardValue

if TYPE_CHECKING:
    from modeling.rewards import RewardFunction

# Every function scores in [0, 1] but the hallucination penalty, which only subtracts.
DEFAULT_RANGE = (0.0, 1.0)
FUNCTION_RANGES: dict[str, tuple[float, float]] = {"hallucination_penalty": (-1.0, 0.0)}
# Functions whose inputs are expert reviews (the others read the output, plus verified metadata).
REVIEW_BASED = ("hallucination_penalty", "step_validity", "preference")
AGREEMENT_LABELS = {
    "unanimous": "unanimous",
    "majority": "majority",
    "single": "one reviewer",
    "no_agreement": "no agreement",
}
MAX_BINS = 100


def function_range(name: str) -> tuple[float, float]:
    return FUNCTION_RANGES.get(name, DEFAULT_RANGE)


# --- one generation's breakdown ------------------------------------------------------------------


def reward_breakdown(
    generation: Generation, *, functions: Sequence[RewardFunction]
) -> dict[str, Any]:
    """Each current reward with its value and why, those that do not apply and why, composites.

    Four queries whatever the number of rows: values, submitted-review count, active profiles,
    composites. ``generation`` should come with its prompt (``access_generation_for_user``);
    ``functions`` is the reward registry in page order (``services.rewards.reward_functions()``,
    which the view passes: selectors import no service).
    """
    current_version = {f.name: f.version for f in functions}
    rows = list(
        RewardValue.objects.filter(generation=generation).order_by("function", "-function_version")
    )
    current: dict[str, RewardValue] = {}
    history: list[RewardValue] = []
    for row in rows:
        if current_version.get(row.function) == row.function_version:
            current[row.function] = row
        else:
            history.append(row)
    reviewed = Review.objects.filter(generation=generation, status=Review.Status.SUBMITTED).count()

    applied: list[dict[str, Any]] = []
    missing: list[dict[str, Any]] = []
    for info in functions:
        found = current.get(info.name)
        if found is None:
            missing.append(
                {
                    "name": info.name,
                    "version": info.version,
                    "definition": info.definition,
                    "reason": _not_applicable_reason(info.name, generation, reviewed, history),
                }
            )
            continue
        applied.append(
            {
                "name": info.name,
                "version": info.version,
                "definition": info.definition,
                "source": info.source,
                "value": found.value,
                "computed_at": found.computed_at,
                "why": _why(info.name, found.details),
                "provenance": _provenance(found.provenance),
            }
        )
    return {
        "rewards": applied,
        "not_applicable": missing,
        "history": [
            {
                "name": row.function,
                "version": row.function_version,
                "value": row.value,
                "computed_at": row.computed_at,
            }
            for row in history
        ],
        "composites": _composites(
            generation, {name: row.value for name, row in current.items()}, functions
        ),
        "submitted_reviews": reviewed,
    }


def _not_applicable_reason(
    name: str, generation: Generation, reviewed: int, history: list[RewardValue]
) -> str:
    """Why a function has no current value for this output, from what the page already read.

    Ground truth is per song (any reviewer of any of its outputs verifies it) and rankings cover
    the sibling group, so only the flag and step rewards need reviews of this very output.
    """
    if generation.status != Generation.Status.SUCCEEDED:
        return f"The generation has no output ({generation.get_status_display().lower()})."
    question = bool(generation.prompt.answer_field)
    if name == "accuracy" and not question:
        return "Not a question prompt: captions are scored by structured thinking instead."
    if name == "structured_thinking" and question:
        return "A question prompt: it is scored by accuracy instead."
    if name == "accuracy":
        return (
            "No verified gold answer: the experts reviewing this song's outputs agreed on no "
            f"value for “{generation.prompt.answer_field}”."
        )
    if name == "structured_thinking":
        return (
            "No verified metadata: the experts reviewing this song's outputs verified (or agreed "
            "on) none of the categories."
        )
    if name in ("hallucination_penalty", "step_validity") and not reviewed:
        return "No submitted review of this output yet."
    if name == "step_validity" and not generation.think_text:
        return "No reasoning steps to grade: the output has no <think> trace."
    if name == "step_validity":
        return "No reviewer graded a verifiable step."
    if name == "preference":
        return "No sibling ranking: a single output, or no reviewer of its group ranked it."
    if any(row.function == name for row in history):
        return "Not computed at this version yet (an older version's value is in the history)."
    return "Not computed yet: a recompute is pending."


def _composites(
    generation: Generation, values: dict[str, float], functions: Sequence[RewardFunction]
) -> list[dict[str, Any]]:
    profiles = list(RewardProfile.objects.filter(is_active=True).order_by("name", "-version"))
    stored = {
        c.profile_id: c
        for c in CompositeReward.objects.filter(
            generation=generation, profile__in=[p.pk for p in profiles]
        )
    }
    result = []
    for profile in profiles:
        components: list[dict[str, Any]] = []
        total = 0.0
        for function, raw_weight in _in_registry_order(profile.weights, functions):
            weight = _number(raw_weight)
            if weight is None:
                continue
            value = values.get(function)
            if value is not None:
                total += weight * value
            components.append(
                {
                    "function": function,
                    "weight": weight,
                    "weight_text": _weight_text(weight),
                    "value": value,
                    "contribution": None if value is None else weight * value,
                }
            )
        composite = stored.get(profile.pk)
        result.append(
            {
                "profile": profile,
                "components": components,
                "sum": total,
                "value": composite.value if composite else None,
                "computed_at": composite.computed_at if composite else None,
                "stale": composite is not None
                and not math.isclose(composite.value, total, rel_tol=1e-9, abs_tol=1e-9),
            }
        )
    return result


def _why(name: str, details: Any) -> dict[str, Any]:
    """The details JSON shaped for the template: known parts by name, everything else as facts."""
    details = details if isinstance(details, dict) else {}
    why: dict[str, Any] = {"facts": [], "categories": [], "flags": [], "steps": [], "lists": []}
    consumed: set[str] = set()

    def fact(key: str, label: str) -> None:
        if key in details:
            why["facts"].append((label, _text(details[key])))
            consumed.add(key)

    def listed(key: str, label: str) -> None:
        items = details.get(key)
        if isinstance(items, list):
            why["lists"].append((label, [_text(i) for i in items]))
            consumed.add(key)

    if name == "structured_thinking":
        categories = details.get("categories")
        if isinstance(categories, list):
            consumed.add("categories")
            why["categories"] = [
                {
                    "name": _text(c.get("name")),
                    "gold": _text(c.get("gold")),
                    "claimed": _text(c.get("claimed")),
                    "credit": _number(c.get("credit")),
                    "why": _text(c.get("why")),
                }
                for c in categories
                if isinstance(c, dict)
            ]
        listed("matched", "Matched")
        listed("unmatched", "Unmatched")
    elif name == "hallucination_penalty":
        fact("words", "Words in the output")
        flags = details.get("flags")
        if isinstance(flags, list):
            consumed.add("flags")
            why["flags"] = [
                {
                    "id": f.get("id"),
                    "review": _int(f.get("review")),
                    "severity": _text(f.get("severity")),
                    "category": _text(f.get("category")),
                    "quoted_text": _text(f.get("quoted_text")),
                    "cost": _number(f.get("cost")),
                }
                for f in flags
                if isinstance(f, dict)
            ]
        per_review = details.get("per_review")
        if isinstance(per_review, list):
            consumed.add("per_review")
            why["per_review"] = [
                {"review": _int(r.get("review")), "density": _number(r.get("density"))}
                for r in per_review
                if isinstance(r, dict)
            ]
    elif name == "step_validity":
        steps = details.get("steps")
        if isinstance(steps, dict):
            consumed.add("steps")
            why["steps"] = [
                {
                    "step": step,
                    "correct": _int(grades.get("correct")) or 0,
                    "incorrect": _int(grades.get("incorrect")) or 0,
                    "unverifiable": _int(grades.get("unverifiable")) or 0,
                }
                for step, grades in sorted(steps.items(), key=lambda kv: _step_key(kv[0]))
                if isinstance(grades, dict)
            ]
        per_review = details.get("per_review")
        if isinstance(per_review, list):
            consumed.add("per_review")
            why["step_reviews"] = [
                {
                    "review": _int(r.get("review")),
                    "correct": _int(r.get("correct")) or 0,
                    "incorrect": _int(r.get("incorrect")) or 0,
                    "unverifiable": _int(r.get("unverifiable")) or 0,
                    "share": _number(r.get("share")),
                }
                for r in per_review
                if isinstance(r, dict)
            ]
    elif name == "preference":
        fact("strength", "Strength")
        fact("wins", "Wins")
        fact("losses", "Losses")
        fact("ties", "Ties")
        fact("rankings", "Rankings that compared it")
        fact("all_wrong", "Rankings saying all siblings are wrong")
    elif name == "accuracy":
        fact("predicted", "Predicted")
        fact("gold", "Gold answer")
        fact("matched_by", "Matched by")
    elif name == "format":
        fact("well_formed", "Well formed")
        listed("problems", "Problems")
    why["extra"] = [(key, _text(value)) for key, value in details.items() if key not in consumed]
    return why


def _provenance(provenance: Any) -> dict[str, Any]:
    provenance = provenance if isinstance(provenance, dict) else {}
    reviews = []
    for item in provenance.get("reviews") or []:
        if isinstance(item, list | tuple) and item:
            review_id = _int(item[0])
            if review_id is not None:
                reviews.append(
                    {"id": review_id, "version": _int(item[1]) if len(item) > 1 else None}
                )
    metadata = []
    raw = provenance.get("metadata")
    for field, entry in sorted(raw.items()) if isinstance(raw, dict) else []:
        entry = entry if isinstance(entry, dict) else {"value": entry}
        status = str(entry.get("status") or "")
        metadata.append(
            {
                "field": str(field),
                "label": _metadata_label(str(field)),
                "value": _text(entry.get("value")),
                "status": status,
                "status_label": AGREEMENT_LABELS.get(status, status or "—"),
                "agreed": status != "no_agreement",
                "supporters": _ids(entry.get("supporters")),
                "dissenters": _ids(entry.get("dissenters")),
            }
        )
    return {"reviews": reviews, "metadata": metadata}


def _metadata_label(field: str) -> str:
    from annotations.reviews.rules import METADATA_BY_NAME

    known = METADATA_BY_NAME.get(field)
    return known.label if known else field.replace("_", " ").capitalize()


# --- distributions -------------------------------------------------------------------------------


def reward_distributions(
    *,
    functions: Sequence[RewardFunction],
    model_version_ids: list[int] | None = None,
    bins: int = 20,
) -> dict[str, Any]:
    """Histograms and count/mean/min/max per reward function (current version) and per active
    profile's composite, per model version, aggregated by PostgreSQL.

    Functions use fixed bins over their range; composites bins over their own min..max (across the
    versions shown, so the versions share one axis). Five queries whatever the number of rows:
    version names and active profiles (small tables), one GROUP BY (version, function, bin) over
    the rewards' distribution index, the composites' range per profile, and one GROUP BY
    (version, profile, bin) over theirs. A bin's count, sum, min and max come from the database;
    a series' totals add up its at most ``bins`` rows in Python. About 0.7 s for 1.2 million
    reward rows on this machine's PostgreSQL (sequential scan and hash aggregate).
    """
    bins = max(1, min(int(bins), MAX_BINS))
    versions = _version_names(model_version_ids)

    current = Q(pk__in=[])
    for info in functions:
        current |= Q(function=info.name, function_version=info.version)
    values = RewardValue.objects.filter(current)
    if model_version_ids is not None:
        values = values.filter(model_version_id__in=model_version_ids)
    low = Case(
        *[When(function=n, then=Value(lo)) for n, (lo, _) in FUNCTION_RANGES.items()],
        default=Value(DEFAULT_RANGE[0]),
        output_field=FloatField(),
    )
    width = Case(
        *[When(function=n, then=Value(hi - lo)) for n, (lo, hi) in FUNCTION_RANGES.items()],
        default=Value(DEFAULT_RANGE[1] - DEFAULT_RANGE[0]),
        output_field=FloatField(),
    )
    by_function = _binned(values, "function", low, width, bins)

    charts = []
    for info in functions:
        lo, hi = function_range(info.name)
        charts.append(
            _chart(
                key=info.name,
                title=info.name.replace("_", " "),
                definition=info.definition,
                lo=lo,
                hi=hi,
                bins=bins,
                groups=by_function.get(info.name, {}),
                versions=versions,
            )
        )

    profiles = list(RewardProfile.objects.filter(is_active=True).order_by("name", "-version"))
    composites = CompositeReward.objects.filter(profile__in=[p.pk for p in profiles])
    if model_version_ids is not None:
        composites = composites.filter(model_version_id__in=model_version_ids)
    ranges = {
        row["profile_id"]: (row["lo"], row["hi"])
        for row in composites.order_by()
        .values("profile_id")
        .annotate(lo=Min("value"), hi=Max("value"))
    }
    by_profile: dict[Any, dict[int, list[dict[str, Any]]]] = {}
    if ranges:
        c_low = Case(
            *[When(profile_id=p, then=Value(lo)) for p, (lo, _) in ranges.items()],
            output_field=FloatField(),
        )
        c_width = Case(
            *[When(profile_id=p, then=Value((hi - lo) or 1.0)) for p, (lo, hi) in ranges.items()],
            output_field=FloatField(),
        )
        by_profile = _binned(
            composites.filter(profile_id__in=list(ranges)), "profile_id", c_low, c_width, bins
        )
    composite_charts = []
    for profile in profiles:
        lo, hi = ranges.get(profile.pk, (0.0, 1.0))
        composite_charts.append(
            _chart(
                key=f"profile-{profile.pk}",
                title=f"{profile.name} v{profile.version} (composite)",
                definition=profile.description,
                lo=lo,
                hi=hi if hi > lo else lo + 1.0,
                bins=bins,
                groups=by_profile.get(profile.pk, {}),
                versions=versions,
            )
        )

    shown = sorted(
        {s["model_version_id"] for chart in charts + composite_charts for s in chart["series"]},
        key=lambda pk: versions.get(pk, ""),
    )
    return {
        "bins": bins,
        "functions": charts,
        "composites": composite_charts,
        "model_versions": [{"id": pk, "name": versions.get(pk, f"#{pk}")} for pk in shown],
    }


def chart_payload(distributions: dict[str, Any]) -> list[dict[str, Any]]:
    """What the page's script draws: per chart its bin labels and one dataset per model version."""
    return [
        {
            "id": chart["key"],
            "title": chart["title"],
            "labels": chart["labels"],
            "datasets": [
                {"label": series["model_version"], "data": series["counts"]}
                for series in chart["series"]
            ],
        }
        for chart in distributions["functions"] + distributions["composites"]
    ]


def _binned(
    queryset: Any, key: str, low: Any, width: Any, bins: int
) -> dict[Any, dict[int, list[dict[str, Any]]]]:
    """{key: {model version id: [per-bin rows]}}: one GROUP BY (version, key, bin) query.

    The bin is floor((value - low) / width * bins) clamped to [0, bins - 1], so the top of the
    range falls in the last bin rather than one past it.
    """
    bin_expr = Least(
        Greatest(
            Cast(Floor((F("value") - low) / width * Value(float(bins))), IntegerField()),
            Value(0),
        ),
        Value(bins - 1),
    )
    rows = (
        queryset.order_by()
        .annotate(bin=bin_expr)
        .values("model_version_id", key, "bin")
        .annotate(n=Count("*"), total=Sum("value"), lo=Min("value"), hi=Max("value"))
    )
    grouped: dict[Any, dict[int, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        grouped[row[key]][row["model_version_id"]].append(row)
    return grouped


def _chart(
    *,
    key: str,
    title: str,
    definition: str,
    lo: float,
    hi: float,
    bins: int,
    groups: dict[int, list[dict[str, Any]]],
    versions: dict[int, str],
) -> dict[str, Any]:
    step = (hi - lo) / bins
    edges = [lo + step * i for i in range(bins + 1)]
    series = []
    for version_id in sorted(groups, key=lambda pk: versions.get(pk, "")):
        rows = groups[version_id]
        counts = [0] * bins
        for row in rows:
            counts[row["bin"]] += row["n"]
        count = sum(counts)
        series.append(
            {
                "model_version_id": version_id,
                "model_version": versions.get(version_id, f"#{version_id}"),
                "counts": counts,
                "count": count,
                "mean": sum(row["total"] for row in rows) / count if count else None,
                "min": min(row["lo"] for row in rows),
                "max": max(row["hi"] for row in rows),
            }
        )
    return {
        "key": key,
        "title": title,
        "definition": definition,
        "lo": lo,
        "hi": hi,
        "edges": edges,
        "labels": [f"{edges[i]:.2f}–{edges[i + 1]:.2f}" for i in range(bins)],
        "series": series,
    }


def _version_names(model_version_ids: list[int] | None) -> dict[int, str]:
    versions = ModelVersion.objects.all()
    if model_version_ids is not None:
        versions = versions.filter(pk__in=model_version_ids)
    return dict(versions.values_list("pk", "name"))


def model_versions_with_rewards() -> list[ModelVersion]:
    """The versions the filter offers: those any reward row points at (one index-only query)."""
    has_rewards = RewardValue.objects.filter(model_version_id=OuterRef("pk"))
    return list(ModelVersion.objects.filter(Exists(has_rewards)).order_by("name"))


# --- profiles ------------------------------------------------------------------------------------


def reward_profile_families(*, functions: Sequence[RewardFunction]) -> list[dict[str, Any]]:
    """Profiles by name, newest version first, each version marked frozen when a run used it."""
    # The training room's runs, reached through the relation it declares (rewards sits below
    # training and imports none of it).
    runs = RewardProfile._meta.get_field("training_runs").related_model
    used = runs._default_manager.filter(reward_profile_id=OuterRef("pk"))
    profiles = (
        RewardProfile.objects.annotate(frozen=Exists(used))
        .select_related("created_by")
        .order_by("name", "-version")
    )
    names = {f.name: f for f in functions}
    families: dict[str, list[RewardProfile]] = defaultdict(list)
    for profile in profiles:
        profile.weight_rows = [  # type: ignore[attr-defined]
            {
                "function": function,
                "weight": _number(weight),
                "text": _weight_text(weight),
                "known": function in names,
            }
            for function, weight in _in_registry_order(profile.weights, functions)
        ]
        families[profile.name].append(profile)
    return [
        {"name": name, "latest": versions[0], "older": versions[1:]}
        for name, versions in families.items()
    ]


# --- small readers -------------------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, str | int):
        return str(value)
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        return ", ".join(_text(v) for v in value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)[:500]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _ids(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return [i for i in (_int(v) for v in value) if i is not None]


def _weight_text(weight: Any) -> str:
    number = _number(weight)
    return "—" if number is None else f"{number:g}"


def _in_registry_order(weights: Any, functions: Sequence[RewardFunction]) -> list[tuple[str, Any]]:
    """A profile's weights in the order the pages list functions (jsonb keeps no key order)."""
    order = {f.name: i for i, f in enumerate(functions)}
    items = weights.items() if isinstance(weights, dict) else []
    return sorted(items, key=lambda kv: (order.get(kv[0], len(order)), kv[0]))


def _step_key(step: Any) -> tuple[int, str]:
    number = _int(step)
    return (number if number is not None else 10**9, str(step))


def next_profile_version(profile: RewardProfile) -> int:
    """The version an edit of a frozen profile would create."""
    latest = RewardProfile.objects.filter(name=profile.name).aggregate(v=Max("version"))["v"]
    return (latest or profile.version) + 1
