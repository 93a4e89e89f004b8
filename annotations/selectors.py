"""Non-trivial reads. Each returns what one page needs in a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, Prefetch, Q, QuerySet

from annotations.models import (
    AudioFile,
    ErrorCategory,
    Generation,
    ModelVersion,
    Review,
    Song,
)
from annotations.roles import ADMIN, AUDITOR, EXPERT, roles_of

SONGS_PER_PAGE = 50


def song_list(
    *, search: str = "", genre: str = "", culture: str = "", status: str = "", page: int = 1
) -> Page:
    """Songs filtered by free text (title/artist), genre slug, culture slug and status."""
    songs: QuerySet[Song] = Song.objects.all()
    if search:
        songs = songs.filter(Q(title__icontains=search) | Q(artist__icontains=search))
    if genre:
        songs = songs.filter(genres__slug=genre)
    if culture:
        songs = songs.filter(cultures__slug=culture)
    if genre or culture:
        # Only joins through many-to-many tables can repeat a song; DISTINCT costs a sort.
        songs = songs.distinct()
    if status:
        songs = songs.filter(status=status)
    songs = songs.prefetch_related(
        "genres",
        "cultures",
        Prefetch("audio_files", queryset=AudioFile.objects.order_by("id")),
    )
    return Paginator(songs.order_by("title", "id"), SONGS_PER_PAGE).get_page(page)


@dataclass(frozen=True)
class LineageRow:
    version: ModelVersion
    depth: int
    generation_count: int


def model_version_lineage() -> list[LineageRow]:
    """Every model version as a tree (roots first, children indented under their parent)."""
    versions = list(
        ModelVersion.objects.select_related("training_run__dataset_snapshot").annotate(
            generation_count=Count("generations")
        )
    )
    children: dict[int | None, list[ModelVersion]] = {}
    for version in versions:
        children.setdefault(version.parent_id, []).append(version)
    rows: list[LineageRow] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for version in sorted(children.get(parent_id, []), key=lambda v: v.created_at):
            rows.append(LineageRow(version, depth, version.generation_count))  # type: ignore[attr-defined]
            walk(version.pk, depth + 1)

    walk(None, 0)
    return rows


def taxonomy_by_kind() -> dict[str, list[ErrorCategory]]:
    grouped: dict[str, list[ErrorCategory]] = {}
    for category in ErrorCategory.objects.filter(is_active=True):
        grouped.setdefault(category.get_kind_display(), []).append(category)
    return grouped


def home_summary(user: Any) -> dict[str, Any]:
    """The figures the home page shows, chosen by the user's roles."""
    roles = roles_of(user)
    summary: dict[str, Any] = {"roles": sorted(roles)}
    if roles & {ADMIN, AUDITOR, EXPERT}:
        summary["song_count"] = Song.objects.count()
    if EXPERT in roles:
        mine = Review.objects.filter(expert=user)
        summary["my_drafts"] = mine.filter(status=Review.Status.DRAFT).count()
        summary["my_submitted"] = mine.filter(status=Review.Status.SUBMITTED).count()
    if roles & {ADMIN, AUDITOR}:
        summary["generation_count"] = Generation.objects.filter(
            status=Generation.Status.SUCCEEDED
        ).count()
        summary["submitted_reviews"] = Review.objects.filter(status=Review.Status.SUBMITTED).count()
        summary["serving_versions"] = list(
            ModelVersion.objects.filter(status=ModelVersion.Status.SERVING)
        )
    return summary
