"""The data model's own guarantees: constraints the database enforces whatever code writes it."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from annotations.generations.models import ModelVersion, PromptTemplate
from annotations.generations.services.prompts import prompt_full_text
from annotations.reviews.models import Flag, Review
from tests import factories


def test_a_flag_span_must_not_be_empty(db) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.FlagFactory(start_char=10, end_char=10)


def test_a_flag_audio_range_must_be_ordered(db) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.FlagFactory(audio_start_seconds=30.0, audio_end_seconds=12.0)


def test_a_flag_audio_end_needs_a_start(db) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.FlagFactory(audio_start_seconds=None, audio_end_seconds=12.0)


def test_a_flag_may_point_at_a_second_range_of_audio(db) -> None:
    flag = factories.FlagFactory(audio_start_seconds=12.0, audio_end_seconds=14.5)
    assert Flag.objects.get(pk=flag.pk).audio_end_seconds == 14.5


def test_only_one_version_per_variant_serves(db) -> None:
    factories.ModelVersionFactory(status=ModelVersion.Status.SERVING)
    factories.ModelVersionFactory(
        status=ModelVersion.Status.SERVING, variant=ModelVersion.Variant.THINK
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ModelVersionFactory(status=ModelVersion.Status.SERVING)


def test_an_expert_reviews_a_generation_once(db) -> None:
    review = factories.ReviewFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ReviewFactory(generation=review.generation, expert=review.expert)


def test_a_submitted_review_records_when(db) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.ReviewFactory(status=Review.Status.SUBMITTED, submitted_at=None)


def test_audio_files_are_unique_by_content_hash(db) -> None:
    first = factories.AudioFileFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.AudioFileFactory(sha256=first.sha256)


def test_a_prompt_name_and_version_identify_one_text(db) -> None:
    factories.PromptTemplateFactory(name="caption", version=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        factories.PromptTemplateFactory(name="caption", version=1)


def test_a_thinking_prompt_carries_the_papers_instruction() -> None:
    prompt = PromptTemplate(name="x", text="Describe this track. ", thinking=True)
    assert prompt_full_text(prompt) == (
        "Describe this track. Output the thinking process in <think> </think> and final answer "
        "in <answer> </answer>."
    )


def test_lineage_reaches_the_dataset_snapshot_through_the_training_run(db, admin_user) -> None:
    from annotations.datasets.models import DatasetSnapshot
    from annotations.training.models import TrainingRun

    base = factories.ModelVersionFactory(name="base")
    snapshot = DatasetSnapshot.objects.create(name="snap-1", created_by=admin_user)
    run = TrainingRun.objects.create(
        stage=TrainingRun.Stage.SFT, base_version=base, dataset_snapshot=snapshot
    )
    child = factories.ModelVersionFactory(name="child", parent=base, training_run=run)
    assert child.training_run.dataset_snapshot == snapshot
    assert list(base.children.all()) == [child]
