"""Rewards stored from reviews: what each row holds, idempotent recomputes, set-based batches."""

from __future__ import annotations

from collections.abc import Sequence
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotations.core.errors import ValidationFailed
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import Generation, GenerationGroup
from annotations.reviews import rules as review_rules
from annotations.reviews import services as review_services
from annotations.reviews.models import Review
from annotations.rewards.models import CompositeReward, RewardProfile, RewardValue
from annotations.rewards.services.rewards import (
    composites_recompute,
    reward_functions,
    rewards_recompute,
)
from annotations.training.models import TrainingRun
from tests import factories
from tests.helpers import complete_review_form

pytestmark = pytest.mark.django_db

OTHER_SIBLING = (
    "<think>Step 1: A slow pulse near 70 BPM.\nStep 2: Guitar and flute over tabla.</think>\n"
    "<answer>A folk ballad in G major at 70 BPM in 3/4, with guitar, flute and tabla.</answer>"
)


def _siblings(size: int = 2) -> list[Generation]:
    group = GenerationGroup.objects.create(
        song=factories.SongFactory(),
        model_version=factories.ModelVersionFactory(),
        prompt=factories.PromptTemplateFactory(),
        size=size,
    )
    texts = [factories.SAMPLE_OUTPUT, OTHER_SIBLING] + [factories.SAMPLE_OUTPUT] * (size - 2)
    return [
        factories.generation_with_output(
            raw_text=texts[index],
            group=group,
            sibling_index=index,
            song=group.song,
            model_version=group.model_version,
            prompt=group.prompt,
        )
        for index in range(size)
    ]


def _submit(
    generation: Generation,
    *,
    flags: Sequence[dict[str, Any]] = (),
    **overrides: str,
) -> Review:
    """Claim, fill in and submit a review through the service layer, as the page does."""
    expert = factories.expert()
    review = review_services.review_claim(expert=expert, generation=generation)
    for flag in flags:
        _, review = review_services.flag_save(
            review=review, expert=expert, data=flag, version=review.version
        )
    if flags:  # "accept" with major flags is refused
        overrides.setdefault("verdict", "reject")
    form = complete_review_form(review, **overrides)
    siblings = review_rules.sibling_ids(generation)
    for rank, sibling in enumerate(siblings, 1):
        form.setdefault(f"rank_{sibling}", str(rank))
    review = review_services.review_save_draft(
        review=review, expert=expert, data=form, version=review.version
    )
    return review_services.review_submit(review=review, expert=expert, version=review.version)


def _flag(generation: Generation, word: str, severity: str = "major") -> dict[str, Any]:
    start = generation.answer_text.index(word)
    return {
        "target": "caption",
        "start": start,
        "end": start + len(word),
        "category": "instrument-not-present",
        "severity": severity,
    }


def _rows(generation: Generation) -> dict[str, RewardValue]:
    return {row.function: row for row in RewardValue.objects.filter(generation=generation)}


def test_every_applicable_function_gets_a_row_with_its_why_and_provenance() -> None:
    first, second = _siblings()
    review = _submit(
        first,
        flags=[_flag(first, "Sitar", "critical")],
        step_1="correct",
        step_2="incorrect",
        step_3="correct",
        step_4="unverifiable",
        verdict="reject",
    )
    rewards_recompute(generation_ids=[first.pk, second.pk])

    rows = _rows(first)
    assert set(rows) == {
        "format",
        "structured_thinking",
        "hallucination_penalty",
        "step_validity",
        "preference",
    }, "a caption row has no accuracy; the rest all apply"
    assert rows["format"].value == 1.0
    # Two of three verifiable steps correct ("cannot verify" is left out).
    assert rows["step_validity"].value == pytest.approx(2 / 3)
    assert rows["step_validity"].provenance == {"reviews": [[review.pk, review.version]]}
    # The critical flag costs it, and the row says which flag.
    assert rows["hallucination_penalty"].value < 0
    [costly] = rows["hallucination_penalty"].details["flags"]
    assert costly["review"] == review.pk and costly["severity"] == "critical"
    assert costly["quoted_text"] == "Sitar"
    # Ground truth is what the expert verified: D minor, 92 BPM, 4/4, sitar and tabla...
    thinking = rows["structured_thinking"]
    assert "Key" in thinking.details["matched"] and "BPM" in thinking.details["matched"]
    assert thinking.provenance["metadata"]["key"]["status"] == "single"
    assert thinking.provenance["metadata"]["key"]["value"] == "D minor"
    assert thinking.provenance["reviews"] == [[review.pk, review.version]]
    # ...against which the folk sibling (G major, 70 BPM, 3/4) scores lower.
    assert _rows(second)["structured_thinking"].value < thinking.value
    # Ranked first of two by the only ranking, it is preferred to its sibling.
    assert rows["preference"].value > _rows(second)["preference"].value
    assert {row.function_version for row in rows.values()} == {
        spec.version for spec in reward_functions() if spec.name in rows
    }
    assert all(row.model_version_id == first.model_version_id for row in rows.values())


def test_submitting_a_review_recomputes_once_and_a_repeat_changes_nothing(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """The submit hook schedules the recompute after commit; running it again writes nothing."""
    from workers.rewards import recompute_rewards

    first, second = _siblings()
    with django_capture_on_commit_callbacks() as callbacks:
        review = _submit(first, flags=[_flag(first, "Sitar")])
    from annotations.rewards.services import rewards

    scheduled = [c for c in callbacks if getattr(c, "func", None) is rewards._enqueue]
    assert [sorted(c.args[0]) for c in scheduled] == [sorted([first.pk, second.pk])], (
        "submitting a review schedules one recompute of its song's outputs after commit"
    )
    # The task, run in-process (a real worker runs it in tests/workers/test_reward_worker.py).
    result = recompute_rewards.run([first.pk, second.pk])
    assert result["written"] == len(RewardValue.objects.filter(generation__in=[first, second]))
    before = {
        (r.generation_id, r.function): (r.pk, r.computed_at, r.inputs_hash)
        for r in RewardValue.objects.all()
    }

    # The same submission again is refused and changes nothing...
    with pytest.raises(ValidationFailed, match="can no longer be changed"):
        review_services.review_submit(review=review, expert=review.expert, version=review.version)
    # ...and the recompute it would trigger (or a redelivered task) rewrites no row.
    again = recompute_rewards.run([first.pk, second.pk])
    assert again["written"] == 0 and again["deleted"] == 0
    assert again["unchanged"] == len(before)
    after = {
        (r.generation_id, r.function): (r.pk, r.computed_at, r.inputs_hash)
        for r in RewardValue.objects.all()
    }
    assert after == before


def test_experts_who_disagree_leave_the_field_out_and_the_row_says_so() -> None:
    first, second = _siblings()
    _submit(first, meta_key="D minor")
    _submit(second, meta_key="G major")
    rewards_recompute(generation_ids=[first.pk, second.pk])

    thinking = _rows(first)["structured_thinking"]
    key = thinking.provenance["metadata"]["key"]
    assert key["status"] == "no_agreement" and key["value"] is None
    assert len(key["supporters"]) + len(key["dissenters"]) == 2
    assert "Key" not in {c["name"] for c in thinking.details["categories"]}
    # Fields they agree on still count, and say they were unanimous.
    assert thinking.provenance["metadata"]["tempo_bpm"]["status"] == "unanimous"
    assert "BPM" in thinking.details["matched"]


def test_a_question_prompt_is_scored_for_accuracy_against_the_agreed_answer() -> None:
    prompt = factories.PromptTemplateFactory(
        text="Which instrument carries the melody? Answer with the letter.",
        answer_field="culture",
        answer_options=["Carnatic", "Hindustani", "Flamenco"],
    )
    song = factories.SongFactory()
    caption = factories.generation_with_output(song=song)
    right = factories.generation_with_output(
        raw_text="<think>Sitar and tabla: North Indian.</think><answer>B</answer>",
        song=song,
        prompt=prompt,
    )
    wrong = factories.generation_with_output(
        raw_text="<think>Sitar.</think><answer>(A) Carnatic</answer>", song=song, prompt=prompt
    )
    _submit(caption)  # verifies culture = Hindustani
    rewards_recompute(generation_ids=[caption.pk, right.pk, wrong.pk])

    assert _rows(right)["accuracy"].value == 1.0
    assert _rows(wrong)["accuracy"].value == 0.0
    assert _rows(right)["accuracy"].provenance["metadata"]["culture"]["value"] == "Hindustani"
    assert "structured_thinking" not in _rows(right), "question rows use format + accuracy"
    assert "accuracy" not in _rows(caption)


def test_composites_are_each_active_profiles_weighted_sum_of_what_applies() -> None:
    first, second = _siblings()
    _submit(first, flags=[_flag(first, "Sitar")])
    rewards_recompute(generation_ids=[first.pk, second.pk])

    rows = _rows(first)
    for profile in RewardProfile.objects.filter(is_active=True):
        expected = sum(
            weight * rows[name].value for name, weight in profile.weights.items() if name in rows
        )
        stored = CompositeReward.objects.get(generation=first, profile=profile)
        assert stored.value == pytest.approx(expected)
        assert stored.model_version_id == first.model_version_id

    paper = RewardProfile.objects.get(name="paper", version=1)
    paper.weights = {"format": 2.0}
    paper.save()
    assert composites_recompute(profile=paper) >= 1
    assert CompositeReward.objects.get(generation=first, profile=paper).value == 2.0
    assert composites_recompute(profile=paper) == 0, "an unchanged profile rewrites nothing"


def test_a_function_that_no_longer_applies_loses_its_row() -> None:
    first, second = _siblings()
    review = _submit(first)
    rewards_recompute(generation_ids=[first.pk, second.pk])
    assert "step_validity" in _rows(first)

    review.delete()  # e.g. an admin removed a bogus review
    stats = rewards_recompute(generation_ids=[first.pk, second.pk])
    assert stats.deleted > 0
    assert set(_rows(first)) == {"format"}


def test_a_batch_costs_the_same_queries_for_three_or_thirty_generations() -> None:
    """Set-based: the number of queries depends on the batch count, not the rows."""
    small = [g for _ in range(3) for g in _siblings(1)]
    large = [g for _ in range(30) for g in _siblings(1)]
    for generations in (small, large):
        for generation in generations[:3]:
            _submit(generation, flags=[_flag(generation, "Sitar")])

    counts = []
    for generations in (small, large):
        with CaptureQueriesContext(connection) as queries:
            rewards_recompute(generation_ids=[g.pk for g in generations])
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert counts[0] <= 20


def test_the_command_recomputes_everything_and_reports_a_second_run_as_unchanged() -> None:
    first, _second = _siblings()
    _submit(first)
    out = StringIO()
    call_command("recompute_rewards", "--no-progress", stdout=out)
    assert "2 generation(s)" in out.getvalue()
    total = RewardValue.objects.count()
    assert total > 0

    out = StringIO()
    call_command("recompute_rewards", "--no-progress", "--batch-size", "1", stdout=out)
    assert f"0 reward row(s) written, {total:,} unchanged" in out.getvalue()


def test_a_profile_used_by_a_training_run_is_protected() -> None:
    from django.db.models import ProtectedError

    profile = RewardProfile.objects.get(name="paper", version=1)
    run = TrainingRun.objects.create(
        stage=TrainingRun.Stage.GRPO,
        base_version=factories.ModelVersionFactory(),
        dataset_snapshot=DatasetSnapshot.objects.create(name="snapshot for a run"),
        reward_profile=profile,
    )
    with pytest.raises(ProtectedError):
        profile.delete()
    assert run.reward_profile == profile


@pytest.mark.django_db(transaction=True)
def test_two_processes_store_exactly_what_one_does() -> None:
    """The bulk command's --processes: spawned workers on committed data, same rows."""
    groups = [_siblings() for _ in range(4)]
    for first, _second in groups:
        _submit(first, flags=[_flag(first, "Sitar")])
    ids = [g.pk for group in groups for g in group]

    rewards_recompute(generation_ids=ids, batch_size=3)
    one = {(r.generation_id, r.function): r.inputs_hash for r in RewardValue.objects.all()}
    RewardValue.objects.all().delete()
    CompositeReward.objects.all().delete()

    stats = rewards_recompute(batch_size=3, processes=2)
    two = {(r.generation_id, r.function): r.inputs_hash for r in RewardValue.objects.all()}
    assert stats.generations == len(ids) and stats.written == len(one)
    assert two == one
    assert CompositeReward.objects.count() == 2 * len(ids)  # two active profiles
