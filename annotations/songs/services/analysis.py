"""Measuring songs: queue an analysis after the upload commits, run it on the ``audio`` queue.

The analyser itself is plain Python (``audio_analysis``); this module owns the rows, the stored
artifacts, progress and the song's status. A run claims its row (queued → running) before it starts:
a finished analysis is never run again by a second delivery, and a worker killed mid-task gets the
task again (acks_late) and starts the row it had claimed over.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from annotations.core.notifications import notify_user
from annotations.core.task_claims import claim_rows
from annotations.songs.models import AudioFile, Song, SongAnalysis
from annotations.songs.signals import analysis_finished

log = logging.getLogger(__name__)


def current_analyser_version() -> str:
    from audio_analysis import ANALYSER_VERSION

    return str(ANALYSER_VERSION)


def artifact_prefix(analysis: SongAnalysis) -> str:
    """Storage folder of one analysis: by content hash and analyser version, never by file name."""
    sha = analysis.audio_file.sha256
    return f"analysis/{sha[:2]}/{sha}/{analysis.analyser_version}"


def song_analysis_request(
    *, song: Song, audio_file: AudioFile | None = None, force: bool = False
) -> SongAnalysis:
    """Queue the current analyser on ``audio_file`` (default: the song's first file) after commit.

    If this analyser version already has a row for the file, that row is reused: it is queued
    again only when it failed or ``force`` is set, so repeated requests never pile up work.
    """
    if audio_file is None:
        audio_file = song.audio_files.order_by("id").first()
        if audio_file is None:
            from annotations.core.errors import ValidationFailed

            raise ValidationFailed(f"Song #{song.pk} has no audio file to analyse.")
    with transaction.atomic():
        analysis, created = SongAnalysis.objects.select_for_update().get_or_create(
            audio_file=audio_file,
            analyser_version=current_analyser_version(),
            defaults={"song": song},
        )
        rerun = force or analysis.status == SongAnalysis.Status.FAILED
        if not created and not rerun:
            return analysis
        if rerun:
            analysis.status = SongAnalysis.Status.QUEUED
            analysis.progress = 0.0
            analysis.stage = ""
            analysis.error = ""
            analysis.save(update_fields=["status", "progress", "stage", "error", "updated_at"])
        Song.objects.filter(pk=song.pk, status=Song.Status.FAILED).update(
            status=Song.Status.PENDING
        )
        transaction.on_commit(lambda: _enqueue(analysis.pk))
    return analysis


def _enqueue(analysis_id: int) -> None:
    from workers.audio import analyse_song

    result = analyse_song.delay(analysis_id)
    SongAnalysis.objects.filter(pk=analysis_id).update(celery_task_id=result.id or "")


def song_analysis_run(
    *,
    analysis: SongAnalysis,
    task_id: str = "",
    redelivered: bool = False,
    on_progress: Callable[[float, str], None] | None = None,
) -> SongAnalysis:
    """Run the analyser on the stored file, store facts and artifacts, and mark the song.

    Claims the row first (queued → running; see ``annotations.core.task_claims``): a row another
    delivery or an inline run has claimed, or one already finished, is returned as it is, so a
    redelivered message never runs finished work again. Failures are recorded on the row (and
    the song marked failed) rather than raised, so a bad file shows its reason in the page
    instead of being retried forever.
    """
    from audio_analysis import AnalysisError, analyse_file

    audio_file = analysis.audio_file
    claimed = claim_rows(
        SongAnalysis.objects.filter(pk=analysis.pk),
        task_id=task_id,
        redelivered=redelivered,
        progress=0.0,
        stage="decoding",
        error="",
        started_at=timezone.now(),
        finished_at=None,
        updated_at=timezone.now(),
    )
    if not claimed:
        analysis.refresh_from_db()
        return analysis

    def progress(fraction: float, stage: str) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        # update() skips auto_now: set updated_at by hand, it is the heartbeat stuck rows lack.
        SongAnalysis.objects.filter(pk=analysis.pk).update(
            progress=fraction, stage=stage[:64], updated_at=timezone.now()
        )
        if on_progress is not None:
            on_progress(fraction, stage)

    work_dir = Path(tempfile.mkdtemp(prefix="analysis-"))
    try:
        result = analyse_file(Path(audio_file.file.path), work_dir, progress=progress)
        artifacts = _store_artifacts(analysis, work_dir, result.artifacts)
    except AnalysisError as exc:
        return _mark_failed(analysis, str(exc))
    except Exception as exc:  # the analyser's bug must not leave the song "running" forever
        log.exception("analysis %s crashed", analysis.pk)
        return _mark_failed(
            analysis, f"the analyser failed unexpectedly: {type(exc).__name__}: {exc}"
        )
    finally:
        shutil.rmtree(work_dir, ignore_errors=True)
    with transaction.atomic():
        SongAnalysis.objects.filter(pk=analysis.pk).update(
            status=SongAnalysis.Status.SUCCEEDED,
            progress=1.0,
            stage="done",
            facts=result.facts,
            artifacts=artifacts,
            timings=result.timings,
            finished_at=timezone.now(),
        )
        Song.objects.filter(pk=analysis.song_id).update(status=Song.Status.READY)
        # Outputs of the model are checked against what was just measured (the generations room
        # refreshes its hints), in this transaction.
        analysis_finished.send(
            sender=SongAnalysis, analysis=analysis, song=analysis.song, facts=result.facts
        )
    analysis.refresh_from_db()
    _notify(analysis)
    return analysis


def _store_artifacts(
    analysis: SongAnalysis, work_dir: Path, names: dict[str, str]
) -> dict[str, str]:
    prefix = artifact_prefix(analysis)
    stored: dict[str, str] = {}
    # Every file the analyser wrote is kept (peaks levels are referenced from peaks.json).
    for path in sorted(work_dir.iterdir()):
        if not path.is_file():
            continue
        target = f"{prefix}/{path.name}"
        if default_storage.exists(target):
            default_storage.delete(target)
        with path.open("rb") as stream:
            default_storage.save(target, File(stream))
    for name, filename in names.items():
        stored[name] = f"{prefix}/{Path(filename).name}"
    return stored


def _mark_failed(analysis: SongAnalysis, error: str) -> SongAnalysis:
    with transaction.atomic():
        SongAnalysis.objects.filter(pk=analysis.pk).update(
            status=SongAnalysis.Status.FAILED, error=error, finished_at=timezone.now()
        )
        Song.objects.filter(pk=analysis.song_id).update(status=Song.Status.FAILED)
    analysis.refresh_from_db()
    _notify(analysis)
    return analysis


def _notify(analysis: SongAnalysis) -> None:
    added_by = Song.objects.filter(pk=analysis.song_id).values_list("added_by", flat=True).first()
    if added_by:
        notify_user(
            user_id=added_by,
            event="song.analysed",
            data={"song": analysis.song_id, "analysis": analysis.pk, "status": analysis.status},
        )


def song_analysis_requeue_stuck(*, older_than: timedelta) -> list[SongAnalysis]:
    """Queue again the analyses queued or running with no progress for ``older_than``.

    A worker machine that dies outright (not just a pool process, which Celery replaces and
    redelivers at once) leaves its task unacknowledged until the broker's visibility timeout,
    hours on Redis; its row says "running" meanwhile. Run by ``analyze_songs --stuck MINUTES``.
    """
    cutoff = timezone.now() - older_than
    stuck = list(
        SongAnalysis.objects.filter(
            status__in=(SongAnalysis.Status.QUEUED, SongAnalysis.Status.RUNNING),
            updated_at__lt=cutoff,
        ).select_related("song", "audio_file")
    )
    return [
        song_analysis_request(song=row.song, audio_file=row.audio_file, force=True) for row in stuck
    ]
