"""The analysis service and ``analyze_songs`` on real audio: rows, artifacts, song status, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from annotations.songs.models import AudioFile, Song, SongAnalysis
from annotations.songs.services.analysis import (
    current_analyser_version,
    song_analysis_request,
    song_analysis_run,
)
from annotations.songs.services.song_import import SongMetadata, song_import_file
from tests.audio_files import write_tone

pytestmark = pytest.mark.django_db


def imported(tmp_path: Path, name: str = "a.wav", **kwargs) -> Song:  # type: ignore[no-untyped-def]
    result = song_import_file(path=write_tone(tmp_path / name, **kwargs), metadata=SongMetadata())
    assert result.outcome == "added", result.message
    return Song.objects.get(pk=result.song_id)


def test_a_run_stores_facts_artifacts_and_marks_the_song_ready(tmp_path: Path) -> None:
    song = imported(tmp_path, seconds=8, channels=2)
    analysis = SongAnalysis.objects.get(song=song)
    seen: list[tuple[float, str]] = []
    analysis = song_analysis_run(analysis=analysis, on_progress=lambda f, s: seen.append((f, s)))
    assert analysis.status == "succeeded", analysis.error
    assert analysis.analyser_version == current_analyser_version()
    assert analysis.facts["duration_seconds"] == pytest.approx(8, abs=0.05)
    assert analysis.facts["channels"] == 2
    assert analysis.facts["tempo_bpm"] > 0
    assert [f for f, _ in seen] == sorted(f for f, _ in seen), "progress only moves forward"
    assert seen[-1][0] == 1.0
    root = Path(settings.MEDIA_ROOT)
    for name in ("beats", "loudness", "peaks", "spectrogram"):
        assert (root / analysis.artifacts[name]).is_file(), name
    peaks = json.loads((root / analysis.artifacts["peaks"]).read_text())
    for level in peaks["levels"]:
        assert (root / analysis.artifacts["peaks"]).with_name(level["file"]).is_file()
    song.refresh_from_db()
    assert song.status == "ready"


def test_a_file_that_became_unreadable_fails_with_a_reason(tmp_path: Path) -> None:
    song = imported(tmp_path)
    audio = AudioFile.objects.get(song=song)
    Path(audio.file.path).write_bytes(b"overwritten by a careless script")
    analysis = song_analysis_run(analysis=SongAnalysis.objects.get(song=song))
    assert analysis.status == "failed"
    assert analysis.error
    song.refresh_from_db()
    assert song.status == "failed"


def test_running_a_finished_analysis_again_leaves_the_row_as_it_is(tmp_path: Path) -> None:
    # What a redelivered analyse_song message does: the row it would analyse has succeeded.
    song = imported(tmp_path)
    done = song_analysis_run(analysis=SongAnalysis.objects.get(song=song), task_id="first")
    assert done.status == "succeeded", done.error
    stages: list[str] = []
    again = song_analysis_run(
        analysis=done, task_id="first", redelivered=True, on_progress=lambda f, s: stages.append(s)
    )
    assert stages == [], "the analyser ran again"
    assert (again.status, again.started_at, again.updated_at, again.facts) == (
        done.status,
        done.started_at,
        done.updated_at,
        done.facts,
    )


def test_a_redelivered_message_takes_back_the_analysis_its_dead_worker_had_claimed(
    tmp_path: Path,
) -> None:
    song = imported(tmp_path)
    # The worker that claimed it died mid-run: the row says running, under that message's id.
    SongAnalysis.objects.filter(song=song).update(status="running", celery_task_id="lost")
    analysis = SongAnalysis.objects.get(song=song)
    other = song_analysis_run(analysis=analysis, task_id="another", redelivered=True)
    assert other.status == "running", "another message's delivery must not take it"
    resumed = song_analysis_run(analysis=analysis, task_id="lost", redelivered=True)
    assert resumed.status == "succeeded", resumed.error


def test_requesting_again_reuses_the_row_and_only_force_reruns(
    tmp_path: Path, django_capture_on_commit_callbacks
) -> None:
    song = imported(tmp_path)
    analysis = song_analysis_run(analysis=SongAnalysis.objects.get(song=song))
    with django_capture_on_commit_callbacks() as callbacks:
        again = song_analysis_request(song=song)
    assert again.pk == analysis.pk and again.status == "succeeded" and not callbacks
    with django_capture_on_commit_callbacks() as callbacks:
        forced = song_analysis_request(song=song, force=True)
    assert forced.pk == analysis.pk and forced.status == "queued" and len(callbacks) == 1


def test_analyze_songs_now_runs_here_and_skips_current_ones(tmp_path: Path, capsys) -> None:
    first = imported(tmp_path, "a.wav")
    second = imported(tmp_path, "b.flac", fmt="flac", freq=330)
    call_command("analyze_songs", str(first.pk), "--now")
    assert "1 analysed, 0 already current, 0 failed" in capsys.readouterr().out
    call_command("analyze_songs", "--all", "--now")
    assert "1 analysed, 1 already current, 0 failed" in capsys.readouterr().out
    assert set(SongAnalysis.objects.values_list("status", flat=True)) == {"succeeded"}
    assert Song.objects.get(pk=second.pk).status == "ready"


def test_analyze_songs_names_unknown_ids_and_needs_a_selection() -> None:
    with pytest.raises(CommandError, match="Name song IDs, or pass --all"):
        call_command("analyze_songs")
    with pytest.raises(CommandError, match="No song with ID 999"):
        call_command("analyze_songs", "999")


def test_analyze_songs_stuck_queues_again_what_a_dead_machine_left_running(
    tmp_path: Path, capsys, django_capture_on_commit_callbacks
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    dead = imported(tmp_path, "dead.wav")
    alive = imported(tmp_path, "alive.wav", freq=330)
    long_ago = timezone.now() - timedelta(hours=2)
    SongAnalysis.objects.filter(song=dead).update(
        status="running", progress=0.3, updated_at=long_ago
    )
    SongAnalysis.objects.filter(song=alive).update(status="running", progress=0.3)
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("analyze_songs", "--stuck", "30")
    out = capsys.readouterr().out
    assert f"Queued again: song #{dead.pk}" in out and "1 stuck analysis(es) queued again" in out
    assert len(callbacks) == 1
    assert SongAnalysis.objects.get(song=dead).status == "queued"
    assert SongAnalysis.objects.get(song=alive).status == "running"


def test_progress_is_a_heartbeat(tmp_path: Path) -> None:
    song = imported(tmp_path)
    before = SongAnalysis.objects.get(song=song).updated_at
    analysis = song_analysis_run(analysis=SongAnalysis.objects.get(song=song))
    assert analysis.updated_at > before
