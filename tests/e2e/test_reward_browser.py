"""The reward pages in headless Chromium against the live server: an auditor sees the distributions
drawn as Chart.js histograms, narrows them to one model version with the filter (htmx redraws the
charts), then follows a generation's Rewards link to its breakdown."""

from __future__ import annotations

from typing import Any

import pytest

from modeling.rewards import REWARDS
from tests import factories
from tests.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DRAWN = """(key) => {
  const canvas = document.querySelector(`canvas[data-reward-chart="${key}"]`);
  const chart = canvas && window.Chart && window.Chart.getChart(canvas);
  return chart ? {datasets: chart.data.datasets.map((d) => d.label),
                  width: canvas.width, height: canvas.height} : null;
}"""


def _rewarded(version: Any, values: dict[str, float], **details: Any) -> Any:
    generation = factories.GenerationFactory(model_version=version)
    for name, value in values.items():
        factories.RewardValueFactory(
            generation=generation,
            function=name,
            function_version=REWARDS[name].version,
            value=value,
            details=details.get(name, {}),
        )
    return generation


def test_an_auditor_reads_the_distributions_then_a_breakdown(browser, live_server) -> None:
    factories.auditor(username="ines")
    base = factories.ModelVersionFactory(name="mf-base")
    tuned = factories.ModelVersionFactory(name="mf-grpo-1")
    flagged = _rewarded(
        base,
        {"format": 1.0, "hallucination_penalty": -0.3},
        hallucination_penalty={
            "words": 200,
            "flags": [
                {
                    "id": 1,
                    "review": None,
                    "severity": "critical",
                    "category": "invented-instrument",
                    "quoted_text": "<img src=x onerror=window.__pwned=1> a sitar",
                    "cost": 0.25,
                }
            ],
        },
    )
    _rewarded(base, {"format": 0.0, "hallucination_penalty": 0.0})
    _rewarded(tuned, {"format": 1.0, "hallucination_penalty": -0.1})

    page = browser.new_page()
    try:
        sign_in(page, live_server, "ines")
        page.goto(live_server.url + "/rewards/")
        page.wait_for_function(f"({DRAWN})('format') !== null")
        drawn = page.evaluate(DRAWN, "format")
        assert drawn["datasets"] == ["mf-base", "mf-grpo-1"]
        assert drawn["width"] > 0 and drawn["height"] > 0
        assert page.evaluate(DRAWN, "hallucination_penalty")["width"] > 0
        row = page.locator('#reward-stats tr[data-version="mf-base"][data-function="format"]')
        assert row.locator("td").nth(2).inner_text() == "2"

        # Narrow to the tuned version: htmx swaps the results and the charts are drawn again.
        page.get_by_label("mf-grpo-1").check()
        page.wait_for_function(
            f"(() => {{ const d = ({DRAWN})('format'); "
            "return d && d.datasets.length === 1 && d.datasets[0] === 'mf-grpo-1'; })()"
        )
        assert "version=" in page.url

        page.goto(f"{live_server.url}/generations/{flagged.pk}/")
        page.click("#generation-rewards-link")
        page.wait_for_selector("#reward-hallucination_penalty")
        section = page.locator("#reward-hallucination_penalty")
        assert "<img src=x onerror=window.__pwned=1> a sitar" in section.inner_text()
        assert page.evaluate("window.__pwned") is None
        summary = page.locator('#reward-summary tr[data-function="format"]').inner_text()
        assert "1.000" in summary
    finally:
        page.close()
