"""Submitting a review recomputes its song's rewards on a real Celery worker, once."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from annotations.reviews import services as review_services
from annotations.rewards.models import RewardValue
from tests import factories
from tests.helpers import complete_review_form
from tests.processes import celery_worker
from workbench.celery import app

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for_rows(generation_id: int, worker, timeout: float = 90) -> list[RewardValue]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and worker.poll() is None:
        rows = list(RewardValue.objects.filter(generation_id=generation_id))
        if any(row.function == "step_validity" for row in rows):
            return rows
        time.sleep(0.25)
    pytest.fail("the worker never wrote the review's rewards")


def test_a_submitted_review_updates_the_reward_rows_once_and_a_redelivery_changes_nothing(
    tmp_path: Path, settings
) -> None:
    generation = factories.generation_with_output()
    expert = factories.expert()
    review = review_services.review_claim(expert=expert, generation=generation)
    review = review_services.review_save_draft(
        review=review, expert=expert, data=complete_review_form(review), version=review.version
    )
    app.control.purge()
    with celery_worker(
        queues="audio", media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "data", purge=False
    ) as worker:
        # transaction=True: the submit commits, and its on_commit hook enqueues the recompute.
        review_services.review_submit(review=review, expert=expert, version=review.version)
        rows = _wait_for_rows(generation.pk, worker)
        assert {row.function for row in rows} == {
            "format",
            "structured_thinking",
            "hallucination_penalty",
            "step_validity",
        }
        assert all(row.provenance.get("reviews") for row in rows if row.function != "format")
        before = {row.pk: (row.computed_at, row.inputs_hash, row.value) for row in rows}

        # The same task again, as a redelivery would run it, rewrites nothing.
        from workers.rewards import recompute_rewards

        result = recompute_rewards.delay([generation.pk]).get(timeout=60)
        assert result == {
            "generations": 1,
            "written": 0,
            "unchanged": len(rows),
            "deleted": 0,
            "composites_written": 0,
        }
    after = {
        row.pk: (row.computed_at, row.inputs_hash, row.value)
        for row in RewardValue.objects.filter(generation=generation)
    }
    assert after == before


def test_reward_tasks_go_to_the_cpu_queue() -> None:
    from workers.rewards import recompute_composites, recompute_rewards

    for task in (recompute_rewards, recompute_composites):
        assert app.amqp.router.route({}, task.name)["queue"].name == "audio"
