"""Tasks on the ``audio`` queue (CPU work on files)."""

from __future__ import annotations

from celery import shared_task

from annotations.models import AudioFile
from annotations.services.audio_files import audio_file_probe


@shared_task(name="workers.audio.probe_audio_file")
def probe_audio_file(audio_file_id: int) -> dict:
    """Decode and hash-check one stored audio file. Idempotent: re-probing rewrites the same facts."""
    audio_file = AudioFile.objects.select_related("song").filter(pk=audio_file_id).first()
    if audio_file is None:
        return {"audio_file": audio_file_id, "status": "gone"}
    audio_file = audio_file_probe(audio_file=audio_file)
    return {
        "audio_file": audio_file.pk,
        "status": "error" if audio_file.probe_error else "ok",
        "duration_seconds": audio_file.duration_seconds,
    }
