"""``manage.py train``: queue a run, or train it here with --wait."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from annotations.generations.models import ModelVersion
from annotations.training.models import TrainingRun
from annotations.training.services import creation
from tests.annotations.test_training import tiny_version, write_training_snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[int, str]]:
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        creation,
        "training_run_enqueue",
        lambda *, run_id, task_id: sent.append((run_id, task_id)),
    )
    return sent


def test_without_wait_it_queues_the_run_with_the_overrides(
    settings, enqueued, capsys, django_capture_on_commit_callbacks
) -> None:
    write_training_snapshot(settings.MEDIA_ROOT, name="cmd-snap")
    version = tiny_version()
    with django_capture_on_commit_callbacks(execute=True):
        call_command(
            "train", "--stage", "sft", "--base", str(version.pk), "--snapshot", "cmd-snap",
            "--preset", "smoke", "--set", "max_steps=3", "--set", "bf16=false", "--full",
        )  # fmt: skip
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.QUEUED and not run.use_lora
    assert run.config["max_steps"] == 3 and run.config["bf16"] is False
    assert enqueued == [(run.pk, run.celery_task_id)]
    assert "Queued for the gpu_training workers" in capsys.readouterr().out


@pytest.mark.training
def test_with_wait_it_trains_here_and_names_the_new_version(settings, enqueued, capsys) -> None:
    write_training_snapshot(settings.MEDIA_ROOT, name="cmd-snap")
    tiny_version("cmd-base")
    call_command(
        "train", "--stage", "dpo", "--base", "cmd-base", "--snapshot", "cmd-snap",
        "--preset", "smoke", "--set", "max_steps=1", "--wait",
    )  # fmt: skip
    run = TrainingRun.objects.get()
    assert run.status == TrainingRun.Status.SUCCEEDED, run.error
    version = ModelVersion.objects.get(training_run=run)
    assert f"New model version: {version.name}" in capsys.readouterr().out
    assert not enqueued


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "nonsense=1"], "use KEY=VALUE with KEY one of"),
        (["--set", "max_steps=many"], "max_steps must be a whole number"),
        (["--stage", "grpo"], "GRPO needs a reward profile"),
        (["--snapshot", "missing"], "No snapshot 'missing'"),
    ],
)
def test_mistakes_are_explained(settings, enqueued, args, message) -> None:
    write_training_snapshot(settings.MEDIA_ROOT, name="cmd-snap")
    tiny_version("cmd-base")
    base = {"--stage": "sft", "--base": "cmd-base", "--snapshot": "cmd-snap"}
    extra = dict(zip(args[::2], args[1::2], strict=True))
    argv = [item for key, value in {**base, **extra}.items() for item in (key, value)]
    with pytest.raises(CommandError, match=message):
        call_command("train", *argv)
