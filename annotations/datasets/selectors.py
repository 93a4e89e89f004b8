"""Reads for the dataset pages: the list, and a snapshot's page (counts, balance, a sample of each
format's rows and the manifest, read from its files)."""

from __future__ import annotations

import json
from itertools import islice
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import QuerySet

from annotations.datasets.models import FORMATS, MANIFEST, SPLITS, DatasetSnapshot
from annotations.generations.models import ModelVersion

SAMPLE_ROWS = 3
BALANCE_AXES = ("genre", "culture", "source")


def snapshot_list() -> QuerySet[DatasetSnapshot]:
    return DatasetSnapshot.objects.select_related("created_by").order_by("-created_at", "-pk")


def _balance(stats: dict[str, Any]) -> list[dict[str, Any]]:
    """Per axis: one row per value with its count in each (format, split)."""
    balance = stats.get("balance") or {}
    tables = []
    for axis in BALANCE_AXES:

        def counts(split: str, fmt: str, axis: str = axis) -> dict[str, int]:
            return ((balance.get(split) or {}).get(fmt) or {}).get(axis) or {}

        values = sorted(
            {value for split in SPLITS for fmt in FORMATS for value in counts(split, fmt)}
        )
        rows = [
            {
                "value": value,
                "counts": [counts(split, fmt).get(value, 0) for fmt in FORMATS for split in SPLITS],
            }
            for value in values
        ]
        tables.append({"axis": axis, "rows": rows})
    return tables


def _text_of(messages: list[dict[str, Any]]) -> str:
    return "\n".join(
        part.get("text", "")
        for message in messages or []
        for part in message.get("content") or []
        if part.get("type") == "text"
    )


def _sample(folder: Path, fmt: str) -> list[dict[str, Any]]:
    """The first rows of each split's file, as the page shows them (text only; the template
    escapes it)."""
    sample = []
    for split in SPLITS:
        path = folder / fmt / f"{split}.jsonl"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as lines:
            for line in islice(lines, SAMPLE_ROWS):
                row = json.loads(line)
                shown: dict[str, Any] = {
                    "id": row["id"],
                    "split": split,
                    "source": row.get("source", ""),
                    "genre": row.get("genre", ""),
                    "culture": row.get("culture", ""),
                    "audio": (row.get("audio") or {}).get("path", ""),
                }
                if fmt == "sft":
                    messages = row.get("messages") or []
                    shown["prompt"] = _text_of(messages[:1])
                    shown["target"] = _text_of(messages[1:])
                elif fmt == "grpo":
                    shown["prompt"] = _text_of(row.get("prompt") or [])
                    shown["answer"] = row.get("answer")
                    shown["options"] = row.get("options")
                    shown["metadata"] = json.dumps(row.get("metadata") or {}, ensure_ascii=False)
                else:
                    shown["prompt"] = _text_of(row.get("prompt") or [])
                    shown["chosen"] = _text_of(row.get("chosen") or [])
                    shown["rejected"] = _text_of(row.get("rejected") or [])
                sample.append(shown)
    return sample


def snapshot_page(snapshot: DatasetSnapshot) -> dict[str, Any]:
    """What the snapshot page shows. Files are read only for a frozen snapshot."""
    versions = (snapshot.filters or {}).get("model_versions") or []
    context: dict[str, Any] = {
        "snapshot": snapshot,
        # Lazy: only the full page's header reads it, not the partial a building page polls.
        "model_versions": ModelVersion.objects.filter(pk__in=versions)
        .order_by("name")
        .values_list("name", flat=True),
        "building": snapshot.status == DatasetSnapshot.Status.BUILDING,
        "formats": FORMATS,
        "splits": SPLITS,
        "filters": snapshot.filters or {},
    }
    if snapshot.status != DatasetSnapshot.Status.FROZEN:
        return context
    counts = snapshot.row_counts or {}
    context["counts"] = [
        {
            "format": fmt,
            "cells": [(counts.get(fmt) or {}).get(split, 0) for split in SPLITS],
            "total": sum((counts.get(fmt) or {}).values()),
        }
        for fmt in FORMATS
    ]
    context["songs"] = (snapshot.stats or {}).get("songs") or {}
    context["balance"] = _balance(snapshot.stats or {})
    agreeing = (snapshot.stats or {}).get("agreeing_experts") or {}
    context["agreeing"] = [
        (fmt, sorted((agreeing.get(fmt) or {}).items(), key=lambda kv: int(kv[0])))
        for fmt in FORMATS
    ]
    folder = Path(settings.MEDIA_ROOT) / snapshot.storage_path
    manifest_path = folder / MANIFEST
    context["manifest"] = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.is_file() else None
    )
    context["samples"] = {fmt: _sample(folder, fmt) for fmt in FORMATS}
    return context
