"""The Celery application and the one place where tasks are routed to queues.

Three queues, one kind of worker each:
- ``audio``: CPU work: analysis and files (decoding, hashing, librosa), reward recomputes;
- ``gpu_inference``: Music Flamingo generation on GPU workers;
- ``gpu_training``: SFT / GRPO / DPO runs on GPU workers.

and ``background``, for work queued in bulk by a command rather than by a person
(``background_work()``; today the demo's start-up backlog), consumed by a worker of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")

QUEUE_AUDIO = "audio"
QUEUE_GPU_INFERENCE = "gpu_inference"
QUEUE_GPU_TRAINING = "gpu_training"
QUEUE_BACKGROUND = "background"
QUEUES = (QUEUE_AUDIO, QUEUE_GPU_INFERENCE, QUEUE_GPU_TRAINING, QUEUE_BACKGROUND)

# Routing by task module: a new task lands on the right queue by living in the right module.
TASK_ROUTES = {
    "workers.audio.*": {"queue": QUEUE_AUDIO},
    "workers.rewards.*": {"queue": QUEUE_AUDIO},  # CPU work, like the analysis
    "workers.inference.*": {"queue": QUEUE_GPU_INFERENCE},
    "workers.datasets.*": {"queue": QUEUE_AUDIO},  # snapshot builds: database and files, no GPU
    "workers.evaluation.*": {"queue": QUEUE_GPU_INFERENCE},  # evaluation is generation
    "workers.training.*": {"queue": QUEUE_GPU_TRAINING},
}

# A separate queue, not Celery priorities: kombu's file-system broker (the demo's) has no
# priorities, Redis only emulates them per worker prefetch, and no priority can help a person's
# upload while the only worker process spends minutes on the 21-minute suite. A queue with a
# worker of its own keeps bulk work beside, never in front of, what someone is waiting for.
_in_background: ContextVar[bool] = ContextVar("in_background", default=False)


@contextmanager
def background_work() -> Iterator[None]:
    """Send every task enqueued inside the block (after-commit hooks included, when the commit
    happens inside it) to the ``background`` queue instead of its module's queue."""
    token = _in_background.set(True)
    try:
        yield
    finally:
        _in_background.reset(token)


def _route_background(name: str, args: Any, kwargs: Any, options: Any, **_: Any) -> Any:
    return {"queue": QUEUE_BACKGROUND} if _in_background.get() else None


app = Celery("workbench")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
app.conf.task_default_queue = QUEUE_AUDIO
app.conf.task_routes = (_route_background, TASK_ROUTES)
# Every task module, so a worker registers every task whatever queue it consumes.
app.conf.imports = (
    "workers.audio",
    "workers.inference",
    "workers.rewards",
    "workers.datasets",
    "workers.training",
    "workers.evaluation",
)
