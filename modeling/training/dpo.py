"""The DPO trainer: TRL's ``DPOTrainer`` on preference pairs, with the audio collator.

``DPOTrainer`` tokenizes text-only datasets up front (dropping the audio) but skips that for
"vision" datasets, whose rows it leaves to the collator. An empty ``images`` column marks ours as
one; ``DPOCollator`` then runs the processor on audio + prompt for both completions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from modeling.training.collators import AudioLoader, DPOCollator
from modeling.training.config import TrainingConfig, common_training_args


def build_dpo_trainer(
    *,
    model: Any,
    processor: Any,
    train_dataset: Any,
    config: TrainingConfig,
    output_dir: Path,
    callbacks: list,
    audio_loader: AudioLoader,
) -> Any:
    """A ``DPOTrainer`` for the dpo rows; ``model`` is already peft-wrapped when
    ``config.use_lora`` (the reference is then the model with its adapter disabled), else a frozen
    copy of the starting weights is the reference."""
    from trl import DPOConfig, DPOTrainer

    if "images" not in train_dataset.column_names:
        train_dataset = train_dataset.add_column("images", [[] for _ in range(len(train_dataset))])
    args = DPOConfig(
        **common_training_args(config, output_dir),
        beta=config.dpo_beta,
        max_length=None,  # the collator truncates, and never inside the audio tokens
    )
    return DPOTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        processing_class=processor,
        data_collator=DPOCollator(processor, audio_loader, config.max_length),
        callbacks=callbacks,
    )
