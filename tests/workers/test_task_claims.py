"""Every task type runs once per request in the demo's configuration, and a message delivered again
after it finished does nothing.

One real worker process in the demo's configuration (``WORKBENCH_ENV=demo``: kombu's file-system
broker under a temp data dir; prefork, one process; consuming every queue the demo has) shares
this test's PostgreSQL database. The test queues one request of each task type through the
services, as the pages do, and waits until the worker has done them all, together with the work
they queue in turn (a generation's reward recompute, a trained version's evaluation). Every
message either process published is recorded (``tests.published_messages``). Then each of them is
published again, same task id, name and arguments, as a broker redelivers a message.

What is counted: deliveries are the worker's ``Task …[id] received`` lines, executions the
claims that ``annotations.core.task_claims`` logs (``task <id>: claimed …``) and, for training runs,
which claim through their advisory lock, the run's ``attempts``.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from annotations.core.models import TaskClaim
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import Generation
from annotations.rewards.models import CompositeReward, RewardValue
from annotations.songs.models import AudioFile, SongAnalysis
from annotations.training.models import ModelEvaluation, TrainingRun
from tests import published_messages
from tests.processes import celery_worker, publishing_to_demo_broker

# Real work in a worker process (numba compiling librosa, TRL importing): minutes on two cores.
# The tests only read what the module's fixture recorded; their marker gets the test database set
# up, and the fixture, which commits its rows for the worker to see, empties it again at the end.
pytestmark = [pytest.mark.worker, pytest.mark.django_db, pytest.mark.timeout(900)]

TASK_TYPES = (
    "workers.audio.probe_audio_file",
    "workers.audio.analyse_song",
    "workers.inference.generate_batch",
    "workers.rewards.recompute_rewards",
    "workers.rewards.recompute_composites",
    "workers.datasets.build_snapshot",
    "workers.evaluation.evaluate_version",
    "workers.training.run_training",
)
DEMO_QUEUES = "audio,gpu_inference,gpu_training,background"
RECEIVED = re.compile(r"Task ([\w.]+)\[([0-9a-f-]+)\] received")
FINISHED = re.compile(r"Task [\w.]+\[([0-9a-f-]+)\] (?:succeeded|raised|failed)")
CLAIMED = re.compile(r"task ([0-9a-f-]+): claimed ")
NOTHING = re.compile(r"task ([0-9a-f-]+): nothing to claim")


@dataclass
class DemoWorkerRun:
    messages: list[dict[str, Any]]  # every message published for the requests, in order
    queued_again: list[dict[str, Any]]  # what the second deliveries published (nothing, we hope)
    first_log: str  # the worker's log once the requests were done
    log: str  # ... and once every message had been delivered again
    rows_done: dict[str, Any]  # the rows the tasks write, once the requests were done
    rows_after: dict[str, Any]  # ... and after the second deliveries
    training_attempts: list[int]


def _rows() -> dict[str, Any]:
    """What each task type writes, as plain values, to compare before and after."""
    return {
        "probe": sorted(AudioFile.objects.values_list("pk", "probed_at", "format")),
        "analysis": sorted(
            SongAnalysis.objects.values_list("pk", "status", "started_at", "updated_at", "facts")
        ),
        "generation": sorted(
            Generation.objects.values_list("pk", "status", "started_at", "finished_at", "raw_text")
        ),
        "rewards": sorted(RewardValue.objects.values_list("pk", "computed_at", "value")),
        "composites": sorted(CompositeReward.objects.values_list("pk", "computed_at", "value")),
        "snapshot": sorted(
            DatasetSnapshot.objects.values_list("pk", "status", "content_sha256", "updated_at")
        ),
        "evaluation": sorted(
            ModelEvaluation.objects.values_list("pk", "status", "finished_at", "metrics")
        ),
        "training": sorted(
            TrainingRun.objects.values_list("pk", "status", "attempts", "step", "finished_at")
        ),
        "claims": sorted(TaskClaim.objects.values_list("task_id", "attempts", "finished_at")),
    }


def _wait_until_done(
    worker: Any, log_file: Path, messages: Path, *, deliveries: int = 1, of: list[str] | None = None
) -> str:
    """Until every recorded message (or those ``of``) has finished ``deliveries`` times, and no
    message is waiting (a task that queues more work records it before it finishes)."""
    queue = log_file.parent / "data" / "broker" / "queue"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if worker.poll() is not None:
            pytest.fail("the worker exited:\n" + log_file.read_text()[-4000:])
        ids = of if of is not None else [m["id"] for m in published_messages.read(messages)]
        log = log_file.read_text() if log_file.exists() else ""
        finished = Counter(FINISHED.findall(log))
        waiting = list(queue.glob("*.msg")) if queue.is_dir() else []
        if ids and not waiting and all(finished[task_id] >= deliveries for task_id in ids):
            return log
        time.sleep(0.5)
    pytest.fail("the worker did not finish in time:\n" + log_file.read_text()[-4000:])


def _prepare(tmp: Path) -> tuple[Any, Any]:
    """The tiny model, and reviewed work for a snapshot (its songs' analyses stored as done: their
    messages go to the test settings' Redis, never to the demo worker)."""
    from annotations.training.services.model_versions import model_version_register_local
    from tests.snapshots import reviewed_songs
    from tests.tiny_models import tiny_model_path

    tiny = model_version_register_local(
        name="tiny-claims", directory=tiny_model_path(), dtype="float32"
    )
    return tiny, reviewed_songs(tmp_path=tmp / "reviewed", version=tiny)


def _request_each_task_type(tmp: Path, tiny: Any, reviewed: Any) -> None:
    """One request of every task type, through the services that queue them."""
    from annotations.datasets.services import snapshot_create
    from annotations.generations.services.generations import generation_request
    from annotations.reviews import services as review_services
    from annotations.rewards.services.reward_profiles import reward_profile_create
    from annotations.songs.services.analysis import song_analysis_request
    from annotations.songs.services.audio_files import audio_file_add
    from annotations.training.services.creation import training_run_create
    from annotations.training.services.evaluations import evaluation_schedule
    from modeling.config import DecodingParams
    from tests import factories
    from tests.audio_files import write_tone
    from tests.helpers import complete_review_form

    with publishing_to_demo_broker(tmp / "data"):
        song = factories.SongFactory(title="Claimed once")
        audio_file_add(song=song, source=write_tone(tmp / "tone.flac", fmt="flac", seconds=3.0))
        song_analysis_request(song=song)
        generation_request(
            songs=[song],
            model_version=tiny,
            prompt=factories.PromptTemplateFactory(thinking=True),
            samples=2,
            decoding=DecodingParams(max_new_tokens=4),
            seed=1,
        )
        generation = factories.generation_with_output()
        expert = factories.expert()
        review = review_services.review_claim(expert=expert, generation=generation)
        review = review_services.review_save_draft(
            review=review, expert=expert, data=complete_review_form(review), version=review.version
        )
        review_services.review_submit(review=review, expert=expert, version=review.version)
        reward_profile_create(
            name="claims-once",
            description="",
            weights={"format": 1.0},
            is_active=True,
            user=factories.admin(),
        )
        snapshot = snapshot_create(
            name="claims-once",
            filters={"model_versions": [reviewed.version.pk]},
            eval_fraction=0.5,
            split_seed=0,
            actor=None,
        )
        deadline = time.monotonic() + 300
        while snapshot.status == DatasetSnapshot.Status.BUILDING and time.monotonic() < deadline:
            time.sleep(0.5)
            snapshot.refresh_from_db()
        assert snapshot.status == DatasetSnapshot.Status.FROZEN, snapshot.error
        evaluation_schedule(
            model_version=tiny,
            snapshot=snapshot,
            decoding=DecodingParams(max_new_tokens=4, do_sample=False),
        )
        training_run_create(
            stage="sft",
            base_version=tiny,
            snapshot=snapshot,
            preset="smoke",
            overrides={"max_steps": 1},
        )


@pytest.fixture(scope="module")
def demo_worker_run(
    django_db_setup: Any, django_db_blocker: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[DemoWorkerRun]:
    tmp = tmp_path_factory.mktemp("claims")
    data_dir, storage = tmp / "data", tmp / "storage"
    messages, log_file = tmp / "published.jsonl", tmp / "worker.log"
    with (
        django_db_blocker.unblock(),
        override_settings(MEDIA_ROOT=str(storage)),
        pytest.MonkeyPatch.context() as patch,
    ):
        try:
            tiny, reviewed = _prepare(tmp)
            patch.setenv(published_messages.VARIABLE, str(messages))
            with celery_worker(
                queues=DEMO_QUEUES,
                media_root=str(storage),
                data_dir=data_dir,
                demo_broker=True,
                pool="prefork",
                args=("--include", "tests.published_messages", "--logfile", str(log_file)),
                env={
                    published_messages.VARIABLE: str(messages),
                    # A trained version's evaluations run here too: keep their outputs short.
                    "WORKBENCH_EVALUATION_MAX_NEW_TOKENS": "4",
                },
            ) as worker:
                _request_each_task_type(tmp, tiny, reviewed)
                first_log = _wait_until_done(worker, log_file, messages)
                rows_done = _rows()
                sent = published_messages.read(messages)
                patch.delenv(published_messages.VARIABLE)  # the second deliveries are not new
                with publishing_to_demo_broker(data_dir) as demo:
                    for message in sent:
                        demo.send_task(
                            message["task"],
                            args=message["args"],
                            kwargs=message["kwargs"],
                            task_id=message["id"],
                        )
                log = _wait_until_done(
                    worker, log_file, messages, deliveries=2, of=[m["id"] for m in sent]
                )
                yield DemoWorkerRun(
                    messages=sent,
                    queued_again=published_messages.read(messages)[len(sent) :],
                    first_log=first_log,
                    log=log,
                    rows_done=rows_done,
                    rows_after=_rows(),
                    training_attempts=list(TrainingRun.objects.values_list("attempts", flat=True)),
                )
        finally:
            _empty_the_database()


def _empty_the_database() -> None:
    """The fixture's rows were committed: remove them, and put back what migrations seed."""
    from django.apps import apps
    from django.core.management import call_command

    from annotations.core.roles import sync_role_groups
    from annotations.reviews.taxonomy_seed import seed_error_taxonomy
    from annotations.rewards.profiles_seed import seed_reward_profiles

    call_command("flush", interactive=False, verbosity=0)
    sync_role_groups(apps)
    seed_error_taxonomy(apps)
    seed_reward_profiles(apps)


def test_in_the_demo_configuration_each_request_is_delivered_once_and_runs_once(
    demo_worker_run: DemoWorkerRun,
) -> None:
    run = demo_worker_run
    names = {message["id"]: message["task"] for message in run.messages}
    received = Counter(task_id for _, task_id in RECEIVED.findall(run.first_log))
    claims = Counter(CLAIMED.findall(run.first_log))
    executions: dict[str, list[int]] = {name: [] for name in TASK_TYPES}
    for task_id, name in names.items():
        assert received[task_id] == 1, f"{name}[{task_id}] was delivered {received[task_id]}×"
        if name != "workers.training.run_training":
            executions[name].append(claims[task_id])
    executions["workers.training.run_training"] = run.training_attempts
    print("executions per request, by task type:", executions)  # the report quotes these
    for name, counts in executions.items():
        assert counts, f"no {name} request reached the worker"
        assert set(counts) == {1}, f"{name}: executions per request {counts}"


def test_every_task_type_delivered_again_after_it_finished_does_nothing(
    demo_worker_run: DemoWorkerRun,
) -> None:
    run = demo_worker_run
    assert {message["task"] for message in run.messages} == set(TASK_TYPES)
    received = Counter(task_id for _, task_id in RECEIVED.findall(run.log))
    claims = Counter(CLAIMED.findall(run.log))
    nothing = Counter(NOTHING.findall(run.log))
    for message in run.messages:
        task_id, name = message["id"], message["task"]
        assert received[task_id] == 2, f"{name}[{task_id}] was not delivered again"
        if name != "workers.training.run_training":
            assert claims[task_id] == 1, f"{name}[{task_id}] ran again"
            assert nothing[task_id] == 1, f"{name}[{task_id}] did not say it had nothing to do"
    assert run.training_attempts == [1]
    assert run.queued_again == [], "a second delivery queued more work"
    for what, rows in run.rows_done.items():
        assert rows, f"no {what} rows were written"
        assert run.rows_after[what] == rows, f"the second deliveries changed the {what} rows"
