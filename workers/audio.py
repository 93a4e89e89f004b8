"""Tasks on the ``audio`` queue (CPU work on files)."""

from __future__ import annotations

from celery import Task, shared_task

from annotations.songs.models import AudioFile, SongAnalysis
from annotations.songs.services.audio_files import audio_file_probe


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


@shared_task(bind=True, name="workers.audio.analyse_song")
def analyse_song(self: Task, analysis_id: int) -> dict:
    """Run the music analyser for one SongAnalysis row; progress goes to the row and task state."""
    from annotations.songs.services.analysis import song_analysis_run

    analysis = SongAnalysis.objects.select_related("audio_file").filter(pk=analysis_id).first()
    if analysis is None:
        return {"analysis": analysis_id, "status": "gone"}

    def on_progress(fraction: float, stage: str) -> None:
        if self.request.id:  # unset when called directly (tests, analyze_songs --now)
            self.update_state(state="PROGRESS", meta={"progress": fraction, "stage": stage})

    analysis = song_analysis_run(analysis=analysis, on_progress=on_progress)
    return {"analysis": analysis.pk, "status": analysis.status, "error": analysis.error}
