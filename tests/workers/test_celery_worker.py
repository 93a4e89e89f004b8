"""A task through a real Celery worker process consuming the Redis broker, on the test database."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from annotations.demo import audio as demo_audio
from annotations.songs.models import AudioFile
from annotations.songs.services.audio_files import audio_file_add
from tests import factories
from tests.processes import celery_worker
from workbench.celery import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(tmp_path: Path, settings) -> Iterator[subprocess.Popen]:
    assert settings.CELERY_BROKER_URL.startswith("redis://"), (
        "the worker test needs the Redis broker"
    )
    with celery_worker(
        queues="audio", media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "data"
    ) as process:
        yield process


def test_the_audio_worker_probes_a_stored_file(worker: subprocess.Popen, tmp_path: Path) -> None:
    piece = demo_audio.DemoPiece("w", 100, 4, (("C4", "E4", "G4"),), False, 2.5, sample_rate=16000)
    source = demo_audio.write(piece, tmp_path / "piece.flac")
    # transaction=True: on_commit fires at once, so this enqueues onto the Redis broker.
    audio = audio_file_add(song=factories.SongFactory(), source=source)

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        audio = AudioFile.objects.get(pk=audio.pk)
        if audio.probed_at is not None or worker.poll() is not None:
            break
        time.sleep(0.25)
    if audio.probed_at is None:
        worker.terminate()
        pytest.fail(
            "the worker never probed the file:\n" + (worker.stdout.read() if worker.stdout else "")
        )
    assert audio.probe_error == ""
    assert audio.format == "flac"
    assert audio.duration_seconds == pytest.approx(2.5)
    assert audio.sample_rate == 16000


def test_tasks_are_routed_to_their_queue() -> None:
    from workers.audio import probe_audio_file

    route = app.amqp.router.route({}, probe_audio_file.name)
    assert route["queue"].name == "audio"


@pytest.mark.parametrize(
    ("task_name", "queue"),
    [
        ("workers.audio.analyse_song", "audio"),
        ("workers.inference.generate", "gpu_inference"),
        ("workers.training.run_stage", "gpu_training"),
    ],
)
def test_each_task_module_routes_to_its_own_queue(task_name: str, queue: str) -> None:
    assert app.amqp.router.route({}, task_name)["queue"].name == queue


def test_work_queued_inside_background_work_goes_to_the_background_queue() -> None:
    from workbench.celery import background_work

    with background_work():
        assert app.amqp.router.route({}, "workers.audio.analyse_song")["queue"].name == "background"
        assert app.amqp.router.route({}, "workers.training.run_training")["queue"].name == (
            "background"
        )
    assert app.amqp.router.route({}, "workers.audio.analyse_song")["queue"].name == "audio"
