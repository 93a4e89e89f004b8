"""What the review queue and the review page show, read in a fixed, small number of queries.

Blind by construction: nothing here reads another expert's review of the same output.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from annotations.generations.models import Generation, GenerationHint
from annotations.reviews import rules as review_rules
from annotations.reviews.models import ErrorCategory, Flag, Review
from annotations.reviews.rules import (
    HINT_CATEGORY,
    HINT_SEVERITY,
    METADATA_FIELDS,
    METADATA_STATUSES,
    REVIEW_ASPECTS,
    STEP_GRADES,
)
from annotations.songs.models import SongAnalysis


@dataclass
class ReviewQueue:
    drafts: list[Review]
    recent_submitted: list[Review]
    submitted_count: int
    skipped_count: int
    claim_minutes: int
    reviews_per_generation: int
    max_open: int


def review_queue(*, expert: Any) -> ReviewQueue:
    """An expert's own work: drafts to resume (newest first) and what they submitted lately."""
    mine = Review.objects.filter(expert=expert).select_related(
        "generation__song", "generation__model_version"
    )
    counts = dict(
        Review.objects.filter(expert=expert)
        .order_by()
        .values_list("status")
        .annotate(n=Count("id"))
    )
    return ReviewQueue(
        drafts=list(mine.filter(status=Review.Status.DRAFT).order_by("-updated_at")[:50]),
        recent_submitted=list(
            mine.filter(status=Review.Status.SUBMITTED).order_by("-submitted_at")[:10]
        ),
        submitted_count=counts.get(Review.Status.SUBMITTED, 0),
        skipped_count=counts.get(Review.Status.SKIPPED, 0),
        claim_minutes=settings.WORKBENCH_REVIEW_CLAIM_MINUTES,
        reviews_per_generation=review_rules.reviews_per_generation(),
        max_open=settings.WORKBENCH_MAX_OPEN_REVIEWS,
    )


# --- text as segments ----------------------------------------------------------------------------


def _segments(
    raw: str, start: int, end: int, offset: int, stamps: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """``raw[start:end]`` cut into plain pieces and timestamp pieces, offsets relative to the part.

    ``offset`` is where the part (answer or think) starts in ``raw``; the page maps a browser
    selection back to characters of the part through each piece's ``start``.
    """
    pieces: list[dict[str, Any]] = []
    position = start
    for stamp in stamps:
        s, e = stamp["start"], stamp["end"]
        if s < position or e > end:
            continue
        if s > position:
            pieces.append(_piece(raw, position, s, offset))
        pieces.append(
            _piece(
                raw, s, e, offset, seconds=stamp["seconds"], seconds_end=stamp.get("seconds_end")
            )
        )
        position = e
    if position < end:
        pieces.append(_piece(raw, position, end, offset))
    return pieces


def _piece(
    raw: str,
    start: int,
    end: int,
    offset: int,
    *,
    seconds: float | None = None,
    seconds_end: float | None = None,
) -> dict[str, Any]:
    return {
        "start": start - offset,
        "end": end - offset,
        "text": raw[start:end],
        "seconds": seconds,
        "seconds_end": seconds_end,
    }


def _stamps_in(stamps: list[dict[str, Any]], start: int, end: int) -> list[dict[str, Any]]:
    return [s for s in stamps if start <= s["start"] and s["end"] <= end]


def caption_sections(generation: Generation) -> list[dict[str, Any]]:
    """The answer by headed sections and sentences, each sentence as segments."""
    parsed = generation.parsed or {}
    raw = generation.raw_text
    answer = parsed.get("answer")
    if not answer:
        return []
    offset = answer["start"]
    stamps = sorted(parsed.get("timestamps") or [], key=lambda s: s["start"])
    sections = []
    for section in parsed.get("sections") or []:
        heading = None
        if section.get("heading") and section.get("heading_start") is not None:
            heading = _piece(raw, section["heading_start"], section["heading_end"], offset)
        sentences = [
            {
                "start": sentence["start"] - offset,
                "end": sentence["end"] - offset,
                "segments": _segments(
                    raw,
                    sentence["start"],
                    sentence["end"],
                    offset,
                    _stamps_in(stamps, sentence["start"], sentence["end"]),
                ),
            }
            for sentence in section.get("sentences") or []
        ]
        sections.append({"heading": heading, "sentences": sentences})
    return sections


def reasoning_steps(generation: Generation, grades: dict[str, str]) -> list[dict[str, Any]]:
    parsed = generation.parsed or {}
    think = parsed.get("think")
    if not think:
        return []
    offset = think["start"]
    stamps = sorted(parsed.get("timestamps") or [], key=lambda s: s["start"])
    steps = []
    for i, step in enumerate(parsed.get("steps") or [], 1):
        number = int(step.get("index") or i)
        steps.append(
            {
                "number": number,
                "start": step["start"] - offset,
                "end": step["end"] - offset,
                "segments": _segments(
                    generation.raw_text,
                    step["start"],
                    step["end"],
                    offset,
                    _stamps_in(stamps, step["start"], step["end"]),
                ),
                "grade": grades.get(str(number), ""),
            }
        )
    return steps


# --- metadata ------------------------------------------------------------------------------------


def _display(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(shown for shown in map(_display, value) if shown)
    if isinstance(value, dict):
        if "tonic" in value:
            return " ".join(str(v) for v in (value.get("tonic"), value.get("mode")) if v)
        return _display(value.get("value"))
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def metadata_rows(
    generation: Generation, facts: dict[str, Any], verified: dict[str, Any]
) -> list[dict[str, Any]]:
    """Each field to verify: what the analysis (or the catalogue) says, what the model claims,
    and the expert's value so far (prefilled with the analysis, else the model's claim)."""
    song = generation.song
    claims = (generation.parsed or {}).get("claims") or {}
    catalogue = {
        "genres": [g.name for g in song.genres.all()],
        "languages": [language.name for language in song.languages.all()],
        "culture": [str(c) for c in song.cultures.all()],
    }
    measured = {
        "tempo_bpm": round(facts["tempo_bpm"], 1) if facts.get("tempo_bpm") else None,
        "key": facts.get("key_label"),
        "meter": facts.get("meter"),
    }
    rows = []
    for field in METADATA_FIELDS:
        reference = measured.get(field.name) or catalogue.get(field.name)
        claim = claims.get(field.name)
        if field.name == "culture":
            claim = None  # the parser does not extract traditions; the genres row carries them
        analysis_text, model_text = _display(reference), _display(claim)
        entry = verified.get(field.name) or {}
        if entry:
            value_text, source = _display(entry.get("value")), entry.get("source", "expert")
        elif analysis_text:
            value_text, source = analysis_text, "analysis"
        else:
            value_text, source = model_text, "model" if model_text else ""
        rows.append(
            {
                "field": field.name,
                "label": field.label,
                "kind": field.kind,
                "help": field.help,
                "analysis": analysis_text,
                "analysis_source": "analysis" if field.name in measured else "catalogue",
                "model": model_text,
                "value": value_text,
                "status": entry.get("status", ""),
                "source": source,
            }
        )
    return rows


# --- the page ------------------------------------------------------------------------------------


def _open_hints(generation: Generation, review: Review, flags: list[Flag]) -> list[dict[str, Any]]:
    parsed = generation.parsed or {}
    parts = {"answer": parsed.get("answer"), "think": parsed.get("think")}
    confirmed = {f.hint_id for f in flags if f.hint_id}
    dismissed = set(review.dismissed_hints or [])
    hints = []
    for hint in GenerationHint.objects.filter(generation=generation).order_by("start_char", "id"):
        if hint.pk in confirmed:
            continue
        part = parts.get(hint.target or "answer")
        start = end = None
        if part and hint.start_char is not None and hint.end_char is not None:
            start, end = hint.start_char - part["start"], hint.end_char - part["start"]
        hints.append(
            {
                "hint": hint,
                "dismissed": hint.pk in dismissed,
                "target": "reasoning" if hint.target == "think" else "caption",
                "start": start,
                "end": end,
                "quoted_text": hint.quoted_text,
                "message": hint.message,
                "category_code": HINT_CATEGORY.get(hint.kind, ""),
                "severity": HINT_SEVERITY,
            }
        )
    return hints


def _siblings(generation: Generation, review: Review, ids: list[int]) -> list[dict[str, Any]]:
    if not ids:
        return []
    siblings = Generation.objects.filter(pk__in=ids).only(
        "id", "sibling_index", "answer_text", "group_id"
    )
    ranks = review.sibling_ranks or {}
    return [
        {
            "generation": sibling,
            "label": f"Answer {chr(ord('A') + i)}" if i < 26 else f"Answer {i + 1}",
            "excerpt": sibling.answer_text,
            "rank": ranks.get(str(sibling.pk)),
            "is_current": sibling.pk == generation.pk,
        }
        for i, sibling in enumerate(sorted(siblings, key=lambda s: s.sibling_index))
    ]


def review_workspace(*, review: Review) -> dict[str, Any]:
    """The review page's context (see /tmp contract in the issue notes and the template)."""
    generation = (
        Generation.objects.select_related("song", "model_version", "prompt", "audio_file")
        .prefetch_related("song__genres", "song__cultures", "song__languages")
        .get(pk=review.generation_id)
    )
    review.generation = generation
    song = generation.song
    analysis = (
        SongAnalysis.objects.filter(song=song, status=SongAnalysis.Status.SUCCEEDED)
        .order_by("-id")
        .first()
    )
    facts = analysis.facts if analysis else {}
    audio_file_id = generation.audio_file_id or (
        analysis.audio_file_id
        if analysis
        else song.audio_files.order_by("id").values_list("id", flat=True).first()
    )
    duration = facts.get("duration_seconds") or review_rules.song_duration(generation)
    flags = _flags(review)
    sibling_ids = review_rules.sibling_ids(generation)
    now = timezone.now()
    draft = review.status == Review.Status.DRAFT
    return {
        "review": review,
        "generation": generation,
        "song": song,
        "version": review.version,
        "player": {
            "analysis": analysis,
            "audio_file_id": audio_file_id,
            "duration": duration,
            "sections": facts.get("sections") or [],
            "model_window_seconds": settings.WORKBENCH_MODEL_WINDOW_SECONDS,
        },
        "facts": facts,
        "caption_text": generation.answer_text,
        "reasoning_text": generation.think_text,
        "caption_sections": caption_sections(generation),
        "steps": reasoning_steps(generation, review.step_grades or {}),
        "step_grades": list(STEP_GRADES.items()),
        "flags": flags,
        "hints": _open_hints(generation, review, flags),
        "categories": list(ErrorCategory.objects.filter(is_active=True)),
        "severities": Flag.Severity.choices,
        "verdicts": Review.Verdict.choices,
        "skip_reasons": Review.SkipReason.choices,
        "aspects": [
            {"code": code, "label": label, "rating": (review.aspect_ratings or {}).get(code)}
            for code, label in REVIEW_ASPECTS
        ],
        "metadata": metadata_rows(generation, facts, review.verified_metadata or {}),
        "metadata_statuses": list(METADATA_STATUSES.items()),
        "siblings": _siblings(generation, review, sibling_ids),
        "problems": review_rules.review_problems(review, flags=flags, siblings=sibling_ids)
        if draft
        else [],
        "read_only": not draft,
        "claim_expired": draft and (review.claimed_until is None or review.claimed_until <= now),
        "outside_expertise": draft and not _matches_expertise(review, generation),
    }


def _flags(review: Review) -> list[Flag]:
    return list(review.flags.select_related("category").order_by("target", "start_char", "id"))


def review_flag_panel(*, review: Review) -> dict[str, Any]:
    """What a flag or hint change re-renders (flags, hints, the problems list, the version):
    the hottest saves after autosave, so not the whole page's context."""
    generation = Generation.objects.select_related("song", "audio_file").get(
        pk=review.generation_id
    )
    review.generation = generation
    flags = _flags(review)
    draft = review.status == Review.Status.DRAFT
    return {
        "review": review,
        "version": review.version,
        "flags": flags,
        "hints": _open_hints(generation, review, flags),
        "problems": review_rules.review_problems(review, flags=flags) if draft else [],
        "read_only": not draft,
    }


def _matches_expertise(review: Review, generation: Generation) -> bool:
    """Whether the song is in the expert's declared expertise (from the prefetched song terms)."""
    expertise = review_rules.expertise_of(review.expert)
    if not expertise.declared:
        return True
    song = generation.song
    return expertise.covers(
        {g.pk for g in song.genres.all()},
        {c.pk for c in song.cultures.all()},
        {language.pk for language in song.languages.all()},
    )


def taxonomy_by_kind() -> dict[str, list[ErrorCategory]]:
    grouped: dict[str, list[ErrorCategory]] = {}
    for category in ErrorCategory.objects.filter(is_active=True):
        grouped.setdefault(category.get_kind_display(), []).append(category)
    return grouped
