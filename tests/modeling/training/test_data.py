from __future__ import annotations

from pathlib import Path

import pytest

from modeling.training.data import is_reasoning_row, load_audio, load_rows


def test_rows_load_per_format_and_split_with_their_columns(snapshot: dict[str, Path]) -> None:
    sft = load_rows(snapshot["dataset_dir"], "sft", "train")
    assert len(sft) == 3
    assert {"id", "song_id", "audio", "messages", "source", "genre", "culture"} <= set(
        sft.column_names
    )
    assert len(load_rows(snapshot["dataset_dir"], "dpo", "eval")) == 1
    grpo = load_rows(snapshot["dataset_dir"], "grpo", "train")
    assert {"prompt", "answer", "options", "metadata", "analysis"} <= set(grpo.column_names)


def test_an_empty_split_is_an_empty_dataset(snapshot: dict[str, Path], tmp_path: Path) -> None:
    (tmp_path / "dpo").mkdir()
    (tmp_path / "dpo" / "train.jsonl").write_text("")
    assert len(load_rows(tmp_path, "dpo", "train")) == 0


def test_a_folder_that_is_not_a_snapshot_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="a dataset snapshot"):
        load_rows(tmp_path, "sft", "train")
    with pytest.raises(ValueError, match="unknown dataset format 'kto'"):
        load_rows(tmp_path, "kto", "train")


def test_cot_rows_are_the_ones_that_think(snapshot: dict[str, Path]) -> None:
    rows = list(load_rows(snapshot["dataset_dir"], "sft", "train"))
    assert [is_reasoning_row(row) for row in rows] == [False, True, True]


def test_audio_is_read_relative_to_the_storage_root_at_16_khz_and_cut(
    snapshot: dict[str, Path],
) -> None:
    row = next(iter(load_rows(snapshot["dataset_dir"], "sft", "train")))
    full = load_audio(row["audio"], snapshot["audio_root"], 1200)
    cut = load_audio(row["audio"], snapshot["audio_root"], 1.5)
    assert len(full) == 3 * 16_000  # the 3 s, 44.1 kHz tone, resampled
    assert len(cut) == 24_000
    assert full.dtype.name == "float32"
