"""The claims every task makes before it works (``annotations.core.task_claims``), on PostgreSQL."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from annotations.core.models import TaskClaim
from annotations.core.task_claims import claim_rows, claimed_message, locked_row
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import Generation
from tests import factories

pytestmark = pytest.mark.django_db


def test_a_claim_moves_only_queued_rows_to_running_for_its_task() -> None:
    queued = factories.GenerationFactory(status="queued")
    done = factories.GenerationFactory(status="succeeded")
    rows = Generation.objects.filter(pk__in=[queued.pk, done.pk])
    assert claim_rows(rows, task_id="t1") == [queued.pk]
    queued.refresh_from_db()
    assert (queued.status, queued.celery_task_id) == ("running", "t1")
    assert claim_rows(rows, task_id="t1") == [], "a second delivery finds nothing to do"
    done.refresh_from_db()
    assert done.status == "succeeded"


def test_only_a_redelivery_of_the_same_message_takes_back_a_running_row() -> None:
    row = factories.GenerationFactory(status="running", celery_task_id="dead-worker")
    rows = Generation.objects.filter(pk=row.pk)
    assert claim_rows(rows, task_id="dead-worker") == [], "a duplicate is not a redelivery"
    assert claim_rows(rows, task_id="someone-else", redelivered=True) == []
    assert claim_rows(rows, task_id="dead-worker", redelivered=True) == [row.pk]


def test_a_finished_row_is_never_claimed_again_even_by_a_redelivery() -> None:
    row = factories.GenerationFactory(status="failed", celery_task_id="t1")
    assert claim_rows(Generation.objects.filter(pk=row.pk), task_id="t1", redelivered=True) == []


@pytest.mark.django_db(transaction=True)
def test_a_delivery_that_arrives_while_another_is_claiming_gets_nothing() -> None:
    assert connection.vendor == "postgresql"
    ids = [factories.GenerationFactory(status="queued").pk for _ in range(3)]
    rows = Generation.objects.filter(pk__in=ids)
    first_claimed, release = threading.Event(), threading.Event()
    won: dict[str, list[int]] = {}

    def first() -> None:
        try:
            # The first delivery's claim is still uncommitted while the second one asks.
            with transaction.atomic():
                won["first"] = claim_rows(rows, task_id="first")
                first_claimed.set()
                release.wait(10)
        finally:
            connection.close()

    def second() -> None:
        try:
            first_claimed.wait(10)
            won["second"] = claim_rows(rows, task_id="second")
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    first_claimed.wait(10)
    time.sleep(0.5)  # the second claim now waits on the first one's row locks
    release.set()
    for thread in threads:
        thread.join()
    assert won == {"first": sorted(ids), "second": []}
    assert set(rows.values_list("celery_task_id", flat=True)) == {"first"}


def test_a_message_without_a_row_runs_once_and_after_its_worker_died_once_more() -> None:
    name = "workers.rewards.recompute_rewards"
    with claimed_message(task_id="m1", task_name=name) as first:
        assert first
        with claimed_message(task_id="m1", task_name=name) as duplicate:
            assert not duplicate, "a duplicate of a running message must not run beside it"
        # The worker dies here; the broker hands the message out again, marked redelivered.
        with claimed_message(task_id="m1", task_name=name, redelivered=True) as retaken:
            assert retaken
    claim = TaskClaim.objects.get(task_id="m1")
    assert (claim.status, claim.attempts) == ("done", 2)
    with claimed_message(task_id="m1", task_name=name, redelivered=True) as after_done:
        assert not after_done, "a finished message never runs again"
    assert TaskClaim.objects.get(task_id="m1").attempts == 2


def test_a_message_whose_task_raised_is_done_too() -> None:
    with pytest.raises(RuntimeError), claimed_message(task_id="m2", task_name="x") as claimed:
        assert claimed
        raise RuntimeError("the task failed; its message is acknowledged, not retried")
    with claimed_message(task_id="m2", task_name="x", redelivered=True) as again:
        assert not again


def test_a_task_called_directly_always_runs_and_records_nothing() -> None:
    with claimed_message(task_id="", task_name="x") as claimed:
        assert claimed
    assert not TaskClaim.objects.exists()


def test_a_locked_row_is_yielded_only_in_the_status_it_is_built_from() -> None:
    building = factories.DatasetSnapshotFactory(status="building")
    with locked_row(DatasetSnapshot.objects.all(), pk=building.pk, status="building") as row:
        assert row is not None and row.pk == building.pk
    DatasetSnapshot.objects.filter(pk=building.pk).update(status="frozen")
    with locked_row(DatasetSnapshot.objects.all(), pk=building.pk, status="building") as row:
        assert row is None
