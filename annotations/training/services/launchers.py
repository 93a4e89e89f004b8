"""Launchers: how a claimed run's trainer is started, per ``WORKBENCH_TRAINING_LAUNCHER``.

``inprocess`` calls ``modeling.training.runner.run_training`` in the worker's process (CPU tests,
one GPU); ``subprocess`` runs ``python -m modeling.training --job job.json`` in a child process;
``accelerate`` runs the same module under ``accelerate launch`` with a shipped FSDP or DeepSpeed
ZeRO-3 config (or a config file by path), one process per GPU. A child reports through
``events.jsonl``, which is replayed into the hooks; a cancel reaches it as a ``STOP`` file.

Preconditions: the caller (``services.execution``) holds the run and passes the hooks that write
its rows; these functions neither claim nor finish a run. ``modeling`` (and, through it, torch) is
imported only inside the functions, so importing this module loads neither.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

if TYPE_CHECKING:
    from modeling.training.runner import Hooks, TrainingJob, TrainingResult

ACCELERATE_CONFIGS = ("fsdp", "deepspeed_zero3")


def training_launch(job: TrainingJob, hooks: Hooks) -> TrainingResult:
    """Train ``job`` with the configured launcher; returns the runner's result.

    Raises whatever the trainer raised (in-process) or a RuntimeError with the child's error or
    the last lines of its log (in a child process).
    """
    if settings.WORKBENCH_TRAINING_LAUNCHER == "inprocess":
        from modeling.training.runner import run_training

        return run_training(job, hooks)
    return run_training_subprocess(job, hooks, command=launcher_command(job))


def launcher_command(job: TrainingJob) -> list[str]:
    """The command that trains ``job`` in a child process (its job file is written beside it).

    ``accelerate``: ``accelerate launch --config_file workers/accelerate/<config>.yaml -m
    modeling.training --job job.json`` (FSDP or DeepSpeed ZeRO-3 across the machine's GPUs);
    ``subprocess``: the same module in one plain Python process.
    """
    job_file = job.output_dir / "job.json"
    module = ["-m", "modeling.training", "--job", str(job_file)]
    if settings.WORKBENCH_TRAINING_LAUNCHER == "accelerate":
        return [
            sys.executable,
            "-m",
            "accelerate.commands.launch",
            "--config_file",
            str(accelerate_config_path()),
            "--num_processes",
            str(_gpu_count()),
            *module,
        ]
    return [sys.executable, *module]


def _gpu_count() -> int:
    """Processes for ``accelerate launch``: one per GPU, at least one."""
    from modeling.training.runner import cuda_device_count

    return max(1, cuda_device_count())


def accelerate_config_path() -> Path:
    """``WORKBENCH_ACCELERATE_CONFIG``: a shipped config's name (fsdp, deepspeed_zero3) or a path."""
    name = settings.WORKBENCH_ACCELERATE_CONFIG
    if name in ACCELERATE_CONFIGS:
        return Path(settings.BASE_DIR) / "workers" / "accelerate" / f"{name}.yaml"
    return Path(name)


def run_training_subprocess(
    job: TrainingJob, hooks: Hooks, *, command: list[str], poll_seconds: float = 0.5
) -> TrainingResult:
    """Train in a child process, replaying its ``events.jsonl`` into ``hooks``.

    A cancel becomes the ``STOP`` file the child polls. The child's output goes to ``train.log``
    beside the events; a non-zero exit raises with its last lines.
    """
    from modeling.training.runner import TrainingResult

    out = job.output_dir
    out.mkdir(parents=True, exist_ok=True)
    (out / "job.json").write_text(json.dumps(job.as_dict(), indent=2, sort_keys=True))
    stop_file, events = out / "STOP", out / "events.jsonl"
    stop_file.unlink(missing_ok=True)
    offset = events.stat().st_size if events.exists() else 0  # earlier attempts' events stay
    result: dict[str, Any] | None = None
    error: str | None = None
    log_path = out / "train.log"
    with log_path.open("ab") as log_file:
        child = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            while True:
                finished = child.poll() is not None
                for event in _read_events(events, offset):
                    offset = event.pop("_offset")
                    if event.get("event") == "error":
                        error = str(event.get("message") or "")
                    result = _dispatch(event, hooks) or result
                if finished:
                    break
                if hooks.should_stop() and not stop_file.exists():
                    stop_file.touch()
                time.sleep(poll_seconds)
        except BaseException:
            child.kill()
            child.wait()
            raise
    if child.returncode != 0 and error:
        raise RuntimeError(error)
    if child.returncode != 0:
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise RuntimeError(
            f"the training process exited with status {child.returncode}:\n" + "\n".join(tail)
        )
    if result is None:
        raise RuntimeError("the training process exited without reporting a result")
    return TrainingResult.from_dict(result)


def _read_events(path: Path, offset: int) -> Iterator[dict[str, Any]]:
    """Whole JSON lines after ``offset`` (a line still being written is left for the next read)."""
    if not path.exists():
        return
    with path.open("rb") as stream:
        stream.seek(offset)
        for raw in stream:
            if not raw.endswith(b"\n"):
                return
            offset += len(raw)
            event = json.loads(raw)
            event["_offset"] = offset
            yield event


def _dispatch(event: dict[str, Any], hooks: Hooks) -> dict[str, Any] | None:
    kind = event.get("event")
    if kind == "start":
        hooks.on_start(
            total_steps=int(event["total_steps"]), resumed_from_step=int(event["resumed_from_step"])
        )
    elif kind == "log":
        hooks.on_log(
            step=int(event["step"]), total_steps=int(event["total_steps"]), values=event["values"]
        )
    elif kind == "checkpoint":
        hooks.on_checkpoint(step=int(event["step"]), path=Path(event["path"]))
    elif kind == "result":
        return event
    return None
