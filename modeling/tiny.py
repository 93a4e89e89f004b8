"""A tiny random Music Flamingo that runs every code path on a CPU in seconds.

Same classes as the real checkpoints (``MusicFlamingoForConditionalGeneration`` + its processor),
so the loader, the batching, the worker and the pages are exercised for real; only the sizes are
small and the weights random, so it writes gibberish. Nothing is downloaded: the tokenizer is trained
here with the ``tokenizers`` library on a few lines of caption-like text.

``size="large"`` builds a ~0.6 B-parameter random model of the same shape for GPU benchmarks
(a small vocabulary, so the language-model head is cheaper than the real 151k-token one).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

AUDIO_TOKEN = "<sound>"  # noqa: S105 (a vocabulary token, not a secret)
AUDIO_BOS = "<|sound_bos|>"
AUDIO_EOS = "<|sound_eos|>"
SPECIAL_TOKENS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", AUDIO_TOKEN, AUDIO_BOS, AUDIO_EOS)
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

# Qwen-style chat template: audio parts render as the <sound> placeholder before the text, which the
# processor expands into <|sound_bos|> <sound>×N <|sound_eos|>.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\n" + DEFAULT_SYSTEM_PROMPT + "<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'audio' %}<sound>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}"
    "<|im_end|>\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = (
    "This track is a mid-tempo rock song at 120 BPM in A minor, in 4/4 time.",
    "<think>Step 1: the drums play a steady backbeat. Step 2: the bass outlines A, F, C and G."
    "</think><answer>Instrumentation & Production: drums, electric bass, synth pad.</answer>",
    "Vocals: a warm baritone sings in Portuguese over nylon-string guitar; bossa nova, samba.",
    "Structure & Dynamics: intro (0:00), verse at 0:15, chorus at 1:02, bridge at 2 min 10.",
    "Harmony/Theory: a waltz in G major, 3/4, tonic, subdominant, dominant; tabla and sitar.",
    "Mood & Cultural Context: melancholic, nostalgic, Hindustani classical, raga, tala.",
)


@dataclass(frozen=True)
class TinySize:
    """Layer sizes; the encoder keeps 1,500 positions because one 30 s window is 1,500 frames."""

    vocab_size: int
    text_hidden: int
    text_layers: int
    text_heads: int
    text_kv_heads: int
    text_intermediate: int
    audio_hidden: int
    audio_layers: int
    audio_heads: int
    audio_intermediate: int


SIZES = {
    "tiny": TinySize(384, 32, 2, 4, 2, 64, 16, 1, 2, 32),
    "large": TinySize(32000, 1536, 20, 12, 2, 4096, 1024, 8, 16, 4096),
}


def _train_tokenizer(vocab_size: int) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(_CORPUS) * 4, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        eos_token="<|im_end|>",  # noqa: S106
        pad_token="<|endoftext|>",  # noqa: S106
        additional_special_tokens=[AUDIO_TOKEN, AUDIO_BOS, AUDIO_EOS],
        padding_side="left",
    )


def build_tiny_model(directory: str | Path, *, size: str = "tiny", seed: int = 0) -> Path:
    """Build a random Music Flamingo of ``size`` and save model + processor into ``directory``.

    The result loads with ``MusicFlamingoForConditionalGeneration.from_pretrained(directory)`` and
    ``AutoProcessor.from_pretrained(directory)``, like a real checkpoint. Deterministic for a seed.
    """
    import torch
    from transformers import (
        AudioFlamingo3EncoderConfig,
        MusicFlamingoConfig,
        MusicFlamingoForConditionalGeneration,
        MusicFlamingoProcessor,
        Qwen2Config,
        WhisperFeatureExtractor,
    )

    dims = SIZES[size]
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer = _train_tokenizer(dims.vocab_size)
    token_id = tokenizer.convert_tokens_to_ids
    text_config = Qwen2Config(
        vocab_size=len(tokenizer),
        hidden_size=dims.text_hidden,
        num_hidden_layers=dims.text_layers,
        num_attention_heads=dims.text_heads,
        num_key_value_heads=dims.text_kv_heads,
        intermediate_size=dims.text_intermediate,
        max_position_embeddings=40960,
        tie_word_embeddings=True,
        bos_token_id=token_id("<|endoftext|>"),
        eos_token_id=token_id("<|im_end|>"),
        pad_token_id=token_id("<|endoftext|>"),
    )
    audio_config = AudioFlamingo3EncoderConfig(
        num_mel_bins=128,
        hidden_size=dims.audio_hidden,
        num_hidden_layers=dims.audio_layers,
        num_attention_heads=dims.audio_heads,
        intermediate_size=dims.audio_intermediate,
        max_source_positions=1500,
    )
    config = MusicFlamingoConfig(
        audio_config=audio_config,
        text_config=text_config,
        audio_token_id=token_id(AUDIO_TOKEN),
        audio_bos_token_id=token_id(AUDIO_BOS),
        audio_eos_token_id=token_id(AUDIO_EOS),
    )
    torch.manual_seed(seed)
    model = MusicFlamingoForConditionalGeneration(config)
    model.generation_config.eos_token_id = text_config.eos_token_id
    model.generation_config.pad_token_id = text_config.pad_token_id
    feature_extractor = WhisperFeatureExtractor(
        feature_size=128, sampling_rate=16000, hop_length=160, chunk_length=30, n_fft=400
    )
    processor = MusicFlamingoProcessor(
        feature_extractor=feature_extractor, tokenizer=tokenizer, chat_template=CHAT_TEMPLATE
    )
    if size != "tiny":
        # Half the bytes to write and load; GPUs run it in bfloat16 anyway.
        model.to(torch.bfloat16)  # type: ignore[arg-type]
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory


def parameter_count(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())
