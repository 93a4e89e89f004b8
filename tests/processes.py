"""Real processes for tests: a Celery worker, or a management command, on the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from celery import Celery
from django.conf import settings as django_settings

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    db = django_settings.DATABASES["default"]
    assert db["ENGINE"] == "django.db.backends.postgresql", "process tests run on PostgreSQL"
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def process_env(*, media_root: str, data_dir: Path, demo_broker: bool = False) -> dict[str, str]:
    """The environment a child process needs to share this test's database and storage.

    ``demo_broker``: the demo's settings (``WORKBENCH_ENV=demo``: kombu's file-system broker and
    file results under ``data_dir``, no channel layer), still on this test's PostgreSQL database.
    """
    env = dict(os.environ)
    env.update(
        DATABASE_URL=test_database_url(),
        WORKBENCH_STORAGE_ROOT=media_root,
        WORKBENCH_DATA_DIR=str(data_dir),
    )
    if demo_broker:
        env["WORKBENCH_ENV"] = "demo"
        for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND", "CHANNEL_LAYER_URL"):
            env.pop(name, None)
    return env


@contextmanager
def publishing_to_demo_broker(data_dir: Path) -> Iterator[Celery]:
    """While the block runs, the tasks this process enqueues (the services' ``delay`` calls
    included) go to the demo's file-system broker under ``data_dir``, not to the test settings'
    Redis: the tasks are shared tasks, so they follow the current Celery app."""
    from celery import Celery

    from workbench.celery import app
    from workbench.settings import filesystem_broker_options

    demo = Celery("workbench", set_as_current=False)
    demo.conf.update(
        broker_url="filesystem://localhost//",
        broker_transport_options=filesystem_broker_options(data_dir),
        task_queues=app.conf.task_queues,
        task_default_queue=app.conf.task_default_queue,
        task_routes=app.conf.task_routes,
        task_serializer="json",
        accept_content=["json"],
    )
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    broker_url = os.environ.pop("CELERY_BROKER_URL", None)
    demo.set_current()
    try:
        yield demo
    finally:
        app.set_current()
        demo.close()
        if broker_url is not None:
            os.environ["CELERY_BROKER_URL"] = broker_url


@contextmanager
def celery_worker(
    *,
    queues: str,
    media_root: str,
    data_dir: Path,
    purge: bool = True,
    pool: str = "solo",
    concurrency: int = 1,
    demo_broker: bool = False,
    args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Iterator[subprocess.Popen[str]]:
    """A real worker consuming ``queues`` from the Redis broker; stopped when the block ends.

    ``purge`` drops messages an interrupted earlier run left behind; pass False when this test
    queued work before starting the worker. ``demo_broker``: the demo's file-system broker under
    ``data_dir`` instead (see ``process_env``; a fresh ``data_dir`` has nothing to purge).
    ``args``: more command-line arguments (``--include``, ``--logfile``); ``env``: more variables.
    After the block, the worker's whole log is in the process's ``output`` attribute.
    """
    from workbench.celery import app

    if purge and not demo_broker:
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
            *args,
        ],
        cwd=ROOT,
        env={
            **process_env(media_root=media_root, data_dir=data_dir, demo_broker=demo_broker),
            **(env or {}),
        },
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
