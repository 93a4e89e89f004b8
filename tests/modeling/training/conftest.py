"""A tiny on-disk dataset snapshot (the layout the contract fixes) with real WAV audio."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from tests.audio_files import write_tone

PROMPT = "Describe this track."
THINK_PROMPT = "Describe this track. Think first."
QUESTION = "What is the tempo in BPM?"


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": text}]}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, sort_keys=True) + "\n" for row in rows)
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def _rows(audio: list[dict[str, str]]) -> dict[str, list[dict[str, Any]]]:
    def base(fmt: str, index: int) -> dict[str, Any]:
        return {
            "id": f"{fmt}-{index}",
            "song_id": index + 1,
            "audio": audio[index % len(audio)],
            "genre": "rock",
            "culture": "",
        }

    sft = [
        {
            **base("sft", 0),
            "messages": [user(PROMPT), assistant("A mid-tempo rock song at 120 BPM in A minor.")],
            "source": "corrected_caption",
        },
        {
            **base("sft", 1),
            "messages": [
                user(THINK_PROMPT),
                assistant(
                    "<think>Step 1: the drums play a steady backbeat.</think>"
                    "<answer>Drums, electric bass, synth pad.</answer>"
                ),
            ],
            "source": "accepted_trace",
        },
        {
            **base("sft", 2),
            "messages": [
                user(THINK_PROMPT),
                assistant(
                    "<think>Step 2: the bass outlines A, F, C and G.</think>"
                    "<answer>A waltz in G major.</answer>"
                ),
            ],
            "source": "accepted_trace",
        },
    ]
    grpo = [
        {
            **base("grpo", i),
            "prompt": [user(QUESTION)],
            "answer": "120",
            "options": None,
            "metadata": {"tempo_bpm": 120.0},
            "analysis": {},
            "source": "question",
        }
        for i in range(2)
    ]
    dpo = [
        {
            **base("dpo", i),
            "prompt": [user(PROMPT)],
            "chosen": [assistant("A rock song at 120 BPM with drums and bass.")],
            "rejected": [assistant("A waltz in G major with sitar.")],
            "source": "ranking",
        }
        for i in range(2)
    ]
    return {"sft": sft, "grpo": grpo, "dpo": dpo}


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``{"dataset_dir", "audio_root"}``: a frozen snapshot whose rows point at 3 s WAV tones."""
    root = tmp_path_factory.mktemp("training-snapshot")
    audio_root = root / "storage"
    (audio_root / "audio").mkdir(parents=True)
    audio = []
    for index, freq in enumerate((220.0, 330.0)):
        relative = f"audio/song-{index}.wav"
        path = write_tone(audio_root / relative, seconds=3.0, freq=freq)
        audio.append({"path": relative, "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    dataset_dir = audio_root / "datasets" / "test"
    files = {}
    for fmt, rows in _rows(audio).items():
        for split, split_rows in (("train", rows), ("eval", rows[:1])):
            name = f"{fmt}/{split}.jsonl"
            files[name] = {
                "sha256": _write_jsonl(dataset_dir / name, split_rows),
                "rows": len(split_rows),
            }
    manifest = {
        "name": "test",
        "snapshot_id": 1,
        "files": files,
        "filters": {},
        "eval_fraction": 0.2,
    }
    (dataset_dir / "manifest.json").write_text(json.dumps(manifest, sort_keys=True))
    return {"dataset_dir": dataset_dir, "audio_root": audio_root}


@pytest.fixture(scope="session")
def tiny_model() -> Path:
    from tests.tiny_models import tiny_model_path

    return tiny_model_path()


@pytest.fixture
def make_job(tmp_path: Path, snapshot: dict[str, Path], tiny_model: Path):
    """``make_job(stage, use_lora=..., output_dir=..., **overrides)``: a smoke-preset TrainingJob."""
    from modeling.training.config import training_config
    from modeling.training.runner import TrainingJob

    def make(
        stage: str, *, use_lora: bool = False, output_dir: Path | None = None, **overrides: Any
    ):
        return TrainingJob(
            base_checkpoint=str(tiny_model),
            base_revision=None,
            dataset_dir=snapshot["dataset_dir"],
            audio_root=snapshot["audio_root"],
            output_dir=output_dir or tmp_path / f"run-{stage}",
            config=training_config(stage, preset="smoke", use_lora=use_lora, overrides=overrides),
            device="cpu",
        )

    return make
