"""The review workspace in headless Chromium against the live server: an expert flags a span selected
with the mouse, grades and rates with the keyboard, corrects, verifies, ranks and submits, and
everything is in the database and on the reloaded page; a closed tab keeps its last change; a second
window's stale save is refused in sight."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from annotations.generations.models import GenerationGroup
from annotations.reviews.models import Flag, Review
from annotations.reviews.rules import REVIEW_ASPECTS
from annotations.reviews.services import review_next
from annotations.songs.models import SongAnalysis
from annotations.songs.services.analysis import current_analyser_version, song_analysis_run
from annotations.songs.services.audio_files import audio_file_add
from tests import factories
from tests.audio_files import write_tone
from tests.helpers import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SAVED = "document.querySelector('#save-status').dataset.state === 'saved'"


def _maya_claims_a_sibling(tmp_path: Path) -> Review:
    """Maya, an expert, has claimed one of the two sibling outputs of an analysed song."""
    expert = factories.expert(username="maya")
    _song_with_siblings(tmp_path)
    review = review_next(expert=expert)
    assert review is not None
    return review


def _song_with_siblings(tmp_path: Path) -> list[Any]:
    """An analysed 80-second song and two sibling outputs of it, parsed by the real parser."""
    song = factories.SongFactory(title="Raga groove")
    audio = audio_file_add(song=song, source=write_tone(tmp_path / "raga.wav", seconds=80.0))
    group = GenerationGroup.objects.create(
        song=song,
        model_version=factories.ModelVersionFactory(),
        prompt=factories.PromptTemplateFactory(),
        size=2,
    )
    generations = [
        factories.generation_with_output(
            song=song,
            group=group,
            sibling_index=i,
            model_version=group.model_version,
            prompt=group.prompt,
            audio_file=audio,
        )
        for i in range(2)
    ]
    # Analysed after the outputs exist, so their machine hints are computed from the facts.
    analysis = SongAnalysis.objects.create(
        song=song, audio_file=audio, analyser_version=current_analyser_version()
    )
    assert song_analysis_run(analysis=analysis).status == SongAnalysis.Status.SUCCEEDED
    return generations


def _open(page: Any, live_server: Any, review: Review) -> None:
    page.goto(f"{live_server.url}/reviews/{review.pk}/")
    page.wait_for_selector("[data-player][data-loaded='1']")


def _drag_select(page: Any, word: str) -> None:
    """Press the mouse before ``word`` in the caption and release it after, like a person."""
    box = page.evaluate(
        """(word) => {
          for (const leaf of document.querySelectorAll('#caption-text [data-start]')) {
            const i = leaf.firstChild.data.indexOf(word);
            if (i < 0) continue;
            const range = document.createRange();
            range.setStart(leaf.firstChild, i);
            range.setEnd(leaf.firstChild, i + word.length);
            leaf.scrollIntoView({block: 'center'});
            const r = range.getBoundingClientRect();
            return {x0: r.left + 1, x1: r.right - 1, y: r.top + r.height / 2};
          }
          return null;
        }""",
        word,
    )
    assert box, f"{word!r} is not in the caption"
    page.mouse.move(box["x0"], box["y"])
    page.mouse.down()
    page.mouse.move((box["x0"] + box["x1"]) / 2, box["y"], steps=3)
    page.mouse.move(box["x1"], box["y"], steps=3)
    page.mouse.up()


def _blur(page: Any) -> None:
    page.evaluate("document.activeElement && document.activeElement.blur()")


def test_an_expert_reviews_with_mouse_and_keyboard_submits_and_finds_it_all_saved(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    expert = factories.expert(username="maya")
    _song_with_siblings(tmp_path)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, live_server, "maya")
    page.goto(f"{live_server.url}/review/")
    page.keyboard.press("n")  # next task: claims an output and opens it
    page.wait_for_url("**/reviews/*/")
    review = Review.objects.get(expert=expert)
    page.wait_for_selector("[data-player][data-loaded='1']")

    # A timestamp in the text seeks the player.
    page.click("#step-2 a.ts")
    assert page.evaluate("document.querySelector('[data-player] audio').currentTime") == 12

    # Select a word with the mouse: the flag form opens on it.
    _drag_select(page, "Sitar")
    page.wait_for_selector("#flag-form:not([hidden])")
    assert page.inner_text("#flag-quote") == "Sitar"
    page.select_option("#flag-category", "instrument-not-present")
    assert "instrument" in page.inner_text("#flag-category-description").lower()
    page.keyboard.press("Alt+3")  # critical
    page.click("[data-from-playhead=start]")  # the playhead is at 12 s
    page.fill("#flag-audio-end", "20")
    page.fill("#flag-correction", "Sarod")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#flag-list .flag.sev-critical")
    assert page.is_hidden("#flag-form")
    # Highlights are painted once htmx settles the swap.
    page.wait_for_function("CSS.highlights.get('flag-critical')?.size === 1", timeout=3000)

    # Grade the four steps with the keyboard: j focuses the first, each grade moves on.
    _blur(page)
    page.keyboard.press("j")
    for key in ("1", "2", "u", "c"):
        page.keyboard.press(key)
    # Rate the seven aspects: a focuses the first, each rating moves on.
    page.keyboard.press("a")
    for _ in REVIEW_ASPECTS:
        page.keyboard.press("4")
    # Correct the caption; the diff shows the change live.
    page.keyboard.press("e")
    page.keyboard.press("Control+End")
    page.keyboard.type(" A tanpura drone sustains throughout.")
    page.wait_for_selector("#caption-diff ins")
    assert "tanpura" in page.inner_text("#caption-diff ins >> nth=0") + page.inner_text(
        "#caption-diff"
    )
    # Verify metadata: take the model's claim where there is one, else type the value.
    for row in page.query_selector_all(".meta-row"):
        field = row.get_attribute("data-field")
        if row.query_selector("[data-use=model]"):
            row.query_selector("[data-use=model]").click()
        else:
            row.query_selector(f"#meta_{field}").fill("Hindustani classical")
            row.query_selector(f"#meta_{field}_status").select_option("confirmed")
    tempo = page.query_selector("#meta-row-tempo_bpm")
    tempo.query_selector("#meta_tempo_bpm").focus()
    page.keyboard.press("Alt+a")  # take the analysis' tempo instead
    assert page.input_value("#meta_tempo_bpm_status") in {"confirmed", "corrected"}
    # Rank the siblings (the one under review first) and give the verdict by keyboard.
    ranks = page.query_selector_all("#siblings input.rank")
    assert len(ranks) == 2
    for rank in ranks:
        rank.fill("1" if rank.evaluate("e => e.closest('li').matches('.current')") else "2")
    _blur(page)
    page.keyboard.press("v")
    page.keyboard.press("2")  # accept with fixes
    page.wait_for_function(SAVED)
    page.wait_for_selector("#review-problems .ok")

    # Reload: everything is there, and in the database.
    page.reload()
    page.wait_for_selector("[data-player][data-loaded='1']")
    assert page.is_checked("#step_1_correct") and page.is_checked("#step_2_incorrect")
    assert page.is_checked("#step_3_unverifiable") and page.is_checked("#step_4_correct")
    assert page.is_checked("#verdict_accept_with_fixes")
    assert "tanpura" in page.input_value("#corrected_caption")
    # Highlights are painted once htmx settles the swap.
    page.wait_for_function("CSS.highlights.get('flag-critical')?.size === 1", timeout=3000)
    review.refresh_from_db()
    assert review.step_grades == {
        "1": "correct",
        "2": "incorrect",
        "3": "unverifiable",
        "4": "correct",
    }
    assert set(review.aspect_ratings.values()) == {4} and len(review.aspect_ratings) == 7
    assert review.verified_metadata["culture"]["value"] == "Hindustani classical"
    assert review.verified_metadata["key"] == {
        "value": "D minor",
        "status": "confirmed",
        "source": "model",
    }
    assert sorted(review.sibling_ranks.values()) == [1, 2]
    assert review.sibling_ranks[str(review.generation_id)] == 1
    flag = Flag.objects.get(review=review)
    assert (flag.quoted_text, flag.severity, flag.correction) == ("Sitar", "critical", "Sarod")
    assert (flag.audio_start_seconds, flag.audio_end_seconds) == (12.0, 20.0)

    # Submit with the keyboard: back to the queue, and the review is final.
    _blur(page)
    page.keyboard.press("Control+Enter")
    page.wait_for_url(f"{live_server.url}/review/")
    assert "Review submitted" in page.inner_text("main")
    review.refresh_from_db()
    assert review.status == Review.Status.SUBMITTED and review.submitted_at is not None
    page.goto(f"{live_server.url}/reviews/{review.pk}/")
    assert page.get_attribute("#review-page", "data-read-only") == "true"
    assert page.is_checked("#verdict_accept_with_fixes")
    page.close()


def test_a_machine_hint_is_confirmed_into_a_flag_and_another_dismissed(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    review = _maya_claims_a_sibling(tmp_path)
    hints = list(review.generation.hints.exclude(start_char=None).order_by("id"))
    assert len(hints) >= 2, "the analysis should contradict the sample's tempo and key"
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, live_server, "maya")
    _open(page, live_server, review)
    page.click(f"#review-hint-{hints[0].pk} [data-hint-confirm]")
    page.wait_for_selector("#flag-form:not([hidden])")
    assert page.input_value("#flag-category") != ""
    page.click("#flag-form button[type=submit]")
    page.wait_for_selector("#flag-list .flag")
    # The swap settles: the confirmed hint leaves the list and focus lands on the new flag.
    page.wait_for_selector(f"#review-hint-{hints[0].pk}", state="detached")
    page.wait_for_function("document.activeElement.closest('.flag') !== null", timeout=3000)
    # Dismiss the other from the keyboard: focus stays on that hint (now offering "Undo").
    page.focus(f"#review-hint-{hints[1].pk} button")
    page.keyboard.press("d")
    page.wait_for_selector(f"#review-hint-{hints[1].pk}.dismissed")
    page.wait_for_function(
        f"document.activeElement.closest('.hint')?.id === 'review-hint-{hints[1].pk}'",
        timeout=3000,
    )
    review.refresh_from_db()
    assert Flag.objects.get(review=review).hint_id == hints[0].pk
    assert review.dismissed_hints == [hints[1].pk]

    # Submitting too early lists what is missing; each problem leads to its field.
    page.click("#submit-review")
    page.wait_for_selector("#review-problems .error")
    page.click("[data-problem-field=step_1]")
    assert page.evaluate("document.activeElement.name") == "step_1"
    review.refresh_from_db()
    assert review.status == Review.Status.DRAFT
    page.close()


def test_a_closed_tab_keeps_its_last_change_and_the_draft_resumes(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    review = _maya_claims_a_sibling(tmp_path)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, live_server, "maya")
    _open(page, live_server, review)
    page.fill("#comment", "The sitar is a sarod; half-written thought")
    page.close()  # at once: no time for the debounced save, the pagehide beacon carries it

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the beacon is sent as the tab goes; it lands shortly
        review.refresh_from_db()
        if review.comment:
            break
        time.sleep(0.1)
    assert review.comment == "The sitar is a sarod; half-written thought"

    page = context.new_page()
    page.goto(f"{live_server.url}/review/")
    page.click("[data-testid=draft-link]")
    page.wait_for_selector("#comment")
    assert page.input_value("#comment") == "The sitar is a sarod; half-written thought"
    context.close()


def test_two_windows_edit_one_review_and_the_second_save_is_refused_in_sight(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    review = _maya_claims_a_sibling(tmp_path)
    first, second = browser.new_context(), browser.new_context()
    a, b = first.new_page(), second.new_page()
    for page in (a, b):
        sign_in(page, live_server, "maya")
        _open(page, live_server, review)

    a.check("#verdict_reject")
    a.wait_for_function(SAVED)
    b.fill("#comment", "written in the other window")
    alert = b.wait_for_selector("[data-testid=stale-alert]")
    assert "changed in another tab or window" in alert.inner_text()
    assert b.inner_text("#save-status").startswith("Not saved")
    assert b.is_checked("#verdict_reject")  # the saved state, shown
    assert b.input_value("#comment") == ""
    review.refresh_from_db()
    assert (review.verdict, review.comment) == ("reject", "")

    # The refreshed window carries on from the saved version without another conflict.
    b.fill("#comment", "now it saves")
    b.wait_for_function(SAVED)
    review.refresh_from_db()
    assert (review.verdict, review.comment) == ("reject", "now it saves")
    first.close()
    second.close()


def test_the_player_seeks_changes_speed_and_loops_a_region_dragged_on_the_waveform(
    browser: Any, live_server: Any, tmp_path: Path
) -> None:
    review = _maya_claims_a_sibling(tmp_path)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, live_server, "maya")
    _open(page, live_server, review)
    audio = "document.querySelector('[data-player] audio')"

    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(f"{audio}.currentTime") == 10
    page.keyboard.press("ArrowLeft")
    assert page.evaluate(f"{audio}.currentTime") == 5
    page.keyboard.press("]")
    assert page.evaluate(f"{audio}.playbackRate") == 1.25
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert page.evaluate(f"{audio}.playbackRate") == 0.75
    assert page.input_value("[data-speed]") == "0.75"
    page.keyboard.press("p")
    page.wait_for_function(f"!{audio}.paused")
    page.keyboard.press("p")
    page.wait_for_function(f"{audio}.paused")

    # Drag across the second quarter of the 80-second waveform: a region of about 20–40 s.
    box = page.locator("[data-waveform]").bounding_box()
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] * 0.25, y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.4, y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.5, y, steps=5)
    page.mouse.up()
    page.wait_for_selector("[data-region-label]:text-matches('^Region [0-9]')")
    page.keyboard.press("r")
    assert page.is_checked("[data-loop]")
    # Played past its end, the region starts again.
    end = page.evaluate(
        "document.querySelector('[data-review-player]') && window.reviewRegion().end"
    )
    page.evaluate(f"{audio}.currentTime = {end - 0.3}")
    page.wait_for_function(f"!{audio}.seeking && {audio}.readyState >= 3")  # the seek has landed
    page.keyboard.press("p")
    page.wait_for_function(f"!{audio}.paused && {audio}.currentTime < {end - 2}", timeout=10000)
    page.keyboard.press("p")

    _drag_select(page, "tabla")
    page.wait_for_selector("#flag-form:not([hidden])")
    page.select_option("#flag-category", "instrument-not-present")
    page.click("[data-from-region]")
    page.click("#flag-form button[type=submit]")
    page.wait_for_selector("#flag-list .flag")
    # Focus lands on the flag just saved, not on the page body (once htmx has settled the swap).
    page.wait_for_function("document.activeElement.closest('.flag') !== null", timeout=3000)
    flag = Flag.objects.get(review=review)
    assert flag.audio_start_seconds == pytest.approx(20, abs=1.5)
    assert flag.audio_end_seconds == pytest.approx(40, abs=1.5)

    # Clicking the flag in the list selects its span and seeks to its audio.
    page.evaluate(f"{audio}.currentTime = 0")
    page.click("#flag-list .flag [data-flag-go]")
    assert page.evaluate("window.getSelection().toString()") == "tabla"
    assert page.evaluate(f"{audio}.currentTime") == pytest.approx(flag.audio_start_seconds)
    page.close()


def test_a_real_size_review_paints_thirty_flags_and_grades_forty_steps_by_keyboard(
    browser: Any, live_server: Any
) -> None:
    from annotations.reviews.services import flag_save
    from tests.annotations.test_review_views import real_size_output

    expert = factories.expert(username="maya")
    factories.generation_with_output(real_size_output())
    review = review_next(expert=expert)
    assert review is not None
    text = review.generation.answer_text
    for match in list(re.finditer("sitar", text))[:30]:
        data = {
            "target": "caption",
            "start": match.start(),
            "end": match.end(),
            "category": "instrument-not-present",
            "severity": "minor",
        }
        _flag, review = flag_save(review=review, expert=expert, data=data, version=review.version)
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    sign_in(page, live_server, "maya")
    page.goto(f"{live_server.url}/reviews/{review.pk}/")
    page.wait_for_function("CSS.highlights.get('flag-minor')?.size === 30")
    painted = page.evaluate("[...CSS.highlights.get('flag-minor')].map(r => r.toString())")
    assert painted == ["sitar"] * 30
    page.keyboard.press("j")
    for _ in range(40):
        page.keyboard.press("1")
    page.wait_for_function(SAVED)
    review.refresh_from_db()
    assert len(review.step_grades) == 40 and set(review.step_grades.values()) == {"correct"}
    page.close()
