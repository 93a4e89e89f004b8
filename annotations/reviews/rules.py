"""The rules of a review: its vocabulary and what makes it complete. Reads only, no writes.

The grades, aspects, metadata fields and statuses a review is made of; which taxonomy category a
confirmed machine hint becomes; how many experts review an output and which outputs fall within an
expert's declared expertise; and ``review_problems``, everything that stops a review from being
submitted. The workspace page (selectors) and the writes (services) both read them here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Q

from annotations.core.errors import ReviewProblem, ValidationFailed
from annotations.generations.models import Generation
from annotations.reviews.models import ErrorCategory, ExpertProfile, Flag, Review
from annotations.songs.models import Song

STEP_GRADES = {
    "correct": "Correct",
    "incorrect": "Incorrect",
    "unverifiable": "Cannot verify from the audio",
}
REVIEW_ASPECTS: list[tuple[str, str]] = [
    (code, str(label))
    for code, label in ErrorCategory.Aspect.choices
    if code != ErrorCategory.Aspect.REASONING
]
METADATA_STATUSES = {
    "confirmed": "Confirmed",
    "corrected": "Corrected",
    "unsure": "Cannot tell",
}
METADATA_SOURCES = ("analysis", "model", "expert")


@dataclass(frozen=True)
class MetadataField:
    name: str
    label: str
    kind: str  # "number", "key", "meter", "text" or "list"
    help: str


METADATA_FIELDS: list[MetadataField] = [
    MetadataField("tempo_bpm", "Tempo (BPM)", "number", "Beats per minute, e.g. 92 or 92.5."),
    MetadataField("key", "Key / mode", "key", "e.g. F♯ minor, Bb major, D dorian."),
    MetadataField("meter", "Metre", "meter", "A time signature, e.g. 4/4, 7/8."),
    MetadataField("genres", "Genres", "list", "Comma-separated."),
    MetadataField("instruments", "Instruments", "list", "Comma-separated; only what is audible."),
    MetadataField("vocals", "Vocals", "list", "e.g. female lead, choir; 'none' if instrumental."),
    MetadataField("languages", "Languages", "list", "Languages sung; 'none' if instrumental."),
    MetadataField("culture", "Culture or tradition", "text", "e.g. Hindustani classical."),
]
METADATA_BY_NAME = {field.name: field for field in METADATA_FIELDS}

HINT_CATEGORY = {
    "tempo": "wrong-tempo-meter",
    "meter": "wrong-tempo-meter",
    "key": "wrong-key-mode",
    "timestamp": "wrong-structure-timestamps",
}
HINT_SEVERITY = Flag.Severity.MAJOR

MAX_TEXT_CHARS = 50_000
MAX_FLAGS_PER_REVIEW = 500


def reviews_per_generation() -> int:
    return max(1, int(settings.WORKBENCH_REVIEWS_PER_GENERATION))


@dataclass(frozen=True)
class Expertise:
    """The vocabulary ids an expert declared in their profile."""

    genres: frozenset[int]
    cultures: frozenset[int]
    languages: frozenset[int]

    @property
    def declared(self) -> bool:
        return bool(self.genres or self.cultures or self.languages)

    def covers(self, genres: set[int], cultures: set[int], languages: set[int]) -> bool:
        return bool(self.genres & genres or self.cultures & cultures or self.languages & languages)


def expertise_of(expert: Any) -> Expertise:
    """Three small index lookups; the ids then go into queries as literals, which PostgreSQL
    matches through the song tables' indexes instead of hashing a subquery every time."""

    def ids(field: str, column: str) -> frozenset[int]:
        through = getattr(ExpertProfile, field).through
        rows = through._default_manager.filter(expertprofile__user_id=expert.pk)
        return frozenset(rows.values_list(column, flat=True))

    return Expertise(
        genres=ids("genres", "genre_id"),
        cultures=ids("cultures", "culture_id"),
        languages=ids("languages", "language_id"),
    )


def expertise_q(expertise: Expertise) -> Q:
    """Songs in one of the expert's genres, cultures or languages (EXISTS, so no duplicate rows)."""
    tables: list[tuple[Any, str, frozenset[int]]] = [
        (Song.genres.through, "genre_id", expertise.genres),
        (Song.cultures.through, "culture_id", expertise.cultures),
        (Song.languages.through, "language_id", expertise.languages),
    ]
    matches = Q(pk__in=[])
    for model, column, ids in tables:
        if ids:
            matches |= Q(
                Exists(
                    model._default_manager.filter(
                        song_id=OuterRef("song_id"), **{f"{column}__in": sorted(ids)}
                    )
                )
            )
    return matches


def generation_steps(generation: Generation) -> list[int]:
    """The step numbers the page shows for the reasoning trace (as experts grade them)."""
    steps = (generation.parsed or {}).get("steps") or []
    return [int(step.get("index") or i) for i, step in enumerate(steps, 1)]


def sibling_ids(generation: Generation) -> list[int]:
    if generation.group_id is None:
        return []
    ids = list(
        Generation.objects.filter(group_id=generation.group_id)
        .order_by("sibling_index")
        .values_list("id", flat=True)
    )
    return ids if len(ids) > 1 else []


def flag_target_text(generation: Generation, target: str) -> str:
    if target == Flag.Target.CAPTION:
        return generation.answer_text
    if target == Flag.Target.REASONING:
        return generation.think_text
    raise ValidationFailed(f"Unknown flag target {target!r}; use caption or reasoning.")


def song_duration(generation: Generation) -> float | None:
    """The length of the recording the expert hears (the file the model heard, else the song's)."""
    if generation.audio_file_id is not None and generation.audio_file is not None:
        return generation.audio_file.duration_seconds
    first = generation.song.audio_files.order_by("id").values_list("duration_seconds", flat=True)
    return next(iter(first), None)


def flag_span_problem(text: str, start: int, end: int, *, part: str) -> str | None:
    """Why ``[start, end)`` cannot be a flag in ``text``, or ``None``."""
    if not 0 <= start < end <= len(text):
        return (
            f"The flagged span [{start}, {end}) lies outside the {part} ({len(text)} characters); "
            "select text inside it."
        )
    if not text[start:end].strip():
        return "The selection is only blank space; select the words that are wrong."
    return None


def audio_range_problem(
    start: float | None, end: float | None, duration: float | None
) -> str | None:
    if start is None and end is not None:
        return "The audio range has an end but no start."
    if start is not None and end is not None and end < start:
        return f"The audio range ends ({end:.1f} s) before it starts ({start:.1f} s)."
    if duration is not None:
        for value in (start, end):
            if value is not None and value > duration + 0.05:
                return (
                    f"The audio range reaches {value:.1f} s but the recording is "
                    f"{duration:.1f} s long."
                )
    return None


def review_problems(
    review: Review, *, flags: list[Flag] | None = None, siblings: list[int] | None = None
) -> list[ReviewProblem]:
    """Everything that stops ``review`` from being submitted, each with the field to fix.

    ``flags`` and ``siblings`` save a query each when the caller has already read them.
    """
    generation = review.generation
    problems: list[ReviewProblem] = []
    add = lambda field, message: problems.append(ReviewProblem(field, message))  # noqa: E731
    flags = list(review.flags.all()) if flags is None else flags

    if not review.verdict:
        add("verdict", "Choose a verdict: accept, accept with fixes or reject.")
    serious = [f for f in flags if f.severity != Flag.Severity.MINOR]
    if review.verdict == Review.Verdict.ACCEPT and serious:
        add(
            "verdict",
            f"You flagged {len(serious)} major or critical error(s) but accept the output as it "
            "is: choose accept with fixes or reject, or lower the flags' severity.",
        )
    corrected = review.corrected_caption.strip()
    if (
        review.verdict == Review.Verdict.ACCEPT_WITH_FIXES
        and not flags
        and (not corrected or corrected == generation.answer_text.strip())
    ):
        add(
            "corrected_caption",
            "Accept with fixes needs the fixes: flag the wrong spans or correct the caption.",
        )
    if review.verdict == Review.Verdict.REJECT and not flags and not review.comment.strip():
        add("comment", "Say why you reject the output: flag the wrong spans or write a comment.")

    for number in generation_steps(generation):
        if str(number) not in (review.step_grades or {}):
            add(f"step_{number}", f"Grade reasoning step {number}.")
    for code, label in REVIEW_ASPECTS:
        if code not in (review.aspect_ratings or {}):
            add(f"aspect_{code}", f"Rate the caption's {label.lower()} (1–5).")

    verified = review.verified_metadata or {}
    for field in METADATA_FIELDS:
        entry = verified.get(field.name) or {}
        if not entry.get("status"):
            add(f"meta_{field.name}", f"Verify {field.label.lower()}: confirm, correct or mark it.")
        elif entry["status"] != "unsure" and entry.get("value") in (None, "", []):
            add(f"meta_{field.name}", f"{field.label}: enter the value you confirm.")

    siblings = sibling_ids(generation) if siblings is None else siblings
    if siblings and not review.siblings_all_wrong:
        missing = [s for s in siblings if str(s) not in (review.sibling_ranks or {})]
        if missing:
            add(
                "siblings",
                f"Rank all {len(siblings)} alternative answers (ties allowed), or mark them all wrong.",
            )

    duration = song_duration(generation)
    for flag in flags:
        text = flag_target_text(generation, flag.target)
        part = "caption" if flag.target == Flag.Target.CAPTION else "reasoning trace"
        problem = flag_span_problem(text, flag.start_char, flag.end_char, part=part)
        if problem is None and text[flag.start_char : flag.end_char] != flag.quoted_text:
            problem = "The flagged text no longer matches the output; select it again."
        problem = problem or audio_range_problem(
            flag.audio_start_seconds, flag.audio_end_seconds, duration
        )
        if problem:
            add(f"flag-{flag.pk}", f"Flag “{flag.quoted_text[:40]}”: {problem}")
    return problems
