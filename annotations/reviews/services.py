"""Review work: claim the next task, save drafts and flags without losing or overwriting work, submit.

Rules the functions here enforce (tests/annotations/test_review_services.py pins each one):

- **k reviewers, no overlap.** A generation takes ``WORKBENCH_REVIEWS_PER_GENERATION`` reviews. A
  slot is held by a submitted review or by a draft whose claim has not expired; claiming locks the
  generation row (``FOR UPDATE SKIP LOCKED``, so sixteen experts pressing "next" at once never wait
  on each other) and recounts the slots inside the lock, so a slot is never handed out twice. One
  expert reviews a generation at most once (a unique constraint).
- **Blind.** Nothing here returns another expert's review; the selectors and
  ``access_review_for_user`` keep drafts private and submitted reviews hidden from other experts.
- **Claims expire.** A draft holds its slot for ``WORKBENCH_REVIEW_CLAIM_MINUTES`` after its last
  save. An expired draft is kept (nothing saved is lost); its next save takes the slot back if one
  is free, and otherwise is refused with a message that says so.
- **Optimistic concurrency.** Every change carries the version the page holds; a different version
  means another tab changed the review, and the change is refused (``StaleReview`` carries the
  current state to show). Every accepted change bumps the version.
- **Submit validates** everything at once and lists each problem with the field to fix.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from annotations.core.errors import ReviewIncomplete, StaleReview, ValidationFailed
from annotations.generations.models import Generation, GenerationHint
from annotations.reviews.models import ErrorCategory, Flag, Review
from annotations.reviews.rules import (
    MAX_FLAGS_PER_REVIEW,
    MAX_TEXT_CHARS,
    METADATA_FIELDS,
    METADATA_SOURCES,
    METADATA_STATUSES,
    REVIEW_ASPECTS,
    STEP_GRADES,
    Expertise,
    MetadataField,
    audio_range_problem,
    expertise_of,
    expertise_q,
    flag_span_problem,
    flag_target_text,
    generation_steps,
    review_problems,
    reviews_per_generation,
    sibling_ids,
    song_duration,
)
from annotations.reviews.signals import review_submitted

# The caption's aspects, as the taxonomy names them (so ratings and flag rates line up).
# Which category a confirmed machine hint becomes, by what the hint compared.
# --- the queue -----------------------------------------------------------------------------------


def _claim_until(now: Any) -> Any:
    return now + timedelta(minutes=settings.WORKBENCH_REVIEW_CLAIM_MINUTES)


def _holding_q(now: Any) -> Q:
    """Reviews that hold a slot: submitted ones and drafts whose claim is still running."""
    return Q(status=Review.Status.SUBMITTED) | Q(status=Review.Status.DRAFT, claimed_until__gt=now)


def _slots_taken(generation_id: int, now: Any, *, excluding: int | None = None) -> int:
    reviews = Review.objects.filter(_holding_q(now), generation_id=generation_id)
    if excluding is not None:
        reviews = reviews.exclude(pk=excluding)
    return reviews.count()


def reviewable_generations() -> QuerySet[Generation]:
    """Outputs an expert can review: finished, with text."""
    return Generation.objects.filter(status=Generation.Status.SUCCEEDED).exclude(answer_text="")


def review_queue_sync() -> int:
    """Recompute every output's ``review_complete`` from its submitted reviews (set-based), after
    ``WORKBENCH_REVIEWS_PER_GENERATION`` changed; returns how many rows changed."""
    submitted = _has_reviews(Q(status=Review.Status.SUBMITTED), reviews_per_generation())
    changed = (
        Generation.objects.filter(submitted)
        .filter(review_complete=False)
        .update(review_complete=True)
    )
    return changed + Generation.objects.exclude(submitted).filter(review_complete=True).update(
        review_complete=False
    )


def _has_reviews(reviews: Q, k: int) -> Exists:
    """EXISTS: the outer generation has at least ``k`` reviews matching ``reviews``."""
    return Exists(
        Review.objects.filter(reviews, generation=OuterRef("pk"))
        .order_by()
        .values("generation")
        .annotate(n=Count("id"))
        .filter(n__gte=k)
    )


def _candidates(expert: Any, now: Any, *, expertise: Expertise | None) -> QuerySet[Generation]:
    candidates = (
        reviewable_generations()
        .filter(review_complete=False)
        .exclude(Exists(Review.objects.filter(generation=OuterRef("pk"), expert=expert)))
        .exclude(_has_reviews(_holding_q(now), reviews_per_generation()))
    )
    if expertise is not None:
        candidates = candidates.filter(expertise_q(expertise))
    return candidates.order_by("id")


def review_next(*, expert: Any) -> Review | None:
    """Claim the next generation for ``expert``; ``None`` when nothing is left for them.

    Generations in the expert's declared genres, cultures or languages come first; when none is
    left, any other (the page says it is outside their expertise, and they may skip it). An expert
    at ``WORKBENCH_MAX_OPEN_REVIEWS`` unsubmitted claims gets their oldest one back instead of a
    new claim, so nobody can hoard the queue.
    """
    now = timezone.now()
    held = Review.objects.filter(
        expert=expert, status=Review.Status.DRAFT, claimed_until__gt=now
    ).order_by("created_at", "id")
    if held.count() >= settings.WORKBENCH_MAX_OPEN_REVIEWS:
        return held.first()
    expertise = expertise_of(expert)
    passes: list[Expertise | None] = [expertise, None] if expertise.declared else [None]
    for restriction in passes:
        review = _claim_first(expert, now, expertise=restriction)
        if review is not None:
            return review
    return None


def _claim_first(expert: Any, now: Any, *, expertise: Expertise | None) -> Review | None:
    k = reviews_per_generation()
    for _attempt in range(8):
        with transaction.atomic():
            locked = list(
                _candidates(expert, now, expertise=expertise)
                .select_for_update(skip_locked=True)
                .values_list("id", flat=True)[:1]
            )
            if not locked:
                return None
            generation_id = locked[0]
            # The candidate query ran on a snapshot from before the lock was taken; count again
            # now that no one else can claim this generation, so a slot is never given twice.
            if _slots_taken(generation_id, now) >= k:
                continue
            try:
                with transaction.atomic():
                    return Review.objects.create(
                        generation_id=generation_id,
                        expert=expert,
                        status=Review.Status.DRAFT,
                        claimed_until=_claim_until(now),
                    )
            except IntegrityError:
                # The same expert claimed it in another tab a moment ago: hand that one back.
                return Review.objects.get(generation_id=generation_id, expert=expert)
    return None


@transaction.atomic
def review_claim(*, expert: Any, generation: Generation) -> Review:
    """Claim one particular output (a link from its page, the demo): the same rules as "next"."""
    existing = Review.objects.filter(generation=generation, expert=expert).first()
    if existing is not None:
        return existing
    if not reviewable_generations().filter(pk=generation.pk).exists():
        raise ValidationFailed("Only finished outputs with text can be reviewed.")
    now = timezone.now()
    Generation.objects.select_for_update().only("id").get(pk=generation.pk)  # serialise claims
    if _slots_taken(generation.pk, now) >= reviews_per_generation():
        raise ValidationFailed(
            f"This output already has its {reviews_per_generation()} reviewers; take the next task."
        )
    return Review.objects.create(
        generation=generation,
        expert=expert,
        status=Review.Status.DRAFT,
        claimed_until=_claim_until(now),
    )


# --- editing a draft -----------------------------------------------------------------------------


def _as_version(version: Any) -> int:
    try:
        return int(version)
    except (TypeError, ValueError):
        raise ValidationFailed(
            "The page did not send which version of the review it shows; reload the page."
        ) from None


def _begin_edit(review: Review, expert: Any, version: Any) -> Review:
    """Lock the review, check who edits which version, and renew (or retake) the claim."""
    expected = _as_version(version)
    locked = Review.objects.select_for_update().select_related("generation").get(pk=review.pk)
    if locked.expert_id != expert.pk:
        raise ValidationFailed("Only the expert who claimed this review can change it.")
    if locked.status != Review.Status.DRAFT:
        raise ValidationFailed(
            f"This review was {locked.get_status_display().lower()} and can no longer be changed."
        )
    if locked.version != expected:
        raise StaleReview(locked)
    now = timezone.now()
    expired = locked.claimed_until is None or locked.claimed_until <= now
    if expired and _slots_taken(locked.generation_id, now, excluding=locked.pk) >= (
        reviews_per_generation()
    ):
        raise ValidationFailed(
            "Your hold on this task expired and other experts have since taken every review "
            "slot of this output. Your draft is kept, but it can no longer be saved or "
            "submitted; take the next task."
        )
    locked.claimed_until = _claim_until(now)
    return locked


def _finish_edit(review: Review, fields: list[str]) -> Review:
    review.version += 1
    review.save(update_fields=[*fields, "version", "claimed_until", "updated_at"])
    return review


def _text(data: Mapping[str, Any], key: str, *, label: str) -> str:
    value = str(data.get(key) or "")
    if len(value) > MAX_TEXT_CHARS:
        raise ValidationFailed(
            f"{label} is {len(value):,} characters long; the limit is {MAX_TEXT_CHARS:,}."
        )
    return value.replace("\r\n", "\n")


def _parse_metadata_value(field: MetadataField, raw: str) -> Any:
    """An expert's typed value as stored: numbers as numbers, lists as lists; '' is no value."""
    raw = raw.strip()
    if not raw:
        return None
    if field.kind == "number":
        try:
            value = float(raw.replace(",", "."))
        except ValueError:
            raise ValidationFailed(
                f"{field.label}: {raw!r} is not a number. {field.help}"
            ) from None
        if not math.isfinite(value) or not 10 <= value <= 400:
            raise ValidationFailed(f"{field.label}: {raw} is outside 10–400 BPM.")
        return round(value, 2)
    if field.kind == "key":
        from modeling.claims import find_keys

        raw = raw[:1].upper() + raw[1:]  # "f# minor" typed in a form is a key, not a word
        keys = find_keys(raw, 0, len(raw))
        if not keys or not keys[0].get("mode"):
            raise ValidationFailed(f"{field.label}: write a tonic and a mode. {field.help}")
        return f"{keys[0]['tonic']} {keys[0]['mode']}"
    if field.kind == "meter":
        from modeling.claims import find_meters

        meters = find_meters(raw, 0, len(raw))
        if not meters and not re.fullmatch(r"\d{1,2}\s*/\s*\d{1,2}", raw):
            raise ValidationFailed(f"{field.label}: {raw!r} is not a time signature. {field.help}")
        return meters[0]["value"] if meters else re.sub(r"\s", "", raw)
    if field.kind == "list":
        seen: dict[str, str] = {}
        for item in raw.split(","):
            item = " ".join(item.split())
            if item and item.casefold() not in seen:
                seen[item.casefold()] = item
        return list(seen.values())
    return " ".join(raw.split())


def _draft_values(review: Review, data: Mapping[str, Any]) -> dict[str, Any]:
    generation = review.generation
    verdict = str(data.get("verdict") or "")
    if verdict and verdict not in Review.Verdict.values:
        raise ValidationFailed(
            f"Unknown verdict {verdict!r}; choose accept, accept with fixes or reject."
        )

    step_grades: dict[str, str] = {}
    for number in generation_steps(generation):
        grade = str(data.get(f"step_{number}") or "")
        if grade and grade not in STEP_GRADES:
            raise ValidationFailed(
                f"Step {number}: {grade!r} is not a grade; use {', '.join(STEP_GRADES)}."
            )
        if grade:
            step_grades[str(number)] = grade

    aspect_ratings: dict[str, int] = {}
    for code, label in REVIEW_ASPECTS:
        raw = str(data.get(f"aspect_{code}") or "")
        if not raw:
            continue
        if raw not in {"1", "2", "3", "4", "5"}:
            raise ValidationFailed(f"{label}: the rating must be 1 to 5, not {raw!r}.")
        aspect_ratings[code] = int(raw)

    verified: dict[str, Any] = {}
    for field in METADATA_FIELDS:
        status = str(data.get(f"meta_{field.name}_status") or "")
        source = str(data.get(f"meta_{field.name}_source") or "")
        if status and status not in METADATA_STATUSES:
            raise ValidationFailed(f"{field.label}: unknown status {status!r}.")
        if source and source not in METADATA_SOURCES:
            raise ValidationFailed(f"{field.label}: unknown source {source!r}.")
        value = _parse_metadata_value(field, str(data.get(f"meta_{field.name}") or ""))
        if status or value is not None:
            verified[field.name] = {"value": value, "status": status, "source": source or "expert"}

    siblings = sibling_ids(generation)
    ranks: dict[str, int] = {}
    for sibling in siblings:
        raw = str(data.get(f"rank_{sibling}") or "").strip()
        if not raw:
            continue
        if not raw.isdigit() or not 1 <= int(raw) <= len(siblings):
            raise ValidationFailed(
                f"Ranks are whole numbers from 1 (best) to {len(siblings)}; got {raw!r}."
            )
        ranks[str(sibling)] = int(raw)

    return {
        "verdict": verdict,
        "comment": _text(data, "comment", label="The comment"),
        "corrected_caption": _text(data, "corrected_caption", label="The corrected caption"),
        "step_grades": step_grades,
        "aspect_ratings": aspect_ratings,
        "verified_metadata": verified,
        "sibling_ranks": ranks,
        "siblings_all_wrong": bool(siblings)
        and str(data.get("siblings_all_wrong") or "")
        in {
            "on",
            "true",
            "1",
        },
    }


@transaction.atomic
def review_save_draft(
    *, review: Review, expert: Any, data: Mapping[str, Any], version: Any
) -> Review:
    """Save the whole review form (autosave): every field every time, absent means empty."""
    locked = _begin_edit(review, expert, version)
    values = _draft_values(locked, data)
    for name, value in values.items():
        setattr(locked, name, value)
    return _finish_edit(locked, list(values))


@transaction.atomic
def review_skip(*, review: Review, expert: Any, reason: str, note: str, version: Any) -> Review:
    """Give the task back with a reason; the expert is not offered this output again."""
    if reason not in Review.SkipReason.values:
        raise ValidationFailed("Choose why you skip this output.")
    note = " ".join(str(note or "").split())
    if reason == Review.SkipReason.OTHER and not note:
        raise ValidationFailed("Say in the note why you skip this output.")
    locked = _begin_edit(review, expert, version)
    locked.status = Review.Status.SKIPPED
    locked.skip_reason = reason
    locked.skip_note = note[:2000]
    locked.claimed_until = None
    return _finish_edit(locked, ["status", "skip_reason", "skip_note"])


# --- flags ---------------------------------------------------------------------------------------


def _seconds(raw: Any, label: str) -> float | None:
    text = str(raw if raw is not None else "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValidationFailed(f"{label} must be a number of seconds, not {text!r}.") from None
    if not math.isfinite(value) or value < 0:
        raise ValidationFailed(f"{label} must be zero or more seconds.")
    return round(value, 3)


def _int(raw: Any, label: str) -> int:
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise ValidationFailed(f"{label} is missing; select the text to flag again.") from None


@transaction.atomic
def flag_save(
    *,
    review: Review,
    expert: Any,
    data: Mapping[str, Any],
    version: Any,
    flag: Flag | None = None,
) -> tuple[Flag, Review]:
    """Create a flag (``flag=None``) or change one; the span is checked against the text."""
    locked = _begin_edit(review, expert, version)
    generation = locked.generation
    target = str(data.get("target") or Flag.Target.CAPTION)
    text = flag_target_text(generation, target)
    part = "caption" if target == Flag.Target.CAPTION else "reasoning trace"
    if not text:
        raise ValidationFailed(f"This output has no {part} to flag.")
    start = _int(data.get("start"), "Where the span starts")
    end = _int(data.get("end"), "Where the span ends")
    problem = flag_span_problem(text, start, end, part=part)
    if problem:
        raise ValidationFailed(problem)
    code = str(data.get("category") or "")
    category = ErrorCategory.objects.filter(code=code, is_active=True).first()
    if category is None:
        raise ValidationFailed("Choose an error category from the taxonomy.")
    severity = str(data.get("severity") or Flag.Severity.MAJOR)
    if severity not in Flag.Severity.values:
        raise ValidationFailed("Severity must be minor, major or critical.")
    audio_start = _seconds(data.get("audio_start"), "The audio range's start")
    audio_end = _seconds(data.get("audio_end"), "The audio range's end")
    problem = audio_range_problem(audio_start, audio_end, song_duration(generation))
    if problem:
        raise ValidationFailed(problem)
    hint = None
    hint_raw = str(data.get("hint") or "").strip()
    if hint_raw:
        hint = GenerationHint.objects.filter(
            pk=_int(hint_raw, "The hint"), generation=generation
        ).first()
        if hint is None:
            raise ValidationFailed("That machine hint does not belong to this output.")

    if flag is None:
        if locked.flags.count() >= MAX_FLAGS_PER_REVIEW:
            raise ValidationFailed(
                f"A review holds at most {MAX_FLAGS_PER_REVIEW} flags; merge some spans."
            )
        flag = Flag(review=locked)
    elif flag.review_id != locked.pk:
        raise ValidationFailed("That flag belongs to another review.")
    flag.category = category
    flag.target = target
    flag.start_char, flag.end_char = start, end
    flag.quoted_text = text[start:end]
    flag.severity = severity
    flag.audio_start_seconds, flag.audio_end_seconds = audio_start, audio_end
    flag.correction = _text(data, "correction", label="The correction")
    flag.note = _text(data, "note", label="The note")
    flag.hint = hint
    flag.save()
    if hint is not None and hint.pk in (locked.dismissed_hints or []):
        locked.dismissed_hints = [h for h in locked.dismissed_hints if h != hint.pk]
    return flag, _finish_edit(locked, ["dismissed_hints"])


@transaction.atomic
def flag_delete(*, review: Review, expert: Any, flag: Flag, version: Any) -> Review:
    locked = _begin_edit(review, expert, version)
    if flag.review_id != locked.pk:
        raise ValidationFailed("That flag belongs to another review.")
    flag.delete()
    return _finish_edit(locked, [])


@transaction.atomic
def review_hint_dismiss(
    *, review: Review, expert: Any, hint: GenerationHint, version: Any, undo: bool = False
) -> Review:
    """This expert sets a machine hint aside (or brings it back); other experts still see it."""
    locked = _begin_edit(review, expert, version)
    if hint.generation_id != locked.generation_id:
        raise ValidationFailed("That machine hint does not belong to this output.")
    dismissed = [h for h in locked.dismissed_hints or [] if h != hint.pk]
    if not undo:
        dismissed.append(hint.pk)
    locked.dismissed_hints = sorted(dismissed)
    return _finish_edit(locked, ["dismissed_hints"])


# --- submitting ----------------------------------------------------------------------------------


@transaction.atomic
def review_submit(*, review: Review, expert: Any, version: Any) -> Review:
    """Submit: every rule checked at once; on success the review is final and frees no slot."""
    locked = _begin_edit(review, expert, version)
    problems = review_problems(locked)
    if problems:
        raise ReviewIncomplete(problems)
    locked.status = Review.Status.SUBMITTED
    locked.submitted_at = timezone.now()
    submitted = _finish_edit(locked, ["status", "submitted_at"])
    done = Review.objects.filter(
        generation_id=locked.generation_id, status=Review.Status.SUBMITTED
    ).count()
    if done >= reviews_per_generation():
        Generation.objects.filter(pk=locked.generation_id).update(review_complete=True)
    # The rewards room recomputes this generation's rewards and the audit room rewrites its facts
    # (their receivers; both act once this transaction commits).
    review_submitted.send(sender=Review, review=submitted)
    return submitted
