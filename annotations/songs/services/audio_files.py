"""Writing audio files: storing them content-addressed, and recording what decoding found."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from django.core.files import File
from django.db import transaction
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.core.notifications import notify_user
from annotations.songs.audio import AudioProbe, NotAudioError, probe_audio, sha256_of_path
from annotations.songs.models import AudioFile, Song
from annotations.songs.models.songs import audio_upload_path

log = logging.getLogger(__name__)


def audio_file_add(
    *,
    song: Song,
    source: Path,
    original_filename: str = "",
    digest: str = "",
    probe: AudioProbe | None = None,
) -> AudioFile:
    """Store ``source`` for ``song``; record ``probe`` if the caller decoded it, else queue a probe.

    The row and the stored file are saved together or not at all: if the row cannot be written,
    the file just stored is removed (a caller whose own transaction rolls back later must remove
    it too: see song_import). Raises ValidationFailed for a duplicate by content.
    """
    digest = digest or sha256_of_path(source)
    duplicate = _duplicate_error(digest)
    if duplicate is not None:
        raise duplicate
    audio_file = AudioFile(
        song=song,
        sha256=digest,
        size_bytes=source.stat().st_size,
        original_filename=(original_filename or source.name)[:300],
    )
    if probe is not None:
        audio_file.format = probe.format
        audio_file.duration_seconds = probe.duration_seconds
        audio_file.sample_rate = probe.sample_rate
        audio_file.channels = probe.channels
        audio_file.probed_at = timezone.now()
    stored_name = ""
    # No row holds this hash, so a file already at its content-addressed name is an orphan of a
    # crashed import: replace it rather than let the storage invent a second name beside it.
    target = audio_upload_path(audio_file, original_filename or source.name)
    if audio_file.file.storage.exists(target):
        audio_file.file.storage.delete(target)
    try:
        with transaction.atomic():
            with source.open("rb") as stream:
                audio_file.file.save(original_filename or source.name, File(stream), save=False)
            stored_name = audio_file.file.name or ""
            audio_file.full_clean()
            audio_file.save()
            if probe is None:
                transaction.on_commit(lambda: _enqueue_probe(audio_file.pk))
    except Exception as exc:
        if stored_name:
            audio_file.file.storage.delete(stored_name)
        # Another import of the same bytes may have committed between our check and our insert.
        duplicate = _duplicate_error(digest)
        if duplicate is not None:
            raise duplicate from exc
        raise
    return audio_file


def _duplicate_error(digest: str) -> ValidationFailed | None:
    existing = AudioFile.objects.filter(sha256=digest).select_related("song").first()
    if existing is None:
        return None
    return ValidationFailed(
        f"This audio is already in the workbench as song #{existing.song_id} "
        f"({existing.song}); same content hash {digest[:12]}…",
        extra={"duplicate_of": existing.song_id},
    )


def _enqueue_probe(audio_file_id: int) -> None:
    from workers.audio import probe_audio_file

    probe_audio_file.delay(audio_file_id)


def audio_file_probe(*, audio_file: AudioFile) -> AudioFile:
    """Decode the stored file's header and check its hash; record the result on the row.

    A file that no longer matches its hash, or does not decode, gets ``probe_error`` set instead of
    raising, so a bad file is visible in the pages rather than retried forever.
    """
    path = Path(audio_file.file.path)
    error = ""
    fields: dict[str, Any] = {}
    if not path.exists():
        error = f"stored file is missing: {audio_file.file.name}"
    elif sha256_of_path(path) != audio_file.sha256:
        error = "stored file no longer matches its content hash (corrupted or replaced)"
    else:
        try:
            probe = probe_audio(path)
        except NotAudioError as exc:
            error = str(exc)
        else:
            fields = {
                "format": probe.format,
                "duration_seconds": probe.duration_seconds,
                "sample_rate": probe.sample_rate,
                "channels": probe.channels,
            }
    AudioFile.objects.filter(pk=audio_file.pk).update(
        probe_error=error, probed_at=timezone.now(), **fields
    )
    audio_file.refresh_from_db()
    if audio_file.song.added_by_id:
        notify_user(
            user_id=audio_file.song.added_by_id,
            event="audio_file.probed",
            data={"audio_file": audio_file.pk, "song": audio_file.song_id, "error": error},
        )
    log.info("probed audio file %s: %s", audio_file.pk, error or "ok")
    return audio_file
