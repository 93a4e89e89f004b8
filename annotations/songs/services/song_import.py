"""Getting songs in: one audio file plus its metadata becomes a song, a duplicate, or a refusal.

Used by the browser upload and by ``manage.py import_songs``; both report the same outcomes with
the same messages. Validation decodes the content (never trusts the file name), and a song is
saved whole or not at all: the row, its metadata, its stored file and its queued analysis.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.utils.text import slugify

from annotations.core.errors import ValidationFailed
from annotations.core.formatting import format_bytes, format_duration
from annotations.songs.audio import (
    SUPPORTED_FORMATS_TEXT,
    AudioProbe,
    NotAudioError,
    probe_audio,
    sha256_of_path,
)
from annotations.songs.models import AudioFile, Culture, Genre, Language, Song
from annotations.songs.services.analysis import song_analysis_request
from annotations.songs.services.audio_files import audio_file_add

log = logging.getLogger(__name__)

Outcome = Literal["added", "duplicate", "rejected"]


@dataclass
class SongMetadata:
    """What a person says about a song. Vocabulary entries are names or slugs."""

    title: str = ""
    artist: str = ""
    album: str = ""
    year: int | None = None
    genres: list[str] = field(default_factory=list)
    cultures: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    licence: str = ""
    source: str = ""
    tags: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ImportResult:
    filename: str
    outcome: Outcome
    message: str
    song_id: int | None = None
    duplicate_of: int | None = None
    exceeds_model_window: bool = False


def audio_validate(*, path: Path, filename: str) -> AudioProbe:
    """Check size, decodability (by content) and duration; raise ValidationFailed saying what to fix."""
    size = path.stat().st_size
    if size == 0:
        raise ValidationFailed(f"{filename} is empty (0 bytes): nothing to import.")
    limit = settings.WORKBENCH_MAX_UPLOAD_BYTES
    if size > limit:
        raise ValidationFailed(
            f"{filename} is {format_bytes(size)}; the limit is {format_bytes(limit)} "
            "(WORKBENCH_MAX_UPLOAD_BYTES). Compress it (FLAC or Opus) or raise the limit."
        )
    try:
        probe = probe_audio(path, decode_check=True)
    except NotAudioError as exc:
        raise ValidationFailed(
            f"{filename} was refused: {exc}. The workbench takes {SUPPORTED_FORMATS_TEXT}, "
            "recognised by content, whatever the file is called."
        ) from exc
    max_seconds = settings.WORKBENCH_MAX_SONG_SECONDS
    if probe.duration_seconds > max_seconds:
        raise ValidationFailed(
            f"{filename} lasts {format_duration(probe.duration_seconds)}; the limit is "
            f"{format_duration(max_seconds)} (WORKBENCH_MAX_SONG_SECONDS). Split the recording."
        )
    return probe


def song_import_file(
    *,
    path: Path,
    filename: str = "",
    metadata: SongMetadata,
    actor: Any = None,
) -> ImportResult:
    """Validate ``path`` and add it as a new song with ``metadata``; analysis is queued on commit.

    Never raises for bad input: the result says ``rejected`` (with why) or ``duplicate`` (with the
    song already holding these bytes). If anything fails after the file is stored, the file is
    removed again, so no half song stays behind.
    """
    filename = filename or path.name
    try:
        probe = audio_validate(path=path, filename=filename)
        # A duplicate is refused by audio_file_add (the one place that knows what a duplicate is),
        # inside the transaction, so the song row made for it rolls back.
        song = _create_song_with_file(
            path=path,
            filename=filename,
            metadata=metadata,
            actor=actor,
            digest=sha256_of_path(path),
            probe=probe,
        )
    except ValidationFailed as exc:
        duplicate_of = exc.extra.get("duplicate_of")
        if duplicate_of is not None:
            return ImportResult(filename, "duplicate", exc.message, duplicate_of=duplicate_of)
        return ImportResult(filename, "rejected", exc.message)
    window = settings.WORKBENCH_MODEL_WINDOW_SECONDS
    over_window = probe.duration_seconds > window
    message = f"Added as song #{song.pk}: {probe.format.upper()}, " + format_duration(
        probe.duration_seconds
    )
    if over_window:
        message += (
            f". Longer than the model's {format_duration(window)} window: Music Flamingo will hear "
            f"only 0:00–{format_duration(window)}."
        )
    return ImportResult(
        filename, "added", message, song_id=song.pk, exceeds_model_window=over_window
    )


def _create_song_with_file(
    *,
    path: Path,
    filename: str,
    metadata: SongMetadata,
    actor: Any,
    digest: str,
    probe: AudioProbe,
) -> Song:
    stored_name = ""
    try:
        with transaction.atomic():
            song = Song(
                title=(metadata.title or Path(filename).stem.replace("_", " ")).strip()[:300],
                artist=metadata.artist.strip()[:300],
                album=metadata.album.strip()[:300],
                year=metadata.year,
                licence=metadata.licence.strip()[:200],
                source=metadata.source.strip()[:500],
                tags=_clean_tags(metadata.tags),
                added_by=actor if actor is not None and actor.is_authenticated else None,
            )
            song.full_clean()
            song.save()
            song.genres.set(vocabulary_terms(Genre, metadata.genres))
            song.cultures.set(vocabulary_terms(Culture, metadata.cultures))
            song.languages.set(languages_for(metadata.languages))
            audio_file = audio_file_add(
                song=song, source=path, original_filename=filename, digest=digest, probe=probe
            )
            stored_name = audio_file.file.name or ""
            _fault_point("after_file_stored")
            song_analysis_request(song=song, audio_file=audio_file)
    except Exception:
        # The transaction rolled back, so no row names the file we stored: remove it.
        if stored_name and not AudioFile.objects.filter(file=stored_name).exists():
            AudioFile.file.field.storage.delete(stored_name)
        raise
    return song


def _fault_point(name: str) -> None:
    """Where tests inject a failure or a crash mid-import (see tests/annotations/test_song_import)."""


def _clean_tags(tags: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for tag in tags:
        text = str(tag).strip()[:60]
        if text:
            seen.setdefault(text, None)
    return list(seen)[:50]


def vocabulary_terms(model: type[Genre] | type[Culture], names: list[str]) -> list[Any]:
    """Existing terms matched by slug or name; unknown names become new terms (open vocabularies).

    New cultures get an unassigned region, which an admin fills in later.
    """
    terms = []
    for raw in names:
        name = str(raw).strip()[:120]
        slug = slugify(name)[:80]
        if not slug:
            continue
        term = (
            model.objects.filter(slug=slug).first()
            or model.objects.filter(name__iexact=name).first()
        )
        if term is None:
            extra = {"region": "Unassigned"} if model is Culture else {}
            term, _ = model.objects.get_or_create(slug=slug, defaults={"name": name, **extra})
        terms.append(term)
    return terms


def languages_for(codes_or_names: list[str]) -> list[Language]:
    """Languages by ISO 639 code or English name; an unknown one is refused, not invented."""
    found = []
    for raw in codes_or_names:
        text = str(raw).strip()
        if not text:
            continue
        language = (
            Language.objects.filter(slug=text.lower()).first()
            or Language.objects.filter(name__iexact=text).first()
        )
        if language is None:
            raise ValidationFailed(
                f"Unknown language {text!r}: use an ISO 639 code the workbench knows "
                f"(for example {', '.join(Language.objects.values_list('slug', flat=True)[:6])})."
            )
        found.append(language)
    return found
