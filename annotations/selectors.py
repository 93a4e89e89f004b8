"""Non-trivial reads. Each returns what one page needs in a fixed number of queries."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import (
    CharField,
    Count,
    F,
    Func,
    Prefetch,
    Q,
    QuerySet,
    Value,
    prefetch_related_objects,
)
from django.db.models.lookups import GreaterThan, LessThan

from annotations.models import (
    AudioFile,
    DatasetSnapshot,
    ErrorCategory,
    Generation,
    ModelEvaluation,
    ModelVersion,
    Review,
    Song,
    SongAnalysis,
    TrainingRun,
)
from annotations.roles import ADMIN, AUDITOR, EXPERT, roles_of

SONGS_PER_PAGE = 50

# Sort key → (ordering fields, descending). Keyset pagination walks exactly these orderings, each
# backed by a (field, id) index, so page 2,000 costs what page 1 costs.
SONG_SORTS: dict[str, tuple[str, bool]] = {
    "title": ("title", False),
    "artist": ("artist", False),
    "newest": ("created_at", True),
}
SONG_SORT_LABELS = {"title": "Title A–Z", "artist": "Artist A–Z", "newest": "Newest first"}


@dataclass(frozen=True)
class SongPage:
    songs: list[Song]
    total: int
    next_cursor: str
    is_first: bool
    sort: str


def encode_cursor(value: Any, pk: int) -> str:
    raw = json.dumps([value.isoformat() if hasattr(value, "isoformat") else value, pk])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, int] | None:
    """The (sort value, id) a page starts after, or None for a cursor that is not ours."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, pk = json.loads(raw)
        if not isinstance(pk, int):
            return None
        if sort == "newest":
            value = datetime.fromisoformat(value)
        elif not isinstance(value, str):
            return None
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        return None
    return value, pk


def song_list(
    *,
    search: str = "",
    genre: str = "",
    culture: str = "",
    status: str = "",
    sort: str = "title",
    after: str = "",
    per_page: int = SONGS_PER_PAGE,
) -> SongPage:
    """Songs filtered by free text (title/artist), genre slug, culture slug and status, one page
    after the keyset cursor ``after``; a cursor that does not decode starts at the first page."""
    sort = sort if sort in SONG_SORTS else "title"
    field, descending = SONG_SORTS[sort]
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
    total = songs.count()
    position = decode_cursor(after, sort) if after else None
    if position is not None:
        value, pk = position
        # A row comparison, (title, id) > (value, pk), walks the (title, id) index directly; the
        # equivalent OR of two conditions makes PostgreSQL scan.
        here = Func(F(field), F("id"), template="(%(expressions)s)", output_field=CharField())
        cursor = Func(
            Value(value), Value(pk), template="(%(expressions)s)", output_field=CharField()
        )
        songs = songs.filter(LessThan(here, cursor) if descending else GreaterThan(here, cursor))
    order = [f"-{field}", "-id"] if descending else [field, "id"]
    rows = list(
        songs.order_by(*order).prefetch_related(
            "genres",
            "cultures",
            Prefetch("audio_files", queryset=AudioFile.objects.order_by("id")),
        )[: per_page + 1]
    )
    next_cursor = ""
    if len(rows) > per_page:
        rows = rows[:per_page]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, field), last.pk)
    return SongPage(
        songs=rows, total=total, next_cursor=next_cursor, is_first=position is None, sort=sort
    )


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
        summary["work"] = work_in_progress()
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


def work_in_progress() -> list[str]:
    """What the workers have queued or running, as "2 generations"-style phrases (none: empty).

    The home page shows it, so the demo's start-up backlog (the 21-minute suite's analysis, its
    long-song generation, the GRPO run) is visible rather than silently missing from pages.
    """
    waiting = ("queued", "running")
    counts = (
        (SongAnalysis.objects.filter(status__in=waiting), "song analysis", "song analyses"),
        (Generation.objects.filter(status__in=waiting), "generation", "generations"),
        (
            DatasetSnapshot.objects.filter(status=DatasetSnapshot.Status.BUILDING),
            "dataset build",
            "dataset builds",
        ),
        (TrainingRun.objects.filter(status__in=waiting), "training run", "training runs"),
        (ModelEvaluation.objects.filter(status__in=waiting), "evaluation", "evaluations"),
    )
    phrases = []
    for rows, one, many in counts:
        count = rows.count()
        if count:
            phrases.append(f"{count} {one if count == 1 else many}")
    return phrases


def song_page(*, song: Song, user: Any) -> dict[str, Any]:
    """Everything the song page shows: metadata, audio facts, the newest analysis, generations."""
    from django.conf import settings

    from annotations.models import SongAnalysis

    prefetch_related_objects([song], "genres", "cultures", "languages")
    audio_files = list(song.audio_files.order_by("id"))
    analysis = (
        SongAnalysis.objects.filter(song=song).select_related("audio_file").order_by("-id").first()
    )
    facts = analysis.facts if analysis and analysis.status == SongAnalysis.Status.SUCCEEDED else {}
    return {
        "song": song,
        "audio_files": audio_files,
        "audio": audio_files[0] if audio_files else None,
        "analysis": analysis,
        "facts": facts,
        "analysis_running": bool(
            analysis
            and analysis.status in (SongAnalysis.Status.QUEUED, SongAnalysis.Status.RUNNING)
        ),
        "can_manage": user.has_perm("annotations.manage_songs"),
        "model_window_seconds": settings.WORKBENCH_MODEL_WINDOW_SECONDS,
        "generations": _song_generations(song, user),
    }


def _song_generations(song: Song, user: Any) -> list[Generation]:
    from annotations.generation_selectors import generation_list_for_song

    return list(generation_list_for_song(song=song, user=user)[:50])
