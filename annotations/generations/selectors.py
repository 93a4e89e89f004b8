"""Reads for the generation pages (and the song page's list of a song's generations)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, Q, QuerySet

from annotations.core.formatting import format_duration
from annotations.generations.models import (
    Generation,
    GenerationGroup,
    GenerationHint,
    ModelVersion,
    PromptTemplate,
)
from annotations.songs.models import Song

GROUPS_PER_PAGE = 25
ACTIVE = (Generation.Status.QUEUED, Generation.Status.RUNNING)


def generation_list_for_song(*, song: Song, user: Any) -> QuerySet[Generation]:
    """A song's generations, newest first, for the song page; empty for users who may not see them."""
    if not user.has_perm("annotations.view_generation"):
        return Generation.objects.none()
    return (
        Generation.objects.filter(song=song)
        .select_related("model_version", "prompt")
        .order_by("-created_at", "group_id", "sibling_index")
    )


def generation_group_page(*, song_id: int | None = None, page: int = 1) -> Page:
    """Groups of siblings, newest first, each with its siblings and a count per status."""
    groups = GenerationGroup.objects.select_related("song", "model_version", "prompt").annotate(
        active=Count("generations", filter=Q(generations__status__in=ACTIVE)),
        succeeded=Count("generations", filter=Q(generations__status="succeeded")),
        failed=Count("generations", filter=Q(generations__status="failed")),
    )
    if song_id is not None:
        groups = groups.filter(song_id=song_id)
    groups = groups.prefetch_related(
        Prefetch(
            "generations",
            queryset=Generation.objects.only(
                "id", "group_id", "sibling_index", "status", "error", "output_tokens"
            ).order_by("sibling_index"),
        )
    )
    return Paginator(groups.order_by("-created_at", "-id"), GROUPS_PER_PAGE).get_page(page)


def generation_form_defaults() -> dict[str, Any]:
    """What the new-run form starts with: a serving version (else the newest usable one) and the
    full-caption prompt (else any active one)."""
    versions = ModelVersion.objects.exclude(status=ModelVersion.Status.RETIRED)
    version = versions.filter(status=ModelVersion.Status.SERVING).first() or versions.first()
    prompts = PromptTemplate.objects.filter(is_active=True)
    prompt = (
        prompts.filter(name="full-caption-think").order_by("-version").first() or prompts.first()
    )
    return {"model_version": version, "prompt": prompt}


def any_generation_active() -> bool:
    return Generation.objects.filter(status__in=ACTIVE).exists()


@dataclass(frozen=True)
class ClaimRow:
    name: str
    value: str


def _claim_value(value: Any) -> str:
    """One claim as people read it: its value, a timed section as "label at m:ss", else its text."""
    if isinstance(value, list):
        return "; ".join(v for v in (_claim_value(item) for item in value) if v)
    if not isinstance(value, dict):
        return "" if value is None else str(value)
    if value.get("label") is not None:
        start = value.get("start_seconds")
        return (
            f"{value['label']} at {format_duration(start)}"
            if start is not None
            else str(value["label"])
        )
    shown = value.get("value", value.get("text"))
    return "" if shown is None or isinstance(shown, dict | list) else str(shown)


def claim_rows(claims: dict[str, Any] | None) -> list[ClaimRow]:
    """The parser's claims as (name, readable value) rows, skipping what was not claimed."""
    rows = []
    for name, value in (claims or {}).items():
        if name.endswith("_mentions") or name == "negated":
            continue
        shown = _claim_value(value)
        if shown:
            rows.append(ClaimRow(name.replace("_", " "), shown))
    return rows


def generation_detail(*, generation: Generation) -> dict[str, Any]:
    """What the generation page shows besides the row: parsed parts, hints and siblings."""
    parsed = generation.parsed or {}
    steps = [
        {**step, "number": step.get("index") or i}
        for i, step in enumerate(parsed.get("steps") or [], 1)
    ]
    siblings = list(
        Generation.objects.filter(group_id=generation.group_id)
        .exclude(group_id=None)
        .only("id", "sibling_index", "status")
        .order_by("sibling_index")
    )
    return {
        "sections": parsed.get("sections") or [],
        "steps": steps,
        "timestamps": parsed.get("timestamps") or [],
        "claims": claim_rows(parsed.get("claims")),
        "think_claims": claim_rows(parsed.get("think_claims")),
        "problems": parsed.get("problems") or [],
        "hints": list(
            GenerationHint.objects.filter(generation=generation).select_related("decided_by")
        ),
        "siblings": siblings,
    }
