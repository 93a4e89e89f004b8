"""Headless Debian Chromium, driven by Playwright, against the live test server."""

from __future__ import annotations

import os

import pytest

from tests import factories
from tests.helpers import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
]


def test_an_expert_signs_in_and_sees_the_home_page(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    factories.expert(username="maya")
    page = browser.new_page()
    sign_in(page, live_server, "maya")
    page.wait_for_selector("[data-testid=expert-card]")
    assert page.locator("h1").inner_text() == "Welcome, maya"
    assert page.locator("[data-testid=current-user]").inner_text() == "maya"
    nav = page.locator("nav[aria-label=Main]").inner_text()
    assert "Songs" in nav and "Model versions" not in nav
    page.close()


def test_the_help_overlay_opens_from_the_keyboard(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    factories.auditor(username="ravi")
    page = browser.new_page()
    sign_in(page, live_server, "ravi")
    page.wait_for_selector("[data-testid=auditor-card]")
    page.keyboard.press("?")
    assert page.locator("#help-overlay").is_visible()
    assert "Model versions" in page.locator("#help-overlay").inner_text()
    page.close()


def test_htmx_filters_songs_as_you_type(browser, live_server) -> None:  # type: ignore[no-untyped-def]
    factories.expert(username="arjun")
    factories.SongFactory(title="Raga Yaman")
    factories.SongFactory(title="Garota de Ipanema")
    page = browser.new_page()
    sign_in(page, live_server, "arjun")
    page.wait_for_selector("[data-testid=expert-card]")
    page.goto(live_server.url + "/songs/")
    page.keyboard.press("/")
    page.keyboard.type("yaman")
    page.wait_for_function("!document.querySelector('#song-results').innerText.includes('Ipanema')")
    assert "Raga Yaman" in page.locator("#song-results").inner_text()
    assert "q=yaman" in page.url, "the filter is kept in the address for reloads and links"
    page.close()


@pytest.mark.worker
def test_an_admin_uploads_two_files_and_watches_the_analysis_finish(  # type: ignore[no-untyped-def]
    browser, live_server, settings, tmp_path
) -> None:
    """Drag-and-drop's file input path: one file accepted, one refused with its reason; then the
    song page's analysis status turns to done, live, while a real audio worker analyses it."""
    from annotations.songs.models import Song
    from tests.audio_files import write_tone
    from tests.processes import celery_worker

    factories.admin(username="ada")
    good = write_tone(tmp_path / "Kora Morning.ogg", fmt="ogg", seconds=12, channels=2)
    bad = tmp_path / "not-really.mp3"
    bad.write_text("lyrics, not audio\n" * 40)
    page = browser.new_page()
    sign_in(page, live_server, "ada")
    page.wait_for_selector("[data-testid=admin-card]")
    page.goto(live_server.url + "/songs/upload/")
    page.fill("#id_artist", "Ballaké")
    page.set_input_files("#file-input", [str(good), str(bad)])
    page.wait_for_selector("[data-outcome=added]")
    page.wait_for_selector("[data-outcome=rejected]")
    rows = page.locator("#upload-rows tr")
    assert rows.count() == 2
    assert "Added as song #" in rows.nth(0).inner_text()
    assert "OGG, 0:12" in rows.nth(0).inner_text()
    refused = rows.nth(1).inner_text()
    assert "not-really.mp3 was refused: the content is not decodable audio" in refused
    song = Song.objects.get()
    assert song.artist == "Ballaké"

    page.click("[data-outcome=added] a")
    page.wait_for_selector("[data-testid=analysis-status][data-status=queued]")
    page.evaluate("window.sameDocument = true")
    with celery_worker(
        queues="audio", media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "w", purge=False
    ):
        # No reload: the panel polls while the analysis runs and swaps itself when it is done.
        page.wait_for_selector(
            "[data-testid=analysis-status][data-status=succeeded]", timeout=90_000
        )
    assert page.evaluate("window.sameDocument") is True, "the page was not reloaded"
    assert "BPM" in page.locator("[data-testid=fact-tempo]").inner_text()
    # The player draws from the stored peaks, with the beat grid over the waveform.
    page.wait_for_selector("[data-player][data-loaded]", timeout=20_000)
    assert page.evaluate(
        "document.querySelector('[data-player]').wavesurfer.getDuration()"
    ) == pytest.approx(12, abs=0.5)
    if os.environ.get("SCREENSHOT_DIR"):
        page.screenshot(path=os.environ["SCREENSHOT_DIR"] + "/song-page.png", full_page=True)
    page.close()
