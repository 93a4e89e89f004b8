"""Tasks on the ``audio`` queue (CPU work on files)."""

from __future__ import annotations

from celery import Task, shared_task

from annotations.core.task_claims import claimed_message
from annotations.songs.models import AudioFile, SongAnalysis
from annotations.songs.services.audio_files import audio_file_probe
from workers import delivery


@shared_task(bind=True, name="workers.audio.probe_audio_file")
def probe_audio_file(self: Task, audio_file_id: int) -> dict:
    """Decode and hash-check one stored audio file. Runs once per message: a redelivery of a
    finished probe does nothing (re-probing would rewrite the same facts anyway)."""
    task_id, redelivered = delivery(self)
    with claimed_message(task_id=task_id, task_name=self.name, redelivered=redelivered) as claimed:
        if not claimed:
            return {"audio_file": audio_file_id, "status": "skipped"}
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
    """Run the music analyser for one SongAnalysis row; progress goes to the row and task state.

    The service claims the row (queued → running): an analysis that another delivery or an inline
    run claimed or finished is left alone, and its row comes back unchanged.
    """
    from annotations.songs.services.analysis import song_analysis_run

    analysis = SongAnalysis.objects.select_related("audio_file").filter(pk=analysis_id).first()
    if analysis is None:
        return {"analysis": analysis_id, "status": "gone"}

    def on_progress(fraction: float, stage: str) -> None:
        if self.request.id:  # unset when called directly (tests, analyze_songs --now)
            self.update_state(state="PROGRESS", meta={"progress": fraction, "stage": stage})

    task_id, redelivered = delivery(self)
    analysis = song_analysis_run(
        analysis=analysis, task_id=task_id, redelivered=redelivered, on_progress=on_progress
    )
    return {"analysis": analysis.pk, "status": analysis.status, "error": analysis.error}
