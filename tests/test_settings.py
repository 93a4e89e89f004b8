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
