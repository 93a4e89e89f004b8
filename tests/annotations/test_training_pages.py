"""The training pages: list, launch form (validation, preset table, htmx redraw), a run's page,
cancel, and the metrics JSON the charts poll."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from annotations.training.models import TrainingMetric, TrainingRun
from annotations.training.services import creation
from tests import factories
from tests.annotations.test_training import write_training_snapshot
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def enqueued(monkeypatch) -> list[tuple[int, str]]:
    sent: list[tuple[int, str]] = []
    monkeypatch.setattr(
        creation,
        "training_run_enqueue",
        lambda *, run_id, task_id: sent.append((run_id, task_id)),
    )
    return sent


@pytest.fixture
def form_data(settings) -> dict[str, Any]:
    snapshot = write_training_snapshot(settings.MEDIA_ROOT)
    version = factories.ModelVersionFactory(name="base-for-form")
    return {
        "stage": "sft",
        "base_version": str(version.pk),
        "snapshot": str(snapshot.pk),
        "reward_profile": "",
        "method": "lora",
        "preset": "smoke",
    }


def test_the_form_shows_the_presets_hyperparameters(admin_user, form_data) -> None:
    response = client_for(admin_user).get(reverse("training_run_new"))
    assert response.status_code == 200
    html = response.content.decode()
    # The paper preset's SFT learning rate, and no GRPO-only setting for the SFT stage.
    assert 'data-setting="learning_rate"' in html and "1.5e-05" in html
    assert 'data-setting="num_generations"' not in html


def test_changing_the_stage_redraws_the_table_for_that_stage(admin_user, form_data) -> None:
    response = client_for(admin_user).get(
        reverse("training_run_new"), {"stage": "grpo", "preset": "paper"}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<fieldset id="hyperparameters">')
    assert 'data-setting="num_generations"' in html and "1e-06" in html


def test_a_launch_creates_the_run_with_the_overrides_and_opens_its_page(
    admin_user, form_data, enqueued, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(admin_user).post(
            reverse("training_run_new"), {**form_data, "hp_max_steps": "7", "hp_bf16": "auto"}
        )
    run = TrainingRun.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("training_run_detail", args=[run.pk])
    assert run.config["max_steps"] == 7 and run.config["bf16"] is None
    assert run.preset == "smoke" and run.use_lora and run.launched_by == admin_user
    assert enqueued == [(run.pk, run.celery_task_id)]


def test_grpo_without_a_profile_is_refused_with_a_message(admin_user, form_data, enqueued) -> None:
    response = client_for(admin_user).post(
        reverse("training_run_new"), {**form_data, "stage": "grpo"}
    )
    assert response.status_code == 400
    assert b"GRPO needs a reward profile" in response.content
    assert not TrainingRun.objects.exists()


def test_a_hyperparameter_that_is_not_a_number_is_refused_beside_its_box(
    admin_user, form_data, enqueued
) -> None:
    response = client_for(admin_user).post(
        reverse("training_run_new"), {**form_data, "hp_learning_rate": "fast"}
    )
    assert response.status_code == 400
    assert b"learning_rate must be a number, not &#x27;fast&#x27;" in response.content
    assert not TrainingRun.objects.exists()


def test_an_out_of_range_hyperparameter_shows_the_configs_reason(
    admin_user, form_data, enqueued
) -> None:
    response = client_for(admin_user).post(
        reverse("training_run_new"), {**form_data, "hp_warmup_ratio": "2"}
    )
    assert response.status_code == 400
    assert b"warmup_ratio must be in [0, 1)" in response.content


def test_the_run_page_shows_status_config_and_the_produced_version(auditor_user) -> None:
    run = factories.TrainingRunFactory(
        status=TrainingRun.Status.SUCCEEDED, config={"learning_rate": 1.5e-5}, step=4, total_steps=4
    )
    factories.ModelVersionFactory(name="made-by-the-run", training_run=run, parent=run.base_version)
    response = client_for(auditor_user).get(reverse("training_run_detail", args=[run.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "made-by-the-run" in html and "learning_rate" in html
    assert 'id="run-cancel"' not in html  # auditors cannot cancel, and it has finished
    assert 'data-metrics-url="' + reverse("training_run_metrics", args=[run.pk]) in html


def test_a_running_run_polls_its_status_and_offers_cancel(admin_user) -> None:
    run = factories.TrainingRunFactory(status=TrainingRun.Status.RUNNING)
    client = client_for(admin_user)
    html = client.get(reverse("training_run_detail", args=[run.pk])).content.decode()
    assert 'id="run-cancel"' in html and 'hx-trigger="every 2s"' in html
    partial = client.get(reverse("training_run_detail", args=[run.pk]), HTTP_HX_REQUEST="true")
    assert (
        partial.content.decode().lstrip().startswith('<section class="card" id="training-status"')
    )


def test_cancel_from_the_page_asks_a_running_run_to_stop(admin_user) -> None:
    run = factories.TrainingRunFactory(status=TrainingRun.Status.RUNNING)
    response = client_for(admin_user).post(
        reverse("training_run_cancel", args=[run.pk]), follow=True
    )
    run.refresh_from_db()
    assert run.cancel_requested_at is not None and run.status == TrainingRun.Status.RUNNING
    assert b"saves a checkpoint at its next step" in response.content


def test_cancelling_a_finished_run_says_so(admin_user) -> None:
    run = factories.TrainingRunFactory(status=TrainingRun.Status.FAILED)
    response = client_for(admin_user).post(
        reverse("training_run_cancel", args=[run.pk]), follow=True
    )
    assert b"has already failed" in response.content


def test_the_metrics_json_returns_the_steps_after_the_one_asked(auditor_user) -> None:
    run = factories.TrainingRunFactory(status=TrainingRun.Status.RUNNING, step=3, total_steps=10)
    for step in (1, 2, 3):
        TrainingMetric.objects.create(run=run, step=step, values={"loss": 1.0 / step})
    TrainingMetric.objects.create(run=run, kind="eval", step=3, values={"eval_loss": 0.5})
    url = reverse("training_run_metrics", args=[run.pk])
    data = client_for(auditor_user).get(url, {"after": "1"}).json()
    assert [p["step"] for p in data["points"]] == [2, 3]
    assert data["points"][1]["values"] == {"loss": pytest.approx(1 / 3)}
    assert data["active"] is True and (data["step"], data["total_steps"]) == (3, 10)
    everything = client_for(auditor_user).get(url).json()
    assert [p["step"] for p in everything["points"]] == [1, 2, 3]
    assert client_for(auditor_user).get(url, {"after": "x"}).status_code == 400


def test_the_list_shows_each_run(auditor_user) -> None:
    run = factories.TrainingRunFactory(status=TrainingRun.Status.QUEUED)
    html = client_for(auditor_user).get(reverse("training_run_list")).content.decode()
    assert f'data-run="{run.pk}"' in html
    assert 'id="training-new-link"' not in html  # auditors cannot launch


def test_the_list_reads_every_run_in_a_fixed_number_of_queries(auditor_user) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(auditor_user)
    factories.TrainingRunFactory(reward_profile=factories.RewardProfileFactory())
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("training_run_list"))
    for _ in range(4):
        run = factories.TrainingRunFactory(reward_profile=factories.RewardProfileFactory())
        factories.ModelVersionFactory(training_run=run, parent=run.base_version)
    with CaptureQueriesContext(connection) as many:
        html = client.get(reverse("training_run_list")).content.decode()
    assert html.count("data-run=") == 5
    assert len(many) == len(few)
