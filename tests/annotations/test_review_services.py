"""The review rules, through the service layer: claims, blindness, stale edits and submit checks."""

from __future__ import annotations

import threading
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.db import connection
from django.http import Http404
from django.test import override_settings
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.generations.models import GenerationGroup, GenerationHint
from annotations.reviews import services as svc
from annotations.reviews.models import ExpertProfile, Flag, Review
from annotations.reviews.permissions import access_review_for_user
from annotations.reviews.selectors import review_queue, review_workspace
from tests import factories
from tests.helpers import complete_review_form

pytestmark = pytest.mark.django_db


_complete_form = complete_review_form


def _flag_data(review: Review, word: str = "Sitar", **overrides: Any) -> dict[str, Any]:
    start = review.generation.answer_text.index(word)
    data = {
        "target": "caption",
        "start": start,
        "end": start + len(word),
        "category": "instrument-not-present",
        "severity": "major",
        "audio_start": "",
        "audio_end": "",
        "correction": "",
        "note": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def expert() -> Any:
    return factories.expert()


@pytest.fixture
def draft(expert: Any) -> Review:
    factories.generation_with_output()
    review = svc.review_next(expert=expert)
    assert review is not None
    return review


# --- claims and the queue ------------------------------------------------------------------------


def test_next_claims_a_finished_output_and_holds_it_for_the_claim_time(expert: Any) -> None:
    factories.generation_with_output(status="queued")
    ready = factories.generation_with_output()
    review = svc.review_next(expert=expert)
    assert review is not None and review.generation_id == ready.pk
    assert review.status == Review.Status.DRAFT
    assert review.claimed_until is not None and review.claimed_until > timezone.now() + timedelta(
        minutes=59
    )


@override_settings(WORKBENCH_REVIEWS_PER_GENERATION=2)
def test_each_output_gets_k_reviewers_and_never_the_same_expert_twice() -> None:
    generation = factories.generation_with_output()
    first, second, third = factories.expert(), factories.expert(), factories.expert()
    a = svc.review_next(expert=first)
    b = svc.review_next(expert=second)
    assert a is not None and b is not None
    assert a.generation_id == b.generation_id == generation.pk
    assert svc.review_next(expert=third) is None  # both slots are held
    # The same expert asking again is not given the same output a second time.
    assert svc.review_next(expert=first) is None


@override_settings(WORKBENCH_REVIEWS_PER_GENERATION=1)
def test_an_expired_claim_frees_the_slot_and_the_old_draft_cannot_take_it_back() -> None:
    factories.generation_with_output()
    first, second = factories.expert(), factories.expert()
    stale = svc.review_next(expert=first)
    assert stale is not None
    Review.objects.filter(pk=stale.pk).update(claimed_until=timezone.now() - timedelta(minutes=1))
    taken = svc.review_next(expert=second)
    assert taken is not None and taken.generation_id == stale.generation_id
    stale.refresh_from_db()
    with pytest.raises(ValidationFailed, match="hold on this task expired"):
        svc.review_save_draft(review=stale, expert=first, data={}, version=stale.version)
    stale.refresh_from_db()
    assert stale.status == Review.Status.DRAFT  # kept, not deleted


@override_settings(WORKBENCH_REVIEWS_PER_GENERATION=1)
def test_an_expired_claim_is_renewed_by_a_save_when_the_slot_is_still_free(expert: Any) -> None:
    factories.generation_with_output()
    review = svc.review_next(expert=expert)
    assert review is not None
    Review.objects.filter(pk=review.pk).update(claimed_until=timezone.now() - timedelta(minutes=1))
    review.refresh_from_db()
    saved = svc.review_save_draft(
        review=review, expert=expert, data={"comment": "back"}, version=review.version
    )
    assert saved.claimed_until is not None and saved.claimed_until > timezone.now()


def test_outputs_in_the_experts_expertise_come_first_then_any_other(expert: Any) -> None:
    hindustani = factories.GenreFactory(name="Hindustani classical")
    other = factories.generation_with_output()
    mine = factories.generation_with_output()
    mine.song.genres.add(hindustani)
    profile = ExpertProfile.objects.create(user=expert)
    profile.genres.add(hindustani)
    first = svc.review_next(expert=expert)
    assert first is not None and first.generation_id == mine.pk
    second = svc.review_next(expert=expert)
    assert second is not None and second.generation_id == other.pk
    assert review_workspace(review=second)["outside_expertise"] is True
    assert review_workspace(review=first)["outside_expertise"] is False


@override_settings(WORKBENCH_MAX_OPEN_REVIEWS=2)
def test_an_expert_at_the_open_claim_limit_gets_their_oldest_draft_back(expert: Any) -> None:
    for _ in range(3):
        factories.generation_with_output()
    a = svc.review_next(expert=expert)
    b = svc.review_next(expert=expert)
    again = svc.review_next(expert=expert)
    assert a is not None and b is not None and a.pk != b.pk
    assert again == a
    assert Review.objects.filter(expert=expert).count() == 2


def test_a_skip_needs_a_reason_frees_the_slot_and_is_not_offered_again(draft: Review) -> None:
    expert = draft.expert
    with pytest.raises(ValidationFailed, match="why you skip"):
        svc.review_skip(review=draft, expert=expert, reason="", note="", version=draft.version)
    with pytest.raises(ValidationFailed, match="in the note"):
        svc.review_skip(review=draft, expert=expert, reason="other", note=" ", version=1)
    skipped = svc.review_skip(
        review=draft, expert=expert, reason="outside_expertise", note="", version=draft.version
    )
    assert skipped.status == Review.Status.SKIPPED and skipped.claimed_until is None
    assert svc.review_next(expert=expert) is None
    other = svc.review_next(expert=factories.expert())
    assert other is not None and other.generation_id == draft.generation_id
    assert review_queue(expert=expert).skipped_count == 1


@pytest.mark.django_db(transaction=True)
@override_settings(WORKBENCH_REVIEWS_PER_GENERATION=2)
def test_sixteen_experts_claiming_at_once_never_overfill_a_slot() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    for _ in range(6):
        factories.generation_with_output()
    experts = [factories.expert() for _ in range(16)]
    barrier = threading.Barrier(len(experts))
    claimed: list[int | None] = []
    errors: list[BaseException] = []

    def claim(user: Any) -> None:
        try:
            barrier.wait()
            for _ in range(2):
                review = svc.review_next(expert=user)
                claimed.append(review.generation_id if review else None)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(user,)) for user in experts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    per_generation: dict[int, int] = {}
    for review in Review.objects.all():
        per_generation[review.generation_id] = per_generation.get(review.generation_id, 0) + 1
    assert sorted(per_generation.values()) == [2] * 6  # every slot filled, none overfilled
    assert Review.objects.values("generation", "expert").distinct().count() == 12


# --- blindness -----------------------------------------------------------------------------------


def test_reviews_are_blind_to_other_experts_and_drafts_hidden_from_everyone_else(
    draft: Review,
) -> None:
    other_expert, admin = factories.expert(), factories.admin()
    assert access_review_for_user(draft.expert, draft.pk, write=True) == draft
    for user in (other_expert, admin):
        with pytest.raises(Http404):
            access_review_for_user(user, draft.pk)
    svc.review_save_draft(
        review=draft, expert=draft.expert, data=_complete_form(draft), version=draft.version
    )
    draft.refresh_from_db()
    svc.review_submit(review=draft, expert=draft.expert, version=draft.version)
    with pytest.raises(Http404):
        access_review_for_user(other_expert, draft.pk)  # an expert never sees another's review
    assert access_review_for_user(admin, draft.pk) == draft
    with pytest.raises(PermissionDenied):
        access_review_for_user(draft.expert, draft.pk, write=True)
    other = svc.review_next(expert=other_expert)
    assert other is not None
    context = review_workspace(review=other)
    assert context["flags"] == [] and context["review"].pk == other.pk


def test_only_the_claiming_expert_can_change_a_review(draft: Review) -> None:
    with pytest.raises(ValidationFailed, match="Only the expert"):
        svc.review_save_draft(
            review=draft, expert=factories.expert(), data={}, version=draft.version
        )


# --- optimistic concurrency ----------------------------------------------------------------------


def test_a_stale_version_is_refused_with_the_current_state(draft: Review) -> None:
    expert = draft.expert
    tab_a = svc.review_save_draft(
        review=draft, expert=expert, data={"comment": "from tab A"}, version=1
    )
    assert tab_a.version == 2
    with pytest.raises(svc.StaleReview) as refused:
        svc.review_save_draft(review=draft, expert=expert, data={"comment": "from B"}, version=1)
    assert refused.value.review.comment == "from tab A"
    with pytest.raises(svc.StaleReview):
        svc.flag_save(review=draft, expert=expert, data=_flag_data(draft), version=1)
    draft.refresh_from_db()
    assert draft.comment == "from tab A" and draft.flags.count() == 0


def test_a_missing_version_says_to_reload(draft: Review) -> None:
    with pytest.raises(ValidationFailed, match="reload"):
        svc.review_save_draft(review=draft, expert=draft.expert, data={}, version="")


def test_every_accepted_change_bumps_the_version_once(draft: Review) -> None:
    expert = draft.expert
    flag, review = svc.flag_save(review=draft, expert=expert, data=_flag_data(draft), version=1)
    assert review.version == 2
    _flag, review = svc.flag_save(
        review=draft, expert=expert, data=_flag_data(draft, "tabla"), version=2, flag=flag
    )
    assert review.version == 3 and Flag.objects.get().quoted_text == "tabla"
    review = svc.flag_delete(review=draft, expert=expert, flag=flag, version=3)
    assert review.version == 4 and not Flag.objects.exists()


# --- draft fields --------------------------------------------------------------------------------


def test_a_draft_stores_grades_ratings_metadata_and_ranks(expert: Any) -> None:
    group = GenerationGroup.objects.create(
        song=factories.SongFactory(),
        model_version=factories.ModelVersionFactory(),
        prompt=factories.PromptTemplateFactory(),
        size=2,
    )
    first = factories.generation_with_output(
        group=group,
        sibling_index=0,
        song=group.song,
        model_version=group.model_version,
        prompt=group.prompt,
    )
    second = factories.generation_with_output(
        group=group,
        sibling_index=1,
        song=group.song,
        model_version=group.model_version,
        prompt=group.prompt,
    )
    review = svc.review_next(expert=expert)
    assert review is not None
    form = _complete_form(
        review,
        step_2="incorrect",
        step_3="unverifiable",
        meta_tempo_bpm="92,5",
        meta_key="f# minor",
        meta_instruments="sitar, Tabla, tabla",
        **{f"rank_{first.pk}": "1", f"rank_{second.pk}": "1"},
    )
    saved = svc.review_save_draft(review=review, expert=expert, data=form, version=1)
    assert saved.step_grades == {
        "1": "correct",
        "2": "incorrect",
        "3": "unverifiable",
        "4": "correct",
    }
    assert saved.aspect_ratings["harmony"] == 4
    assert saved.verified_metadata["tempo_bpm"]["value"] == 92.5
    assert saved.verified_metadata["key"]["value"] == "F# minor"
    assert saved.verified_metadata["instruments"]["value"] == ["sitar", "Tabla"]
    assert saved.sibling_ranks == {str(first.pk): 1, str(second.pk): 1}  # a tie
    assert review_workspace(review=saved)["siblings"][0]["rank"] == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("verdict", "maybe", "Unknown verdict"),
        ("step_1", "sort of", "Step 1"),
        ("aspect_genre", "7", "1 to 5"),
        ("meta_tempo_bpm", "fast", "not a number"),
        ("meta_tempo_bpm", "900", "outside 10–400"),
        ("meta_key", "blue", "tonic and a mode"),
        ("meta_meter", "waltz", "time signature"),
        ("meta_genres_status", "probably", "unknown status"),
        ("comment", "x" * (svc.MAX_TEXT_CHARS + 1), "limit is"),
    ],
)
def test_a_draft_with_a_bad_field_is_refused_naming_it(
    draft: Review, field: str, value: str, message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        svc.review_save_draft(
            review=draft, expert=draft.expert, data={field: value}, version=draft.version
        )
    draft.refresh_from_db()
    assert draft.version == 1  # nothing half-saved


# --- flags ---------------------------------------------------------------------------------------


def test_a_flag_keeps_the_text_it_points_at_and_its_audio_range(draft: Review) -> None:
    factories.AudioFileFactory(song=draft.generation.song, duration_seconds=200.0)
    flag, _ = svc.flag_save(
        review=draft,
        expert=draft.expert,
        data=_flag_data(draft, audio_start="12", audio_end="20.5", note="no sitar here"),
        version=1,
    )
    assert flag.quoted_text == "Sitar"
    assert draft.generation.answer_text[flag.start_char : flag.end_char] == "Sitar"
    assert (flag.audio_start_seconds, flag.audio_end_seconds) == (12.0, 20.5)
    think = draft.generation.think_text
    start = think.index("tabla")
    reasoning_flag, _ = svc.flag_save(
        review=draft,
        expert=draft.expert,
        data=_flag_data(draft, target="reasoning", start=start, end=start + 5),
        version=2,
    )
    assert reasoning_flag.quoted_text == "tabla"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"start": 5, "end": 5}, "outside the caption"),
        ({"start": -1}, "outside the caption"),
        ({"end": 100_000}, "outside the caption"),
        ({"start": "", "end": ""}, "select the text"),
        ({"target": "lyrics"}, "Unknown flag target"),
        ({"category": "no-such-thing"}, "Choose an error category"),
        ({"severity": "catastrophic"}, "minor, major or critical"),
        ({"audio_start": "-3"}, "zero or more"),
        ({"audio_start": "abc"}, "number of seconds"),
        ({"audio_start": "", "audio_end": "10"}, "no start"),
        ({"audio_start": "30", "audio_end": "10"}, "before it starts"),
        ({"audio_start": "250"}, "recording is 200.0 s long"),
        ({"hint": "999999"}, "does not belong"),
    ],
)
def test_a_bad_flag_is_refused_saying_what_to_fix(
    draft: Review, overrides: dict[str, Any], message: str
) -> None:
    factories.AudioFileFactory(song=draft.generation.song, duration_seconds=200.0)
    with pytest.raises(ValidationFailed, match=message):
        svc.flag_save(
            review=draft, expert=draft.expert, data=_flag_data(draft, **overrides), version=1
        )
    assert not Flag.objects.exists()


def test_a_blank_selection_is_refused(draft: Review) -> None:
    text = draft.generation.answer_text
    blank = text.index(" ")
    with pytest.raises(ValidationFailed, match="blank space"):
        svc.flag_save(
            review=draft,
            expert=draft.expert,
            data=_flag_data(draft, start=blank, end=blank + 1),
            version=1,
        )


def test_reasoning_flags_need_a_reasoning_trace(expert: Any) -> None:
    factories.generation_with_output("A plain caption with no thinking at 120 BPM.")
    review = svc.review_next(expert=expert)
    assert review is not None
    with pytest.raises(ValidationFailed, match="no reasoning trace"):
        svc.flag_save(
            review=review,
            expert=expert,
            data=_flag_data(review, "caption", target="reasoning"),
            version=1,
        )


def test_a_hint_is_confirmed_as_a_flag_or_dismissed_for_this_expert_only(draft: Review) -> None:
    generation = draft.generation
    raw_start = generation.raw_text.index("92 BPM", generation.raw_text.index("<answer>"))
    hint = GenerationHint.objects.create(
        generation=generation,
        kind="tempo",
        target="answer",
        start_char=raw_start,
        end_char=raw_start + 6,
        quoted_text="92 BPM",
        message="Caption says 92 BPM; analysis measured 128.0 BPM.",
    )
    suggestion = review_workspace(review=draft)["hints"][0]
    assert suggestion["category_code"] == "wrong-tempo-meter"
    start, end = suggestion["start"], suggestion["end"]
    assert generation.answer_text[start:end] == "92 BPM"

    svc.review_hint_dismiss(review=draft, expert=draft.expert, hint=hint, version=1)
    assert review_workspace(review=Review.objects.get(pk=draft.pk))["hints"][0]["dismissed"]
    other = svc.review_next(expert=factories.expert())
    assert other is not None and not review_workspace(review=other)["hints"][0]["dismissed"]

    flag, review = svc.flag_save(
        review=draft,
        expert=draft.expert,
        data=_flag_data(draft, "92 BPM", category=suggestion["category_code"], hint=str(hint.pk)),
        version=2,
    )
    assert flag.hint == hint and review.dismissed_hints == []
    assert review_workspace(review=review)["hints"] == []


# --- submit --------------------------------------------------------------------------------------


def test_submit_lists_every_missing_piece(draft: Review) -> None:
    with pytest.raises(svc.ReviewIncomplete) as refused:
        svc.review_submit(review=draft, expert=draft.expert, version=1)
    fields = {p.field for p in refused.value.problems}
    steps = {f"step_{n}" for n in svc.generation_steps(draft.generation)}
    aspects = {f"aspect_{code}" for code, _ in svc.REVIEW_ASPECTS}
    metadata = {f"meta_{f.name}" for f in svc.METADATA_FIELDS}
    assert fields == {"verdict"} | steps | aspects | metadata
    draft.refresh_from_db()
    assert draft.status == Review.Status.DRAFT and draft.version == 1


@pytest.mark.parametrize(
    ("overrides", "with_flag", "field", "message"),
    [
        ({"verdict": "accept"}, "major", "verdict", "accept the output as it is"),
        ({"verdict": "accept_with_fixes"}, None, "corrected_caption", "needs the fixes"),
        ({"verdict": "reject"}, None, "comment", "why you reject"),
        ({"meta_key_status": "corrected", "meta_key": ""}, None, "meta_key", "enter the value"),
    ],
)
def test_submit_checks_that_the_verdict_and_the_evidence_agree(
    draft: Review,
    overrides: dict[str, str],
    with_flag: str | None,
    field: str,
    message: str,
) -> None:
    version = 1
    if with_flag:
        _flag, saved = svc.flag_save(
            review=draft,
            expert=draft.expert,
            data=_flag_data(draft, severity=with_flag),
            version=version,
        )
        version = saved.version
    saved = svc.review_save_draft(
        review=draft, expert=draft.expert, data=_complete_form(draft, **overrides), version=version
    )
    with pytest.raises(svc.ReviewIncomplete) as refused:
        svc.review_submit(review=draft, expert=draft.expert, version=saved.version)
    problems = {p.field: p.message for p in refused.value.problems}
    assert list(problems) == [field] and message in problems[field]


def test_submit_refuses_a_flag_whose_audio_range_runs_past_the_song(draft: Review) -> None:
    audio = factories.AudioFileFactory(song=draft.generation.song, duration_seconds=200.0)
    flag, saved = svc.flag_save(
        review=draft,
        expert=draft.expert,
        data=_flag_data(draft, severity="minor", audio_start="150", audio_end="190"),
        version=1,
    )
    audio.duration_seconds = 120.0  # the file was re-probed shorter since
    audio.save()
    saved = svc.review_save_draft(
        review=draft, expert=draft.expert, data=_complete_form(draft), version=saved.version
    )
    with pytest.raises(svc.ReviewIncomplete) as refused:
        svc.review_submit(review=draft, expert=draft.expert, version=saved.version)
    assert [p.field for p in refused.value.problems] == [f"flag-{flag.pk}"]
    assert "120.0 s long" in refused.value.problems[0].message


def test_siblings_must_be_ranked_or_all_marked_wrong(expert: Any) -> None:
    group = GenerationGroup.objects.create(
        song=factories.SongFactory(),
        model_version=factories.ModelVersionFactory(),
        prompt=factories.PromptTemplateFactory(),
        size=2,
    )
    for index in range(2):
        factories.generation_with_output(
            group=group,
            sibling_index=index,
            song=group.song,
            model_version=group.model_version,
            prompt=group.prompt,
        )
    review = svc.review_next(expert=expert)
    assert review is not None
    saved = svc.review_save_draft(
        review=review, expert=expert, data=_complete_form(review), version=1
    )
    assert [p.field for p in svc.review_problems(saved)] == ["siblings"]
    saved = svc.review_save_draft(
        review=review,
        expert=expert,
        data=_complete_form(review, siblings_all_wrong="on"),
        version=saved.version,
    )
    assert svc.review_problems(saved) == []


def test_a_complete_review_submits_once_and_is_then_read_only(draft: Review) -> None:
    saved = svc.review_save_draft(
        review=draft, expert=draft.expert, data=_complete_form(draft), version=1
    )
    submitted = svc.review_submit(review=draft, expert=draft.expert, version=saved.version)
    assert submitted.status == Review.Status.SUBMITTED and submitted.submitted_at is not None
    with pytest.raises(ValidationFailed, match="can no longer be changed"):
        svc.review_save_draft(review=draft, expert=draft.expert, data={}, version=submitted.version)
    assert review_queue(expert=draft.expert).submitted_count == 1


@override_settings(WORKBENCH_REVIEWS_PER_GENERATION=1)
def test_claiming_a_particular_output_follows_the_same_slot_rules() -> None:
    generation = factories.generation_with_output()
    first, second = factories.expert(), factories.expert()
    review = svc.review_claim(expert=first, generation=generation)
    assert svc.review_claim(expert=first, generation=generation) == review  # idempotent
    with pytest.raises(ValidationFailed, match="already has its 1 reviewers"):
        svc.review_claim(expert=second, generation=generation)
    unfinished = factories.generation_with_output(status="running")
    with pytest.raises(ValidationFailed, match="finished outputs"):
        svc.review_claim(expert=second, generation=unfinished)


@override_settings(WORKBENCH_REVIEWS_PER_GENERATION=1)
def test_a_fully_reviewed_output_leaves_the_queue_and_returns_when_k_grows(draft: Review) -> None:
    saved = svc.review_save_draft(
        review=draft, expert=draft.expert, data=_complete_form(draft), version=1
    )
    svc.review_submit(review=draft, expert=draft.expert, version=saved.version)
    draft.generation.refresh_from_db()
    assert draft.generation.review_complete is True
    assert svc.review_next(expert=factories.expert()) is None
    with override_settings(WORKBENCH_REVIEWS_PER_GENERATION=2):
        out = StringIO()
        call_command("sync_review_queue", stdout=out)
        assert "1 output(s) changed" in out.getvalue()
        again = svc.review_next(expert=factories.expert())
        assert again is not None and again.generation_id == draft.generation_id
