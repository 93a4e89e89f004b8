"""The tiny model end to end through a real gpu_inference worker process on the Redis broker."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from annotations.generations.models import Generation
from annotations.generations.services.generations import generation_request
from annotations.songs.services.audio_files import audio_file_add
from annotations.training.services.model_versions import model_version_register_local
from modeling.config import DecodingParams
from tests import factories
from tests.audio_files import write_tone
from tests.processes import ROOT, celery_worker
from tests.tiny_models import tiny_model_path

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_a_request_is_generated_by_the_worker_and_stored_parsed(tmp_path: Path, settings) -> None:
    version = model_version_register_local(
        name="tiny-worker", directory=tiny_model_path(), dtype="float32"
    )
    songs = []
    for index, seconds in enumerate((4.0, 35.0)):  # one and two 30-second windows: a ragged batch
        song = factories.SongFactory(title=f"Worker song {index}")
        source = write_tone(
            tmp_path / f"s{index}.flac", fmt="flac", seconds=seconds, freq=300 + index
        )
        audio_file_add(song=song, source=source)
        songs.append(song)
    settings.WORKBENCH_MODEL_TASK_SIZE = 3
    with celery_worker(
        queues="gpu_inference", media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "data"
    ) as worker:
        # transaction=True: on_commit fires at once, so this enqueues onto the Redis broker.
        groups = generation_request(
            songs=songs,
            model_version=version,
            prompt=factories.PromptTemplateFactory(thinking=True),
            samples=2,
            decoding=DecodingParams(max_new_tokens=6),
            seed=3,
        )
        generations = Generation.objects.filter(group__in=groups)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and worker.poll() is None:
            if not generations.exclude(status__in=["succeeded", "failed"]).exists():
                break
            time.sleep(0.5)
        else:
            worker.terminate()
            pytest.fail(
                "the worker did not finish:\n" + (worker.stdout.read() if worker.stdout else "")
            )
    assert generations.count() == 4
    assert set(generations.values_list("status", flat=True)) == {"succeeded"}, list(
        generations.values_list("error", flat=True)
    )
    long_one = generations.get(song=songs[1], sibling_index=1)
    assert long_one.seed == 4
    assert long_one.audio_heard["end"] == pytest.approx(35.0)
    assert long_one.audio_seconds_heard == pytest.approx(35.0)
    assert long_one.output_tokens >= 1 and long_one.input_tokens > 35 * 25
    assert long_one.parsed.get("parser_version")
    assert long_one.decoding["rng"]["seed"] in (3, 4)
    assert long_one.started_at is not None and long_one.finished_at is not None


def test_importing_the_inference_tasks_does_not_import_torch() -> None:
    # The prefork parent imports task modules before forking: CUDA must not be initialised there.
    script = (
        "import os, sys, django\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'workbench.settings')\n"
        "django.setup()\n"
        "import workbench.celery, workers.inference\n"
        "print('torch' in sys.modules, 'transformers' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False False"
