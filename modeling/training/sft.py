"""The SFT (and chain-of-thought warm-up) trainer: TRL's ``SFTTrainer`` with the audio collator.

Stock ``SFTTrainer`` trains this model as a text-only LM: its dataset preparation tokenizes the
conversation and its collator drops the audio, so the audio encoder never runs. Here the dataset
preparation is skipped, unused columns are kept (the collator needs ``messages`` and ``audio``)
and ``SFTCollator`` builds each batch from audio + conversation with assistant-only labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modeling.training.collators import AudioLoader, SFTCollator
from modeling.training.config import TrainingConfig, common_training_args


def build_sft_trainer(
    *,
    model: Any,
    processor: Any,
    train_dataset: Any,
    config: TrainingConfig,
    output_dir: Path,
    callbacks: list,
    audio_loader: AudioLoader,
) -> Any:
    """An ``SFTTrainer`` for ``config.stage`` in ("sft", "cot"); ``model`` is already peft-wrapped
    when ``config.use_lora``. Checkpoints go to ``output_dir``."""
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **common_training_args(config, output_dir),
        dataset_kwargs={"skip_prepare_dataset": True},
        max_length=None,  # the collator truncates, and never inside the audio tokens
        packing=False,
    )
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=processor,
        data_collator=SFTCollator(processor, audio_loader, config.max_length),
        callbacks=callbacks,
    )
