"""Batches that carry the audio into the training forward pass.

TRL's stock collators tokenize the text and drop the audio, so the model trains as a text-only LM
and the audio encoder never runs (the loss still goes down). These collators run the processor on
audio + prompt, so the ``<sound>`` placeholder expands into the audio tokens and ``input_features``
reach the model, then append the completion tokens themselves. Building each sequence from a
prompt part and a completion part makes the label mask exact: only the assistant turn is learned;
the system prompt, the question, the audio tokens and the padding are ``-100``.

Truncation (``max_length``) only ever shortens the completion: cutting inside the audio tokens
crashes the model, and the prompt is short next to the audio.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

IGNORE_INDEX = -100

AudioLoader = Callable[[Mapping[str, Any]], np.ndarray]


def split_conversation(
    processor: Any, prompt: list[dict], completion: list[dict]
) -> tuple[str, str]:
    """Render ``prompt`` (ending with the generation prompt) and the completion text that follows it.

    The completion is the full conversation's text minus the prompt's, so it ends with exactly the
    end-of-turn token the chat template puts after an assistant message.
    """
    prompt_text = processor.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    full_text = processor.apply_chat_template(prompt + completion, tokenize=False)
    if not full_text.startswith(prompt_text):
        raise ValueError("the chat template renders the prompt differently inside the conversation")
    answer = full_text[len(prompt_text) :]
    # Learn up to the end-of-turn token, not the newline the template writes after it: generation
    # stops at that token, so nothing after it is ever produced.
    eos = processor.tokenizer.eos_token
    if eos and eos in answer:
        answer = answer[: answer.rindex(eos) + len(eos)]
    return prompt_text, answer


def sft_prompt_and_completion(
    messages: Sequence[Mapping[str, Any]],
) -> tuple[list[dict], list[dict]]:
    """Everything before the last assistant message, and that message."""
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=None)
    if last is None:
        raise ValueError("an SFT row needs an assistant message")
    return [dict(m) for m in messages[:last]], [dict(messages[last])]


def _text_after_audio(ids: list[int], audio_eos_id: int | None) -> int:
    """How many of ``ids`` follow the last end-of-audio token (all of them without audio)."""
    if audio_eos_id is None or audio_eos_id not in ids:
        return len(ids)
    return len(ids) - 1 - max(i for i, token in enumerate(ids) if token == audio_eos_id)


@dataclass
class _Assembler:
    """Tokenizes prompts with their audio and completions as text, and joins them row by row."""

    processor: Any
    max_length: int | None

    def __post_init__(self) -> None:
        tokenizer = self.processor.tokenizer
        self.pad_id = tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = tokenizer.eos_token_id
        eos = getattr(self.processor, "audio_eos_token", None) or "<|sound_eos|>"
        eos_id = tokenizer.convert_tokens_to_ids(eos)
        self.audio_eos_id = eos_id if eos_id != tokenizer.unk_token_id else None

    def prompts(self, texts: list[str], audio: list[np.ndarray]) -> tuple[list[list[int]], dict]:
        # No padding=True: it would also pad the audio to the longest clip instead of 30 s windows.
        batch = self.processor(text=texts, audio=audio, return_tensors="pt")
        ids = [
            row[mask.bool()].tolist()
            for row, mask in zip(batch["input_ids"], batch["attention_mask"], strict=True)
        ]
        features = {k: batch[k] for k in ("input_features", "input_features_mask") if k in batch}
        return ids, features

    def completion(self, prompt_ids: list[int], text: str) -> list[int]:
        ids = self.processor.tokenizer(text, add_special_tokens=False)["input_ids"]
        if self.max_length is not None:
            room = max(1, self.max_length - _text_after_audio(prompt_ids, self.audio_eos_id))
            ids = ids[:room]
        return list(ids)

    def pad(self, rows: list[tuple[list[int], list[int]]]) -> dict[str, Any]:
        """Right-padded ``input_ids``/``attention_mask`` and the completion mask for ``rows``."""
        import torch

        width = max(len(p) + len(c) for p, c in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        completion = torch.zeros((len(rows), width), dtype=torch.long)
        for i, (prompt, answer) in enumerate(rows):
            n, m = len(prompt), len(answer)
            input_ids[i, : n + m] = torch.tensor(prompt + answer, dtype=torch.long)
            attention[i, : n + m] = 1
            completion[i, n : n + m] = 1
        return {"input_ids": input_ids, "attention_mask": attention, "completion_mask": completion}


@dataclass
class SFTCollator:
    """Rows with ``messages`` (user turn with an audio part, then the assistant turn) and ``audio``.

    Returns ``input_ids``, ``attention_mask``, ``labels`` (assistant turn only) and the audio
    features, ready for ``model(**batch)``.
    """

    processor: Any
    audio_loader: AudioLoader
    max_length: int | None = None

    def __call__(self, rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        assembler = _Assembler(self.processor, self.max_length)
        prompts, completions = [], []
        for row in rows:
            prompt, completion = sft_prompt_and_completion(row["messages"])
            prompt_text, completion_text = split_conversation(self.processor, prompt, completion)
            prompts.append(prompt_text)
            completions.append(completion_text)
        prompt_ids, features = assembler.prompts(prompts, [self.audio_loader(r) for r in rows])
        joined = [
            (ids, assembler.completion(ids, text))
            for ids, text in zip(prompt_ids, completions, strict=True)
        ]
        batch = assembler.pad(joined)
        completion_mask = batch.pop("completion_mask")
        batch["labels"] = batch["input_ids"].masked_fill(completion_mask == 0, IGNORE_INDEX)
        return {**batch, **features}


@dataclass
class DPOCollator:
    """Rows with ``prompt`` (the user turn), ``chosen`` and ``rejected`` (assistant turns), ``audio``.

    Returns the layout TRL's ``DPOTrainer`` expects from its vision collator: the chosen sequences
    then the rejected ones (2 × batch rows), a ``completion_mask``, and the audio features twice.
    """

    processor: Any
    audio_loader: AudioLoader
    max_length: int | None = None

    def __call__(self, rows: list[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        assembler = _Assembler(self.processor, self.max_length)
        prompts, chosen, rejected = [], [], []
        for row in rows:
            prompt = [dict(m) for m in row["prompt"]]
            prompt_text, chosen_text = split_conversation(
                self.processor, prompt, list(row["chosen"])
            )
            _, rejected_text = split_conversation(self.processor, prompt, list(row["rejected"]))
            prompts.append(prompt_text)
            chosen.append(chosen_text)
            rejected.append(rejected_text)
        prompt_ids, features = assembler.prompts(prompts, [self.audio_loader(r) for r in rows])
        # Both halves share each row's prompt and audio: the processor (the audio's feature
        # extraction, the costly part) runs once and its output serves the chosen and rejected rows.
        joined = [
            (ids, assembler.completion(ids, text))
            for ids, text in zip(prompt_ids * 2, chosen + rejected, strict=True)
        ]
        features = {key: torch.cat([value, value]) for key, value in features.items()}
        return {**assembler.pad(joined), **features}
