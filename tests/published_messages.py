"""Test-only: every task message a process publishes, appended as one JSON line to the file that
``WORKBENCH_TEST_PUBLISHED`` names (nothing when it is unset).

A worker process loads it with ``celery worker --include tests.published_messages``, so the
messages its tasks publish (a generation's reward recompute, a trained version's evaluation) are
recorded beside the test's own, and a test can deliver each of them again, byte for byte the same
task id, name and arguments.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from celery.signals import after_task_publish

VARIABLE = "WORKBENCH_TEST_PUBLISHED"


@after_task_publish.connect
def _record(headers: dict[str, Any] | None = None, body: Any = None, **_: Any) -> None:
    path = os.environ.get(VARIABLE)
    if not path or not headers:
        return
    args, kwargs, _embed = body
    line = {"task": headers["task"], "id": headers["id"], "args": args, "kwargs": kwargs}
    with Path(path).open("a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


def read(path: Path) -> list[dict[str, Any]]:
    """The messages recorded in ``path``, in publishing order."""
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
