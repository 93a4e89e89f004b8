"""The training pages in headless Chromium against the live server: a run's charts are drawn from
its stored steps and grow while it runs; the launch form redraws its hyperparameters for the
stage picked; the cancel button asks a running run to stop."""

from __future__ import annotations

import pytest

from annotations.training.models import TrainingMetric, TrainingRun
from tests import factories
from tests.e2e.conftest import browser  # noqa: F401 (the fixture)
from tests.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POINTS = """(key) => {
  const canvas = document.querySelector(`canvas[data-training-chart="${key}"]`);
  const chart = canvas && window.Chart && window.Chart.getChart(canvas);
  return chart ? Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data.length])) : null;
}"""


def _log(run: TrainingRun, step: int) -> None:
    TrainingMetric.objects.create(
        run=run,
        step=step,
        values={
            "loss": 2.0 / step,
            "learning_rate": 1e-6,
            "reward": 0.5 + step / 10,
            "reward/format": step / 10,
            "steps_per_second": 0.8,
        },
    )


def test_a_running_runs_charts_show_its_history_and_grow(browser, live_server) -> None:  # noqa: F811
    factories.admin(username="ada")
    run = factories.TrainingRunFactory(
        stage=TrainingRun.Stage.GRPO, status=TrainingRun.Status.RUNNING, step=3, total_steps=10
    )
    for step in (1, 2, 3):
        _log(run, step)
    page = browser.new_page()
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/training/{run.pk}/")
    page.wait_for_function(f"({POINTS})('loss') && ({POINTS})('loss').loss === 3")
    assert page.evaluate(POINTS, "rewards") == {"reward": 3, "reward/format": 3}
    assert page.evaluate(POINTS, "steps_per_second") == {"steps_per_second": 3}

    _log(run, 4)  # the worker logs another step: the page asks for the steps after 3
    page.wait_for_function(f"({POINTS})('loss').loss === 4", timeout=10_000)

    page.click("#run-cancel button")
    page.wait_for_selector("text=saves a checkpoint at its next step")
    run.refresh_from_db()
    assert run.cancel_requested_at is not None

    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.CANCELLED)
    page.wait_for_selector('#training-status[data-status="cancelled"]', timeout=10_000)
    page.close()


def test_the_launch_form_redraws_the_hyperparameters_for_the_stage(browser, live_server) -> None:  # noqa: F811
    factories.admin(username="ada")
    page = browser.new_page()
    sign_in(page, live_server, "ada")
    page.goto(f"{live_server.url}/training/new/")
    assert page.locator('tr[data-setting="num_generations"]').count() == 0
    page.fill("#id_hp_max_steps", "12")
    page.select_option("#id_stage", "grpo")
    page.wait_for_selector('tr[data-setting="num_generations"]')
    assert page.input_value("#id_hp_max_steps") == "12"  # a typed override survives the redraw
    assert page.locator('tr[data-setting="learning_rate"] td.num').inner_text() == "1e-06"
    page.close()
