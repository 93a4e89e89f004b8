"""Demo retraining: the experts' submitted feedback frozen into a snapshot, a finished SFT run of the
tiny model (its loss and learning-rate history on the run page), the version it produced with its
evaluation beside its parent's, and a GRPO run left queued for the demo's worker to train live.

Everything goes through the services the pages use. The SFT run and the evaluations run in this
process so the pages have something to show at first sight; the GRPO run is the worker's.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from annotations.datasets.models import DatasetSnapshot
from annotations.datasets.services import snapshot_build, snapshot_create
from annotations.demo.generations import SAMPLE_MODEL_NAME, TINY_MODEL_NAME, record_hand_written
from annotations.demo.rewards import PAD_TRUTH, submit_demo_review
from annotations.generations.models import Generation, GenerationGroup, ModelVersion, PromptTemplate
from annotations.rewards.models import RewardProfile
from annotations.songs.models import Song
from annotations.training.models import TrainingRun
from annotations.training.services.creation import training_run_create
from annotations.training.services.evaluations import evaluation_run, evaluation_schedule
from annotations.training.services.execution import training_run_execute

SNAPSHOT_NAME = "demo-feedback-v1"
PLAIN_CAPTION = (
    "A calm electronic piece in D major at 84 BPM: a soft synth pad over an electric bass, "
    "with a fingerpicked acoustic guitar from 0:04."
)
CORRECTED_CAPTION = (
    "A calm ambient electronic piece in D major at 84 BPM in 4/4: a soft synth pad over an electric "
    "bass, with no drums and no guitar."
)


def seed_demo_training(*, stdout: Any = None) -> None:
    """Idempotent: a second seed finds the snapshot and runs and adds nothing."""

    def say(message: str) -> None:
        if stdout is not None:
            stdout.write(message)

    _corrected_caption_review()
    admin = get_user_model().objects.get(username="ada")
    base = ModelVersion.objects.get(name=TINY_MODEL_NAME)
    snapshot = DatasetSnapshot.objects.filter(name=SNAPSHOT_NAME).first()
    if snapshot is None:
        snapshot = snapshot_create(
            name=SNAPSHOT_NAME,
            filters={},
            eval_fraction=0.5,
            split_seed=0,
            actor=admin,
            description="Every submitted review of the demo (Noor's and Tomás's).",
            enqueue=False,
        )
        snapshot = snapshot_build(snapshot_id=snapshot.pk)
        say(f"Built dataset snapshot {snapshot.name}: {snapshot.status} {snapshot.row_counts}")
    if snapshot.status != DatasetSnapshot.Status.FROZEN:
        say(f"The demo snapshot did not freeze: {snapshot.error}")
        return

    if not TrainingRun.objects.filter(dataset_snapshot=snapshot, stage="sft").exists():
        run = training_run_create(
            stage="sft",
            base_version=base,
            snapshot=snapshot,
            preset="smoke",
            use_lora=True,
            overrides={"max_steps": 4, "learning_rate": 1e-3},
            actor=admin,
            enqueue=False,
        )
        run = training_run_execute(run_id=run.pk) or run
        say(f"Trained {run}: {run.status}{' — ' + run.error if run.error else ''}")
        version = ModelVersion.objects.filter(training_run=run).first()
        if version is not None:
            # The run scheduled them for the worker; run them here so the page has figures at once
            # (the worker then finds them done). Demo outputs are short: see settings.
            for evaluation in evaluation_schedule(model_version=version, snapshot=snapshot):
                done = evaluation_run(evaluation_id=evaluation.pk)
                say(f"Evaluated {evaluation.model_version}: {done.status if done else 'gone'}")

    profile = RewardProfile.objects.filter(name="paper", is_active=True).first()
    if profile and not TrainingRun.objects.filter(dataset_snapshot=snapshot, stage="grpo").exists():
        run = training_run_create(
            stage="grpo",
            base_version=base,
            snapshot=snapshot,
            reward_profile=profile,
            preset="smoke",
            use_lora=True,
            overrides={"max_steps": 6},
            actor=admin,
        )
        say(f"Queued {run} for the demo's worker (watch it on the Training page)")


def _corrected_caption_review() -> None:
    """Tomás corrects a plain (no reasoning) caption of the pad: the snapshot's SFT example."""
    tomas = get_user_model().objects.filter(username="tomas").first()
    prompt = PromptTemplate.objects.filter(name="caption", version=1).first()
    pad = Song.objects.filter(title="Demo pad in D major (no drums)").first()
    sample = ModelVersion.objects.filter(name=SAMPLE_MODEL_NAME).first()
    if tomas is None or prompt is None or pad is None or sample is None:
        return
    if Generation.objects.filter(song=pad, prompt=prompt, model_version=sample).exists():
        return
    group = GenerationGroup.objects.create(song=pad, model_version=sample, prompt=prompt, size=1)
    generation = record_hand_written(group=group, sibling_index=0, raw_text=PLAIN_CAPTION)
    submit_demo_review(
        tomas,
        generation,
        truth=PAD_TRUTH,
        flags=[("acoustic guitar", "instrument-not-present", "major", "")],
        grades={},
        verdict="accept_with_fixes",
        corrected_caption=CORRECTED_CAPTION,
    )
