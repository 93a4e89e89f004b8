"""The audit in headless Chromium against the live server: an auditor opens the dashboard (rates drawn
as Chart.js bars with interval whiskers), filters by culture (htmx swaps the results), drills down
from a row to its flagged spans, and follows a span to the review page, whose player starts at the
flagged second. Experts and anonymous visitors are refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from annotations.audit.services import audit_refresh_all
from annotations.reviews.models import ErrorCategory, Review
from annotations.songs.models import SongAnalysis
from annotations.songs.services.analysis import current_analyser_version, song_analysis_run
from annotations.songs.services.audio_files import audio_file_add
from tests import factories
from tests.audio_files import write_tone
from tests.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FLAGGED_AT = 21.5
CHART = """(key) => {
  const canvas = document.querySelector(`canvas[data-audit-chart="${key}"]`);
  const chart = canvas && window.Chart && window.Chart.getChart(canvas);
  return chart ? {labels: chart.data.labels, data: chart.data.datasets[0].data,
                  intervals: chart.data.datasets[0].intervals, width: canvas.width} : null;
}"""


def _reviewed(version: Any, song: Any, expert: Any, **flag: Any) -> Review:
    generation = factories.generation_with_output(
        model_version=version, song=song, audio_file=song.audio_files.first()
    )
    review = factories.ReviewFactory(
        generation=generation,
        expert=expert,
        status=Review.Status.SUBMITTED,
        submitted_at=timezone.now(),
        verdict=Review.Verdict.ACCEPT_WITH_FIXES,
    )
    if flag:
        factories.FlagFactory(
            review=review,
            category=ErrorCategory.objects.get(code=flag.pop("code")),
            **flag,
        )
    return review


def _songs(tmp_path: Path) -> tuple[Any, Any]:
    """An analysed Hindustani song (the one whose review the auditor opens) and a Flamenco one."""
    hindustani = factories.CultureFactory(slug="hindustani", name="Hindustani", region="South Asia")
    flamenco = factories.CultureFactory(slug="flamenco", name="Flamenco", region="Iberia")
    raga = factories.SongFactory(title="Raga Yaman")
    raga.cultures.add(hindustani)
    audio = audio_file_add(song=raga, source=write_tone(tmp_path / "raga.wav", seconds=40.0))
    analysis = SongAnalysis.objects.create(
        song=raga, audio_file=audio, analyser_version=current_analyser_version()
    )
    assert song_analysis_run(analysis=analysis).status == SongAnalysis.Status.SUCCEEDED
    bulerias = factories.SongFactory(title="Bulerías")
    bulerias.cultures.add(flamenco)
    audio_file_add(song=bulerias, source=write_tone(tmp_path / "bulerias.wav", seconds=5.0))
    return raga, bulerias


def test_an_auditor_drills_down_from_a_culture_to_the_flagged_second(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    factories.auditor(username="ines")
    maya, kofi = factories.expert(username="maya"), factories.expert(username="kofi")
    base = factories.ModelVersionFactory(name="mf-base")
    raga, bulerias = _songs(tmp_path)
    flagged = _reviewed(
        base,
        raga,
        maya,
        code="wrong-regional-instrument-name",
        severity="major",
        start_char=0,
        end_char=5,
        quoted_text="<img src=x onerror=window.__pwned=1> sitar",
        audio_start_seconds=FLAGGED_AT,
        audio_end_seconds=FLAGGED_AT + 2,
    )
    _reviewed(base, bulerias, kofi)
    _reviewed(base, bulerias, maya)
    audit_refresh_all()

    page = browser.new_page(viewport={"width": 1440, "height": 900})
    try:
        sign_in(page, live_server, "ines")
        page.click('nav a[data-shortcut="g x"]')
        page.wait_for_url("**/audit/")
        page.wait_for_function(f"({CHART})('share') !== null")
        drawn = page.evaluate(CHART, "share")
        # mf-base over all three outputs: 1 of 3 flagged, its Wilson interval as the whisker.
        assert drawn["labels"] == ["mf-base"]
        assert drawn["data"] == [pytest.approx(1 / 3)]
        assert drawn["intervals"][0] == [
            pytest.approx(0.0614919, abs=1e-6),
            pytest.approx(0.7923404, abs=1e-6),
        ]
        assert drawn["width"] > 0
        row = page.locator(f'#audit-rates tr[data-cell="{base.pk}"]')
        assert row.locator('[data-col="n_generations"]').inner_text() == "3"

        # Filter by culture: htmx swaps the results and the URL records the filter.
        page.select_option("#id_culture", "hindustani")
        page.wait_for_function(
            f"""() => {{ const c = document.querySelector('#audit-rates tr[data-cell="{base.pk}"] [data-col="n_generations"]');
                   return c && c.textContent.trim() === '1'; }}"""
        )
        assert "culture=hindustani" in page.url
        assert row.locator('[data-col="share_flagged"]').inner_text().startswith("1.000")
        page.wait_for_function(
            f"(() => {{ const d = ({CHART})('share'); return d && d.data[0] === 1; }})()"
        )

        # Drill down from the row to its flagged spans: the span text stays text.
        row.locator("[data-drill-down]").click()
        page.wait_for_url("**/audit/spans/**")
        span = page.locator(f'#audit-spans tr[data-review="{flagged.pk}"]')
        assert span.locator('[data-col="quoted_text"]').inner_text() == (
            "<img src=x onerror=window.__pwned=1> sitar"
        )
        assert page.evaluate("window.__pwned") is None

        # …and from the span to the review, its player at the flagged second.
        span.locator("[data-review-link]").click()
        page.wait_for_url(f"**/reviews/{flagged.pk}/#t=21.5")
        page.wait_for_selector("[data-player][data-loaded='1']")
        page.wait_for_function(
            f"Math.abs(document.querySelector('[data-player] audio').currentTime - {FLAGGED_AT}) < 0.05"
        )
        assert page.locator('[data-testid="review-status"]').inner_text() == "Submitted"
    finally:
        page.close()


def test_experts_and_anonymous_visitors_are_refused_the_audit(
    browser: Any, live_server: Any
) -> None:
    factories.expert(username="maya")
    page = browser.new_page()
    try:
        page.goto(live_server.url + "/audit/")
        assert "/accounts/login/?next=/audit/" in page.url
        sign_in(page, live_server, "maya")
        assert page.locator('nav a[data-shortcut="g x"]').count() == 0
        response = page.goto(live_server.url + "/audit/")
        assert response is not None and response.status == 403
        assert "Your account's role cannot open this page" in page.content()
        response = page.goto(live_server.url + "/audit/spans/?format=csv")
        assert response is not None and response.status == 403
    finally:
        page.close()


def test_a_filter_the_server_refuses_says_why_in_place_of_the_results(
    browser: Any, live_server: Any
) -> None:
    factories.auditor(username="ines")
    page = browser.new_page()
    try:
        sign_in(page, live_server, "ines")
        page.goto(live_server.url + "/audit/")
        page.wait_for_selector("#audit-rates")
        page.fill("#id_date_from", "2026-02-01")
        page.wait_for_function("location.search.includes('date_from=2026-02-01')")
        page.fill("#id_date_to", "2026-01-01")
        alert = page.locator("#audit-errors")
        alert.wait_for()
        assert "The end date is before the start date." in alert.inner_text()
        assert page.locator("#audit-rates").count() == 0
        # Fixing the filter brings the results back.
        page.fill("#id_date_to", "2026-03-01")
        page.wait_for_selector("#audit-rates")
        assert page.locator("#audit-errors").count() == 0
    finally:
        page.close()
