"""The collators put the audio in the batch and learn only the assistant turn."""

from __future__ import annotations

from pathlib import Path

import pytest

from modeling.training.collators import IGNORE_INDEX, DPOCollator, SFTCollator
from modeling.training.data import audio_loader, load_rows


@pytest.fixture(scope="module")
def processor(tiny_model: Path):
    from transformers import AutoProcessor

    return AutoProcessor.from_pretrained(tiny_model)


@pytest.fixture(scope="module")
def loader(snapshot: dict[str, Path]):
    return audio_loader(snapshot["audio_root"], 5.0)


def _assistant_text(row: dict) -> str:
    return row["messages"][-1]["content"][0]["text"]


def _audio_token_count(processor, row: dict, loader) -> int:
    """The audio tokens the processor alone makes for the row's prompt."""
    prompt = processor.apply_chat_template(
        row["messages"][:1], tokenize=False, add_generation_prompt=True
    )
    ids = processor(text=[prompt], audio=[loader(row)], return_tensors="pt")["input_ids"]
    return int((ids == processor.tokenizer.convert_tokens_to_ids("<sound>")).sum())


def test_sft_labels_are_exactly_the_assistant_turn(processor, loader, snapshot) -> None:
    rows = list(load_rows(snapshot["dataset_dir"], "sft", "train"))
    batch = SFTCollator(processor, loader)(rows)
    tokenizer = processor.tokenizer
    for index, row in enumerate(rows):
        labels = batch["labels"][index]
        learned = labels[labels != IGNORE_INDEX].tolist()
        assert tokenizer.decode(learned) == _assistant_text(row) + "<|im_end|>"
        # The learned tokens are the last real tokens of the row, where the labels equal the ids.
        real = batch["attention_mask"][index].bool()
        assert batch["input_ids"][index][real].tolist()[-len(learned) :] == learned


def test_sft_masks_the_prompt_audio_tokens_and_padding(processor, loader, snapshot) -> None:
    rows = list(load_rows(snapshot["dataset_dir"], "sft", "train"))
    batch = SFTCollator(processor, loader)(rows)
    audio_id = processor.tokenizer.convert_tokens_to_ids("<sound>")
    ids, labels, mask = batch["input_ids"], batch["labels"], batch["attention_mask"]
    assert (labels[ids == audio_id] == IGNORE_INDEX).all()
    assert (labels[mask == 0] == IGNORE_INDEX).all()
    prompt_positions = (labels[0] == IGNORE_INDEX) & (mask[0] == 1)
    prompt_text = processor.tokenizer.decode(ids[0][prompt_positions])
    assert "Describe this track." in prompt_text
    assert "You are a helpful assistant." in prompt_text


def test_sft_batches_carry_the_audio_and_all_its_tokens(processor, loader, snapshot) -> None:
    rows = list(load_rows(snapshot["dataset_dir"], "sft", "train"))
    batch = SFTCollator(processor, loader)(rows)
    audio_id = processor.tokenizer.convert_tokens_to_ids("<sound>")
    assert batch["input_features"].shape[0] == len(rows)  # one 30 s window per 3 s clip
    for index, row in enumerate(rows):
        assert int((batch["input_ids"][index] == audio_id).sum()) == _audio_token_count(
            processor, row, loader
        )


def test_max_length_cuts_the_answer_never_the_audio(
    processor, loader, snapshot, tiny_model
) -> None:
    import torch
    from transformers import MusicFlamingoForConditionalGeneration

    rows = list(load_rows(snapshot["dataset_dir"], "sft", "train"))
    full = SFTCollator(processor, loader)(rows)
    cut = SFTCollator(processor, loader, max_length=12)(rows)
    audio_id = processor.tokenizer.convert_tokens_to_ids("<sound>")
    assert int((cut["input_ids"] == audio_id).sum()) == int((full["input_ids"] == audio_id).sum())
    assert (cut["labels"] != IGNORE_INDEX).sum() < (full["labels"] != IGNORE_INDEX).sum()
    assert (
        (cut["labels"] != IGNORE_INDEX).sum(dim=1) >= 1
    ).all()  # every row still learns something
    model = MusicFlamingoForConditionalGeneration.from_pretrained(tiny_model)
    with torch.no_grad():
        assert torch.isfinite(model(**cut).loss)


def test_dpo_batches_pair_each_prompt_and_audio_with_both_answers(
    processor, loader, snapshot
) -> None:
    rows = list(load_rows(snapshot["dataset_dir"], "dpo", "train"))
    batch = DPOCollator(processor, loader)(rows)
    n = len(rows)
    assert batch["input_ids"].shape[0] == 2 * n
    assert batch["input_features"].shape[0] == 2 * n
    tokenizer = processor.tokenizer
    for index, row in enumerate(rows):
        for offset, key in ((0, "chosen"), (n, "rejected")):
            ids = batch["input_ids"][index + offset]
            completion = ids[batch["completion_mask"][index + offset].bool()].tolist()
            assert tokenizer.decode(completion) == row[key][0]["content"][0]["text"] + "<|im_end|>"
    audio_id = tokenizer.convert_tokens_to_ids("<sound>")
    assert (batch["completion_mask"][batch["input_ids"] == audio_id] == 0).all()
