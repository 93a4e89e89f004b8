"""The review pages through the Django test client: who may open and change what, the htmx
partials each save answers with, 409 on a stale version and 400 with the message on bad input."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from annotations.generations.models import GenerationHint
from annotations.reviews import services as svc
from annotations.reviews.models import Flag, Review
from tests import factories
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def expert() -> Any:
    return factories.expert(username="maya")


@pytest.fixture
def draft(expert: Any) -> Review:
    factories.generation_with_output()
    review = svc.review_next(expert=expert)
    assert review is not None
    return review


def _version_in(html: str) -> int:
    match = re.search(r'id="review-version" name="version" value="(\d+)"', html)
    assert match, html[:500]
    return int(match.group(1))


def _flag_post(review: Review, word: str = "Sitar", **extra: Any) -> dict[str, Any]:
    start = review.generation.answer_text.index(word)
    return {
        "version": review.version,
        "target": "caption",
        "start": start,
        "end": start + len(word),
        "category": "instrument-not-present",
        "severity": "major",
        **extra,
    }


def test_the_queue_lists_the_experts_drafts_and_offers_the_next_task(
    expert: Any, draft: Review
) -> None:
    response = client_for(expert).get(reverse("review_queue"))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("review_detail", args=[draft.pk]) in html
    assert 'id="next-task"' in html


def test_next_claims_a_task_and_redirects_to_it(expert: Any) -> None:
    factories.generation_with_output()
    response = client_for(expert).post(reverse("review_next"))
    review = Review.objects.get(expert=expert)
    assert response.status_code == 302
    assert response["Location"] == reverse("review_detail", args=[review.pk])


def test_next_answers_htmx_with_a_client_redirect(expert: Any) -> None:
    factories.generation_with_output()
    response = client_for(expert).post(reverse("review_next"), **HTMX)
    review = Review.objects.get(expert=expert)
    assert response.status_code == 200
    assert response["HX-Redirect"] == reverse("review_detail", args=[review.pk])


def test_next_with_nothing_left_goes_back_to_the_queue_and_says_so(expert: Any) -> None:
    client = client_for(expert)
    response = client.post(reverse("review_next"), follow=True)
    assert response.redirect_chain[-1][0] == reverse("review_queue")
    assert b"Nothing left to review" in response.content


def test_the_review_page_shows_steps_sections_and_timestamps_as_seek_links(
    expert: Any, draft: Review
) -> None:
    response = client_for(expert).get(reverse("review_detail", args=[draft.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="step-4"' in html and 'name="step_4"' in html
    assert 'data-target="caption"' in html and 'data-target="reasoning"' in html
    assert 'data-at="12.000000"' in html  # "0:12" in step 2 seeks there
    assert _version_in(html) == draft.version


def test_user_text_is_escaped(expert: Any) -> None:
    factories.generation_with_output(
        "<think>Step 1: <img src=x onerror=alert(1)> plays.</think><answer>A <b>bold</b> claim "
        "<script>alert(2)</script> here.</answer>"
    )
    review = svc.review_next(expert=expert)
    assert review is not None
    html = client_for(expert).get(reverse("review_detail", args=[review.pk])).content.decode()
    assert "<script>alert(2)</script>" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;" in html


def test_another_expert_cannot_see_or_change_a_draft(draft: Review) -> None:
    other = client_for(factories.expert(username="arjun"))
    assert other.get(reverse("review_detail", args=[draft.pk])).status_code == 404
    response = other.post(reverse("review_draft", args=[draft.pk]), {"version": draft.version})
    assert response.status_code == 404


def test_an_autosave_answers_with_the_status_the_new_version_and_the_problems(
    expert: Any, draft: Review
) -> None:
    response = client_for(expert).post(
        reverse("review_draft", args=[draft.pk]),
        {"version": draft.version, "verdict": "reject", "step_1": "incorrect"},
        **HTMX,
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<span id="save-status" data-state="saved">Saved ')
    assert _version_in(html) == draft.version + 1
    assert 'id="review-problems" hx-swap-oob="true"' in html
    assert 'hx-swap-oob="true"' in html.split('id="review-version"')[1].split(">")[0]
    draft.refresh_from_db()
    assert draft.verdict == "reject" and draft.step_grades == {"1": "incorrect"}


def test_a_stale_save_is_refused_with_409_and_the_saved_state(expert: Any, draft: Review) -> None:
    client = client_for(expert)
    url = reverse("review_draft", args=[draft.pk])
    client.post(url, {"version": draft.version, "comment": "first tab"}, **HTMX)
    response = client.post(url, {"version": draft.version, "comment": "second tab"}, **HTMX)
    html = response.content.decode()
    assert response.status_code == 409
    assert response["HX-Retarget"] == "#review-workspace"
    assert "This review was changed in another tab or window" in html
    assert "first tab" in html and "second tab" not in html
    assert _version_in(html) == draft.version + 1
    draft.refresh_from_db()
    assert draft.comment == "first tab"


def test_a_bad_field_is_refused_with_400_beside_the_form_keeping_the_pages_version(
    expert: Any, draft: Review
) -> None:
    response = client_for(expert).post(
        reverse("review_draft", args=[draft.pk]),
        {"version": draft.version, "meta_tempo_bpm": "fast"},
        **HTMX,
    )
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#review-form-error"
    html = response.content.decode()
    assert "is not a number" in html
    assert _version_in(html) == draft.version


def test_a_missing_version_is_a_400_that_says_to_reload(expert: Any, draft: Review) -> None:
    response = client_for(expert).post(reverse("review_draft", args=[draft.pk]), {}, **HTMX)
    assert response.status_code == 400
    assert b"reload the page" in response.content


def test_a_flag_is_created_and_the_list_comes_back_with_it(expert: Any, draft: Review) -> None:
    response = client_for(expert).post(
        reverse("review_flag_create", args=[draft.pk]), _flag_post(draft), **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    flag = Flag.objects.get(review=draft)
    assert html.startswith('\n      <div id="flag-list"') or html.lstrip().startswith(
        '<div id="flag-list"'
    )
    assert f'id="flag-{flag.pk}"' in html and "“Sitar”" in html
    assert _version_in(html) == draft.version + 1


def test_a_flag_outside_the_caption_is_refused_beside_the_flag_form(
    expert: Any, draft: Review
) -> None:
    data = _flag_post(draft, start=10_000, end=10_005)
    response = client_for(expert).post(reverse("review_flag_create", args=[draft.pk]), data, **HTMX)
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#flag-form-error"
    assert b"outside the caption" in response.content


def test_a_flag_is_edited_and_deleted(expert: Any, draft: Review) -> None:
    client = client_for(expert)
    flag, draft = svc.flag_save(
        review=draft, expert=expert, data=_flag_post(draft), version=draft.version
    )
    response = client.post(
        reverse("review_flag_update", args=[draft.pk, flag.pk]),
        _flag_post(draft, severity="critical", correction="sarod"),
        **HTMX,
    )
    assert response.status_code == 200
    flag.refresh_from_db()
    assert flag.severity == "critical" and flag.correction == "sarod"
    response = client.post(
        reverse("review_flag_delete", args=[draft.pk, flag.pk]),
        {"version": draft.version + 1},
        **HTMX,
    )
    assert response.status_code == 200
    assert not Flag.objects.filter(pk=flag.pk).exists()


def test_a_flag_of_another_review_is_not_found(expert: Any, draft: Review) -> None:
    other = factories.FlagFactory()
    response = client_for(expert).post(
        reverse("review_flag_delete", args=[draft.pk, other.pk]), {"version": draft.version}
    )
    assert response.status_code == 404


def test_a_hint_is_dismissed_and_undone(expert: Any, draft: Review) -> None:
    hint = GenerationHint.objects.create(
        generation=draft.generation, kind="tempo", message="The analysis says 120 BPM."
    )
    client = client_for(expert)
    url = reverse("review_hint_dismiss", args=[draft.pk, hint.pk])
    response = client.post(url, {"version": draft.version}, **HTMX)
    assert response.status_code == 200
    assert "dismissed" in response.content.decode()
    draft.refresh_from_db()
    assert draft.dismissed_hints == [hint.pk]
    client.post(url, {"version": draft.version, "undo": "1"}, **HTMX)
    draft.refresh_from_db()
    assert draft.dismissed_hints == []


def test_an_incomplete_submit_lists_the_problems_linking_to_the_fields(
    expert: Any, draft: Review
) -> None:
    response = client_for(expert).post(
        reverse("review_submit", args=[draft.pk]), {"version": draft.version}, **HTMX
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert response["HX-Retarget"] == "#review-problems"
    assert 'data-problem-field="verdict"' in html and 'data-problem-field="step_1"' in html
    draft.refresh_from_db()
    assert draft.status == Review.Status.DRAFT


def test_skip_needs_a_reason_then_returns_to_the_queue(expert: Any, draft: Review) -> None:
    client = client_for(expert)
    url = reverse("review_skip", args=[draft.pk])
    refused = client.post(url, {"version": draft.version}, **HTMX)
    assert refused.status_code == 400 and b"Choose why" in refused.content
    response = client.post(
        url, {"version": draft.version, "skip_reason": "outside_expertise"}, **HTMX
    )
    assert response["HX-Redirect"] == reverse("review_queue")
    draft.refresh_from_db()
    assert draft.status == Review.Status.SKIPPED


def test_a_submitted_review_is_shown_read_only_and_refuses_changes(
    expert: Any, draft: Review
) -> None:
    Review.objects.filter(pk=draft.pk).update(status="submitted", submitted_at="2026-01-01T00:00Z")
    client = client_for(expert)
    html = client.get(reverse("review_detail", args=[draft.pk])).content.decode()
    assert 'data-read-only="true"' in html and 'id="flag-form"' not in html
    response = client.post(reverse("review_draft", args=[draft.pk]), {"version": draft.version})
    assert response.status_code == 403


def test_the_review_page_reads_in_a_bounded_number_of_queries(
    expert: Any, draft: Review, django_assert_max_num_queries: Any
) -> None:
    for word in ("Sitar", "tabla", "drone", "synth", "Cymbal", "Hindi"):
        _flag, draft = svc.flag_save(
            review=draft, expert=expert, data=_flag_post(draft, word), version=draft.version
        )
    client = client_for(expert)
    with django_assert_max_num_queries(30):
        response = client.get(reverse("review_detail", args=[draft.pk]))
    assert response.content.decode().count('class="flag sev-major"') == 6


def real_size_output(steps: int = 40, sentences: int = 45) -> str:
    """A think trace of ``steps`` steps and a caption of about 450 words in five sections."""
    think = "\n".join(
        f"Step {n}: At {n // 60}:{n % 60:02d} the tabla answers the sitar, so the cycle is tintal."
        for n in range(1, steps + 1)
    )
    per_section = sentences // 5
    answer = "\n".join(
        f"## Section {s}\n"
        + " ".join(
            f"Sentence {s}.{i} hears a sitar phrase over tabla near {i % 3}:{i * 7 % 60:02d} again."
            for i in range(per_section)
        )
        for s in range(1, 6)
    )
    return f"<think>{think}</think><answer>{answer}</answer>"


def test_a_real_size_review_page_costs_the_same_queries_with_one_flag_or_thirty(
    expert: Any,
) -> None:
    factories.generation_with_output(real_size_output())
    review = svc.review_next(expert=expert)
    assert review is not None
    assert len(review.generation.answer_text.split()) >= 450
    client = client_for(expert)
    url = reverse("review_detail", args=[review.pk])
    text = review.generation.answer_text
    positions = [m.start() for m in re.finditer("sitar", text)][:30]

    def add_flag(start: int) -> None:
        nonlocal review
        data = {
            "target": "caption",
            "start": start,
            "end": start + 5,
            "category": "instrument-not-present",
            "severity": "minor",
        }
        _flag, review = svc.flag_save(
            review=review, expert=expert, data=data, version=review.version
        )

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    add_flag(positions[0])
    with CaptureQueriesContext(connection) as one:
        assert client.get(url).status_code == 200
    for start in positions[1:]:
        add_flag(start)
    with CaptureQueriesContext(connection) as thirty:
        response = client.get(url)
    html = response.content.decode()
    assert html.count('class="flag sev-minor"') == 30
    assert html.count('class="step"') == 40
    assert len(thirty.captured_queries) == len(one.captured_queries)
