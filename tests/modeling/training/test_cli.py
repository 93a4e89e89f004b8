"""``python -m modeling.training --job job.json``: what accelerate launches on multi-GPU machines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from modeling.training.__main__ import FileHooks, main

ROOT = Path(__file__).resolve().parents[3]


def _events(output_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (output_dir / "events.jsonl").read_text().splitlines()]


@pytest.mark.subprocess
@pytest.mark.training
def test_a_stop_file_cancels_the_run_and_the_next_launch_resumes(make_job, tmp_path: Path) -> None:
    job = make_job("sft", use_lora=True)
    job.output_dir.mkdir(parents=True)
    (job.output_dir / "STOP").touch()
    job_file = tmp_path / "job.json"
    job_file.write_text(json.dumps(job.as_dict()))
    env = {**os.environ, "RANK": "0"}
    completed = subprocess.run(
        [sys.executable, "-m", "modeling.training", "--job", str(job_file)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    events = _events(job.output_dir)
    assert [e["event"] for e in events] == ["start", "log", "checkpoint", "result"]
    assert events[1]["step"] == 1 and "loss" in events[1]["values"]
    assert events[2]["path"] == str(job.output_dir / "checkpoints" / "checkpoint-1")
    assert events[3]["status"] == "cancelled"

    (job.output_dir / "STOP").unlink()
    assert main(["--job", str(job_file)]) == 0
    resumed = _events(job.output_dir)[len(events) :]
    assert resumed[0] == {"event": "start", "total_steps": 2, "resumed_from_step": 1}
    assert resumed[-1]["status"] == "completed"
    assert resumed[-1]["final_dir"] == str(job.output_dir / "final")
    assert resumed[-1]["adapter_dir"] == str(job.output_dir / "adapter")


def test_only_rank_zero_writes_events_or_reads_the_stop_file(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "STOP").touch()
    monkeypatch.setenv("RANK", "1")
    hooks = FileHooks(tmp_path)
    hooks.on_log(step=1, total_steps=2, values={"loss": 1.0})
    assert not (tmp_path / "events.jsonl").exists()
    assert hooks.should_stop() is False  # rank 0 decides; the runner broadcasts its answer
    monkeypatch.setenv("RANK", "0")
    assert FileHooks(tmp_path).should_stop() is True
