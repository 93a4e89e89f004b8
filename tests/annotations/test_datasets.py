"""Dataset snapshots: rows, files, splits and immutability (annotations.services.datasets)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from django.conf import settings

from annotations.models import DatasetExample, DatasetSnapshot
from tests.snapshots import build_test_snapshot

pytestmark = pytest.mark.django_db

FORMATS = ("sft", "grpo", "dpo")
SPLITS = ("train", "eval")


def _folder(snapshot: DatasetSnapshot) -> Path:
    return Path(settings.MEDIA_ROOT) / snapshot.storage_path


def _rows(snapshot: DatasetSnapshot, fmt: str, split: str) -> list[dict]:
    text = (_folder(snapshot) / fmt / f"{split}.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def test_every_format_loads_with_datasets_in_both_splits(tmp_path: Path, monkeypatch) -> None:
    from datasets import load_dataset

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))
    snapshot = build_test_snapshot(tmp_path=tmp_path)
    columns = {
        "sft": {"messages"},
        "grpo": {"prompt", "answer", "options", "metadata", "analysis"},
        "dpo": {"prompt", "chosen", "rejected"},
    }
    for fmt in FORMATS:
        for split in SPLITS:
            path = _folder(snapshot) / fmt / f"{split}.jsonl"
            dataset = load_dataset(
                "json", data_files=str(path), split="train", cache_dir=str(tmp_path / "hf-cache")
            )
            assert len(dataset) == snapshot.row_counts[fmt][split] > 0
            assert columns[fmt] | {"id", "song_id", "audio", "genre", "culture", "source"} == set(
                dataset.column_names
            )
