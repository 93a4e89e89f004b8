"""Settings come from the environment and fail loudly, with the variable's name, when unsafe."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.subprocess  # each test runs manage.py in a child process

PRODUCTION_ENV = {
    "WORKBENCH_ENV": "production",
    "DJANGO_SECRET_KEY": "a-production-secret-" + "k3y!" * 12,
    "DJANGO_ALLOWED_HOSTS": "workbench.example.org",
    "DATABASE_URL": "postgres://workbench:pw@db.internal:5432/workbench",
    "CELERY_BROKER_URL": "redis://cache.internal:6379/0",
    "CHANNEL_LAYER_URL": "redis://cache.internal:6379/1",
}


def _manage(*args: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("WORKBENCH_", "DJANGO_", "DATABASE_", "CELERY_", "CHANNEL_"))
    }
    clean.update(env)
    clean.setdefault("WORKBENCH_DATA_DIR", str(tmp_path))
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DJANGO_SECRET_KEY"}
    result = _manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "Environment variable DJANGO_SECRET_KEY is required" in result.stderr


def test_production_refuses_the_embedded_database(tmp_path: Path) -> None:
    env = {k: v for k, v in PRODUCTION_ENV.items() if k != "DATABASE_URL"}
    result = _manage("check", env=env, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "DATABASE_URL is required in production" in result.stderr


def test_an_unknown_environment_name_is_refused(tmp_path: Path) -> None:
    result = _manage("check", env={"WORKBENCH_ENV": "prod"}, tmp_path=tmp_path)
    assert result.returncode != 0
    assert "WORKBENCH_ENV='prod' is unknown" in result.stderr


def test_deploy_check_passes_with_production_settings(tmp_path: Path) -> None:
    result = _manage(
        "check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout


def test_debug_is_off_unless_asked(tmp_path: Path) -> None:
    result = _manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG, settings.DATABASES['default']['ENGINE'])",
        env={"WORKBENCH_ENV": "demo"},
        tmp_path=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False django.db.backends.sqlite3"
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0, "the generated key is private"


DEMO_BROKER_SCRIPT = """
import json, os
from django.conf import settings
from workbench.celery import QUEUES, app
from workers.audio import analyse_song

options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
queue_dir, control_dir = options["data_folder_out"], options["control_folder"]
# Declare every queue as a worker does at start-up: this writes the exchange bindings.
with app.connection_for_write() as conn:
    for queue in app.amqp.queues.values():
        queue(conn.default_channel).declare()

def messages_from(publish):
    before = set(os.listdir(queue_dir))
    publish()
    return sorted(name.rsplit(".", 2)[-2] for name in set(os.listdir(queue_dir)) - before)

print(json.dumps({
    "folders": {key: options[key] for key in ("data_folder_in", "data_folder_out",
                                             "control_folder", "processed_folder")},
    "bindings": {name: json.load(open(os.path.join(control_dir, name + ".exchange")))
                 for name in QUEUES},
    "as_routed": messages_from(lambda: analyse_song.delay(0)),
    # What the old queue layout did: publish to the audio exchange with the audio routing key.
    "through_the_audio_exchange": messages_from(
        lambda: analyse_song.apply_async(args=[0], exchange="audio", routing_key="audio")
    ),
}))
"""


def test_the_demo_broker_keeps_its_state_under_the_data_dir_and_one_publish_is_one_message(
    tmp_path: Path,
) -> None:
    import json

    result = _manage(
        "shell", "-c", DEMO_BROKER_SCRIPT, env={"WORKBENCH_ENV": "demo"}, tmp_path=tmp_path
    )
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    broker = tmp_path / "broker"
    assert {key: Path(folder).parent for key, folder in seen["folders"].items()} == dict.fromkeys(
        seen["folders"], broker
    ), "every folder of the file broker lives under WORKBENCH_DATA_DIR"
    # A fresh installation's exchanges each bind their own queue, and nothing else.
    assert seen["bindings"] == {name: [[name, "", name]] for name in seen["bindings"]}
    assert seen["as_routed"] == ["audio"]
    assert seen["through_the_audio_exchange"] == ["audio"]
