"""Real processes for tests: a Celery worker, or a management command, on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    db = django_settings.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql", "process tests run on PostgreSQL"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(*, media_root: str, data_dir: Path) -> dict[str, str]:
    """The environment a child process needs to share this test's database and storage."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        WORKBENCH_STORAGE_ROOT=media_root,
        WORKBENCH_DATA_DIR=str(data_dir),
    )
    return env


@contextmanager
def celery_worker(
    *,
    queues: str,
    media_root: str,
    data_dir: Path,
    purge: bool = True,
    pool: str = "solo",
    concurrency: int = 1,
) -> Iterator[subprocess.Popen[str]]:
    """A real worker consuming ``queues`` from the Redis broker; stopped when the block ends.

    ``purge`` drops messages an interrupted earlier run left behind; pass False when this test
    queued work before starting the worker. After the block, the worker's whole log is in the
    process's ``output`` attribute.
    """
    from workbench.celery import app

    if purge:
        app.control.purge()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "workbench",
            "worker",
            "-Q",
            queues,
            "--pool",
            pool,
            "--concurrency",
            str(concurrency),
            "--loglevel",
            "INFO",
            "-n",
            f"test-{os.getpid()}-{queues.replace(',', '-')}@%h",
        ],
        cwd=ROOT,
        env=process_env(media_root=media_root, data_dir=data_dir),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield process
    except BaseException:
        process.terminate()
        output = process.communicate(timeout=30)[0] or ""
        process.output = output  # type: ignore[attr-defined]
        print("---- worker output ----\n" + output[-6000:])  # shown by pytest on failure
        raise
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            output = process.communicate(timeout=30)[0]
        except subprocess.TimeoutExpired:
            process.kill()
            output = process.communicate()[0]
        process.output = output or ""  # type: ignore[attr-defined]
