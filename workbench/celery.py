"""The Celery application and the one place where tasks are routed to queues.

Three queues, one kind of worker each:
- ``audio``: CPU work: analysis and files (decoding, hashing, librosa), reward recomputes;
- ``gpu_inference``: Music Flamingo generation on GPU workers;
- ``gpu_training``: SFT / GRPO / DPO runs on GPU workers.
"""

from __future__ import annotations

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")

QUEUE_AUDIO = "audio"
QUEUE_GPU_INFERENCE = "gpu_inference"
QUEUE_GPU_TRAINING = "gpu_training"
QUEUES = (QUEUE_AUDIO, QUEUE_GPU_INFERENCE, QUEUE_GPU_TRAINING)

# Routing by task module: a new task lands on the right queue by living in the right module.
TASK_ROUTES = {
    "workers.audio.*": {"queue": QUEUE_AUDIO},
    "workers.rewards.*": {"queue": QUEUE_AUDIO},  # CPU work, like the analysis
    "workers.inference.*": {"queue": QUEUE_GPU_INFERENCE},
    "workers.datasets.*": {"queue": QUEUE_AUDIO},  # snapshot builds: database and files, no GPU
    "workers.evaluation.*": {"queue": QUEUE_GPU_INFERENCE},  # evaluation is generation
    "workers.training.*": {"queue": QUEUE_GPU_TRAINING},
}

app = Celery("workbench")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
app.conf.task_default_queue = QUEUE_AUDIO
app.conf.task_routes = TASK_ROUTES
# Every task module, so a worker registers every task whatever queue it consumes.
app.conf.imports = (
    "workers.audio",
    "workers.inference",
    "workers.rewards",
    "workers.datasets",
    "workers.training",
    "workers.evaluation",
)
