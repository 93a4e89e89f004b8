"""Non-trivial reads. Each returns what one page needs in a fixed number of queries."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db.models import (
    CharField,
    F,
    Func,
    Prefetch,
    Q,
    QuerySet,
    Value,
    prefetch_related_objects,
)
from django.db.models.lookups import GreaterThan, LessThan

from annotations.songs.models import AudioFile, Song
from annotations.songs.signals import song_page_sections

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


def song_page(*, song: Song, user: Any) -> dict[str, Any]:
    """Everything the song page shows: metadata, audio facts, the newest analysis, generations."""
    from django.conf import settings

    from annotations.songs.models import SongAnalysis

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
    } | _sections_from_higher_rooms(song, user)


def _sections_from_higher_rooms(song: Song, user: Any) -> dict[str, Any]:
    """What rooms above this one add to the song page (the generations room: its generations).

    Songs sit at the bottom of the stack and import no higher room; a higher room that shows
    something on the song page connects a receiver to ``song_page_sections`` that returns the
    context it adds.
    """
    extra: dict[str, Any] = {}
    for _receiver, section in song_page_sections.send(sender=Song, song=song, user=user):
        extra.update(cast(dict[str, Any], section))
    return extra
