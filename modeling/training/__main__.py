"""``python -m modeling.training --job job.json``: one run, for ``accelerate launch`` on several GPUs.

The parent (the Celery task) cannot pass hooks into other processes, so they become files in the
run's ``output_dir``: rank 0 appends one JSON object per line to ``events.jsonl``::

    {"event": "start", "total_steps": N, "resumed_from_step": S}
    {"event": "log", "step": S, "total_steps": N, "values": {...}}
    {"event": "checkpoint", "step": S, "path": "..."}
    {"event": "result", "status": ..., "step": ..., "final_dir": ..., "adapter_dir": ..., "metrics": {...}}
    {"event": "error", "message": "..."}

and the parent asks the run to stop by creating ``output_dir/STOP`` (rank 0 reads it; the runner
shares the answer with every rank). The exit status is 0 for completed or cancelled runs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from modeling.training.runner import TrainingHooks, TrainingJob, run_training

EVENTS_FILE = "events.jsonl"
STOP_FILE = "STOP"


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


class FileHooks(TrainingHooks):
    """Hooks that append events to ``events.jsonl`` and stop when ``STOP`` exists."""

    def __init__(self, output_dir: Path) -> None:
        self.output_dir = output_dir
        self.events = output_dir / EVENTS_FILE
        self.stop_file = output_dir / STOP_FILE
        self.main = is_main_process()

    def write(self, event: str, **fields: Any) -> None:
        if not self.main:
            return
        self.output_dir.mkdir(parents=True, exist_ok=True)
        with self.events.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"event": event, **fields}, default=str) + "\n")

    def on_start(self, *, total_steps: int, resumed_from_step: int) -> None:
        self.write("start", total_steps=total_steps, resumed_from_step=resumed_from_step)

    def on_log(self, *, step: int, total_steps: int, values: dict[str, float]) -> None:
        self.write("log", step=step, total_steps=total_steps, values=values)

    def on_checkpoint(self, *, step: int, path: Path) -> None:
        self.write("checkpoint", step=step, path=str(path))

    def should_stop(self) -> bool:
        return self.main and self.stop_file.exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m modeling.training", description=__doc__)
    parser.add_argument("--job", type=Path, required=True, help="TrainingJob.as_dict() as JSON")
    args = parser.parse_args(argv)
    job = TrainingJob.from_dict(json.loads(args.job.read_text(encoding="utf-8")))
    hooks = FileHooks(job.output_dir)
    try:
        result = run_training(job, hooks)
    except Exception as exc:
        hooks.write("error", message=f"{type(exc).__name__}: {exc}")
        raise
    hooks.write("result", **result.as_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
