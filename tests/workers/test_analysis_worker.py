"""The analysis on a real audio worker: a worker process killed mid-task loses nothing."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from annotations.songs.models import Song, SongAnalysis
from annotations.songs.services.song_import import SongMetadata, song_import_file
from tests.audio_files import write_tone
from tests.processes import celery_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in out.split()]


def test_a_pool_process_killed_mid_analysis_is_replaced_and_the_task_runs_again(
    tmp_path: Path, settings
) -> None:
    from workbench.celery import app

    app.control.purge()  # before queuing: the worker below must not purge this test's task
    result = song_import_file(
        path=write_tone(tmp_path / "long.flac", fmt="flac", seconds=300, channels=2),
        metadata=SongMetadata(title="Long enough to kill mid-way"),
    )
    analysis = SongAnalysis.objects.get(song_id=result.song_id)
    # Prefork, as deployed: the pool's child does the work, so killing it is what an OOM kill does.
    with celery_worker(
        queues="audio",
        media_root=settings.MEDIA_ROOT,
        data_dir=tmp_path / "data",
        pool="prefork",
        purge=False,
    ) as worker:
        deadline = time.monotonic() + 120
        killed = None
        while time.monotonic() < deadline and killed is None:
            analysis.refresh_from_db()
            if analysis.status == "running" and analysis.progress > 0:
                children = _children(worker.pid)
                assert children, "the prefork pool has a child doing the work"
                killed = children[0]
                os.kill(killed, signal.SIGKILL)
            time.sleep(0.2)
        assert killed is not None, "the analysis never started running"
        while time.monotonic() < deadline:
            analysis.refresh_from_db()
            if analysis.status == "succeeded":
                break
            time.sleep(0.5)
        assert analysis.status == "succeeded", analysis.error
        assert killed not in _children(worker.pid), "a new pool process took over"
    assert Song.objects.get(pk=result.song_id).status == "ready"
    assert analysis.facts["duration_seconds"] == pytest.approx(300, abs=0.1)
    output = worker.output  # type: ignore[attr-defined]
    assert "WorkerLostError" in output or "signal 9" in output, output[-3000:]
