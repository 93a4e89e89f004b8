"""Dataset snapshots: curated expert feedback frozen into content-hashed files TRL loads directly.

A snapshot is created from filters (``snapshot_create``, status *building*) and built once by the
``workers.datasets.build_snapshot`` task (``snapshot_build``), which:

- selects the generations the filters allow and the submitted reviews that count (submitted in
  the date range, with a verdict the filters allow, on those generations' model versions);
- turns them into rows of three formats (the row sources below), each row naming its song, its
  audio file (a path relative to the storage root, with its hash), and the song's genre and
  culture;
- splits train/eval **by song** (no song in both), stratified by (genre, culture) and
  deterministic for ``split_seed``;
- writes ``<format>/<split>.jsonl`` and ``manifest.json`` under
  ``datasets/<content sha256[:16]>/<snapshot id>/`` in storage, records a ``DatasetExample`` per
  line, the counts and the balance, and freezes the snapshot. A frozen snapshot never changes:
  building it again returns it as it is, and the services here refuse to edit it.

Row sources (an expert "agrees" when their review counts under the filters; an output needs at
least ``min_agreeing_experts`` counting reviews to give SFT rows or a correction pair):

- **SFT** ``corrected_caption``: each counting review's corrected caption (a thinking prompt's
  target keeps the original reasoning, and is written only when that review graded none of its
  steps incorrect);
  ``accepted_trace``: a thinking output that at least ``min_agreeing_experts`` counting reviews
  accept, a strict majority of them, every accepting review grading every step correct;
  ``accepted_caption``: the same for an output of a prompt without thinking.
- **GRPO** one row per (song, prompt): ``question`` rows (a prompt with an answer field) carry the
  experts' agreed answer; ``caption`` rows carry the verified metadata. A field counts when a
  strict majority of the experts verifying it agree (``modeling.rewards.ground_truth``) and at
  least ``min_agreeing_experts`` of them give the agreed value.
- **DPO** ``ranking``: within a sibling group, each pair whose Bradley–Terry preference
  (``modeling.rewards.preference``) over the counting rankings puts one above the other, when at
  least ``min_agreeing_experts`` rankings (and more than rank them the other way) agree; no pairs
  where most rankings say every sibling is wrong; ``correction``: a corrected caption preferred
  to the original output.

Metadata and rankings count each expert once (their latest review of the song or group): an
expert verifies the song, and ranks the siblings, on every output they review. Targets use the
paper's ``<think>…</think><answer>…</answer>`` for thinking prompts and the bare answer otherwise;
a thinking output without reasoning gives no SFT target and is never a chosen answer.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import logging
import os
import random
import shutil
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.core.task_claims import locked_row
from annotations.datasets.models import (
    FORMATS,
    MANIFEST,
    SPLITS,
    STORAGE_DIR,
    DatasetExample,
    DatasetSnapshot,
)
from annotations.generations.models import Generation, ModelVersion, PromptTemplate
from annotations.reviews.models import Review
from annotations.songs.models import AudioFile, Culture, Genre, Song, SongAnalysis

log = logging.getLogger(__name__)

MAX_NAME_LENGTH = 200
MAX_AGREEING_EXPERTS = 20

# What a prompt is for, as the filters name it.
PROMPT_KINDS: dict[str, str] = {
    "caption": "Caption",
    "thinking_caption": "Caption with reasoning",
    "question": "Question with a verified answer",
}
# The analysis facts modeling.hints.find_hints reads.
ANALYSIS_FACTS = (
    "tempo_bpm",
    "tempo_confidence",
    "key_tonic",
    "key_mode",
    "key_confidence",
    "duration_seconds",
)
FILTER_KEYS = (
    "model_versions",
    "date_from",
    "date_to",
    "genres",
    "cultures",
    "verdicts",
    "min_agreeing_experts",
    "prompt_kinds",
)

ProgressCallback = Callable[[float, str], None]


# --- Creating ----------------------------------------------------------------------------------


def snapshot_filters_clean(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The filters in their stored form (sorted lists, ISO dates), or ValidationFailed saying what
    to fix. Missing keys mean "no restriction"; ``min_agreeing_experts`` defaults to 1."""
    unknown = sorted(set(filters) - set(FILTER_KEYS))
    if unknown:
        raise ValidationFailed(
            f"Unknown filter(s): {', '.join(unknown)}. Known: {', '.join(FILTER_KEYS)}."
        )
    clean: dict[str, Any] = {}

    versions = sorted({_int(v, "Model version") for v in filters.get("model_versions") or []})
    known = set(ModelVersion.objects.filter(pk__in=versions).values_list("pk", flat=True))
    if set(versions) - known:
        missing = ", ".join(str(v) for v in sorted(set(versions) - known))
        raise ValidationFailed(f"No model version with id {missing}.")
    clean["model_versions"] = versions

    for key, model, label in (("genres", Genre, "genre"), ("cultures", Culture, "culture")):
        slugs = sorted({str(s).strip() for s in filters.get(key) or [] if str(s).strip()})
        found = set(model.objects.filter(slug__in=slugs).values_list("slug", flat=True))
        if set(slugs) - found:
            raise ValidationFailed(f"Unknown {label}: {', '.join(sorted(set(slugs) - found))}.")
        clean[key] = slugs

    verdicts = sorted({str(v) for v in filters.get("verdicts") or []})
    bad = [v for v in verdicts if v not in Review.Verdict.values]
    if bad:
        raise ValidationFailed(
            f"Unknown verdict(s) {', '.join(bad)}; use {', '.join(Review.Verdict.values)}."
        )
    clean["verdicts"] = verdicts

    kinds = sorted({str(k) for k in filters.get("prompt_kinds") or []})
    bad = [k for k in kinds if k not in PROMPT_KINDS]
    if bad:
        raise ValidationFailed(
            f"Unknown prompt kind(s) {', '.join(bad)}; use {', '.join(PROMPT_KINDS)}."
        )
    clean["prompt_kinds"] = kinds

    dates = {}
    for key, label in (("date_from", "The start date"), ("date_to", "The end date")):
        raw = filters.get(key)
        if raw in (None, ""):
            clean[key] = None
            continue
        try:
            dates[key] = (
                raw if isinstance(raw, datetime.date) else datetime.date.fromisoformat(str(raw))
            )
        except ValueError:
            raise ValidationFailed(f"{label} {raw!r} is not a date (YYYY-MM-DD).") from None
        clean[key] = dates[key].isoformat()
    if "date_from" in dates and "date_to" in dates and dates["date_from"] > dates["date_to"]:
        raise ValidationFailed("The start date is after the end date.")

    raw_minimum = filters.get("min_agreeing_experts")
    minimum = _int(
        1 if raw_minimum in (None, "") else raw_minimum, "The minimum of agreeing experts"
    )
    if not 1 <= minimum <= MAX_AGREEING_EXPERTS:
        raise ValidationFailed(
            f"The minimum of agreeing experts must be 1 to {MAX_AGREEING_EXPERTS}, not {minimum}."
        )
    clean["min_agreeing_experts"] = minimum
    return clean


def _int(value: Any, label: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(f"{label}: {value!r} is not a whole number.") from None


@transaction.atomic
def snapshot_create(
    *,
    name: str,
    filters: Mapping[str, Any],
    eval_fraction: float,
    split_seed: int,
    actor: Any,
    description: str = "",
    enqueue: bool = True,
) -> DatasetSnapshot:
    """A new snapshot in status *building*; its build is queued once this transaction commits.

    ``enqueue=False`` leaves the build to the caller (``snapshot_build`` in-process: the demo and
    tests). Raises ValidationFailed for a taken name or bad filters.
    """
    name = " ".join(str(name).split())
    if not name:
        raise ValidationFailed("Give the snapshot a name.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(f"The name is longer than {MAX_NAME_LENGTH} characters.")
    if DatasetSnapshot.objects.filter(name=name).exists():
        raise ValidationFailed(f"A snapshot named {name!r} exists already; choose another name.")
    try:
        fraction = float(eval_fraction)
    except (TypeError, ValueError):
        raise ValidationFailed(f"The eval share {eval_fraction!r} is not a number.") from None
    if not 0.0 <= fraction < 1.0:
        raise ValidationFailed(f"The eval share must be at least 0 and below 1, not {fraction}.")
    seed = _int(split_seed, "The split seed")
    if seed < 0:
        raise ValidationFailed("The split seed must be 0 or more.")
    snapshot = DatasetSnapshot(
        name=name,
        description=description.strip(),
        filters=snapshot_filters_clean(filters),
        eval_fraction=fraction,
        split_seed=seed,
        status=DatasetSnapshot.Status.BUILDING,
        created_by=actor if actor is not None and actor.is_authenticated else None,
        celery_task_id=str(uuid.uuid4()) if enqueue else "",
    )
    snapshot.full_clean(exclude=["created_by"])  # nullable: a script or the demo has no user
    snapshot.save()
    if enqueue:
        transaction.on_commit(partial(_enqueue, snapshot.pk, snapshot.celery_task_id))
    return snapshot


def _enqueue(snapshot_id: int, task_id: str) -> None:
    from workers.datasets import build_snapshot

    build_snapshot.apply_async(args=[snapshot_id], task_id=task_id)


def snapshot_assert_mutable(snapshot: DatasetSnapshot) -> None:
    """Raise ValidationFailed if ``snapshot`` is frozen: its files and rows never change."""
    if snapshot.status == DatasetSnapshot.Status.FROZEN:
        raise ValidationFailed(
            f"{snapshot.name} is frozen (content {snapshot.content_sha256[:16]}); a frozen "
            "snapshot never changes. Create a new snapshot instead."
        )


@transaction.atomic
def snapshot_retry(*, snapshot: DatasetSnapshot, actor: Any) -> DatasetSnapshot:
    """Build a failed snapshot again (after its cause was fixed). Frozen snapshots are refused."""
    locked = DatasetSnapshot.objects.select_for_update().get(pk=snapshot.pk)
    snapshot_assert_mutable(locked)
    if locked.status != DatasetSnapshot.Status.FAILED:
        raise ValidationFailed(f"{locked.name} is still building.")
    locked.status = DatasetSnapshot.Status.BUILDING
    locked.error = ""
    locked.celery_task_id = str(uuid.uuid4())
    locked.save(update_fields=["status", "error", "celery_task_id", "updated_at"])
    transaction.on_commit(partial(_enqueue, locked.pk, locked.celery_task_id))
    return locked


# --- Building ----------------------------------------------------------------------------------


@dataclass
class _Row:
    format: str
    source: str
    song_id: int
    data: dict[str, Any]  # the JSON line, without the common keys
    generation_id: int | None = None
    rejected_generation_id: int | None = None
    review_ids: list[int] = field(default_factory=list)
    agreeing: int = 0
    key: str = ""  # the row's "id"


@dataclass
class _Inputs:
    generations: list[dict[str, Any]]
    prompts: dict[int, dict[str, Any]]
    reviews_by_generation: dict[int, list[dict[str, Any]]]
    reviews_by_song: dict[int, list[dict[str, Any]]]
    members_by_group: dict[int, list[int]]
    songs: dict[int, dict[str, Any]]  # genre, culture, audio
    facts: dict[int, dict[str, Any]]


def snapshot_build(
    *, snapshot_id: int, task_id: str = "", on_progress: ProgressCallback | None = None
) -> DatasetSnapshot:
    """Build and freeze the snapshot; idempotent.

    A frozen (or failed) snapshot is returned unchanged; a failed build is recorded on the row
    with a message a person can act on, never raised. The row stays locked while it builds
    (``task_claims.locked_row``), so a redelivered task waits for this one and then finds the
    snapshot frozen.
    """
    progress = on_progress or (lambda fraction, stage: None)
    written: list[Path] = []
    try:
        with locked_row(
            DatasetSnapshot.objects.all(),
            pk=snapshot_id,
            status=DatasetSnapshot.Status.BUILDING,
            task_id=task_id,
        ) as locked:
            if locked is None:
                return DatasetSnapshot.objects.get(pk=snapshot_id)
            progress(0.05, "Selecting reviewed outputs")
            inputs = _load(locked.filters)
            progress(0.4, "Turning reviews into rows")
            rows = _rows(inputs, locked.filters)
            if not rows:
                raise ValidationFailed(
                    "No examples match these filters: no reviewed output, ranking or verified "
                    "metadata passes them. Widen the filters (verdicts, dates, minimum of "
                    "agreeing experts) and create a new snapshot."
                )
            _check_audio(rows, inputs)
            progress(0.6, "Splitting by song")
            splits = split_by_song(
                {row.song_id: _stratum(inputs.songs[row.song_id]) for row in rows},
                eval_fraction=locked.eval_fraction,
                seed=locked.split_seed,
            )
            progress(0.7, "Writing files")
            files, lines = _write_files(locked, rows, inputs, splits, written)
            progress(0.9, "Recording rows")
            _freeze(locked, files, lines, splits, inputs.songs)
        progress(1.0, "Frozen")
        return locked
    except Exception as exc:
        for path in written:
            shutil.rmtree(path, ignore_errors=True)
        if isinstance(exc, ValidationFailed):
            reason = exc.message
        else:
            log.exception("building dataset snapshot %s failed", snapshot_id)
            reason = f"The build stopped with an unexpected error ({type(exc).__name__}: {exc})."
        return snapshot_mark_failed(snapshot_id=snapshot_id, reason=reason)


def snapshot_mark_failed(*, snapshot_id: int, reason: str) -> DatasetSnapshot:
    """Record why a build failed (shown on its page). A frozen snapshot is left as it is."""
    DatasetSnapshot.objects.filter(pk=snapshot_id).exclude(
        status=DatasetSnapshot.Status.FROZEN
    ).update(status=DatasetSnapshot.Status.FAILED, error=reason[:4000], updated_at=timezone.now())
    return DatasetSnapshot.objects.get(pk=snapshot_id)


def _prompt_kind_q(kinds: Iterable[str]) -> Q:
    q = Q(pk__in=[])
    for kind in kinds:
        if kind == "question":
            q |= ~Q(prompt__answer_field="")
        else:
            q |= Q(prompt__answer_field="", prompt__thinking=kind == "thinking_caption")
    return q


def _load(filters: Mapping[str, Any]) -> _Inputs:
    generations_q = Q(status=Generation.Status.SUCCEEDED)
    if filters.get("model_versions"):
        generations_q &= Q(model_version_id__in=filters["model_versions"])
    songs = Song.objects.all()
    if filters.get("genres"):
        songs = songs.filter(genres__slug__in=filters["genres"])
    if filters.get("cultures"):
        songs = songs.filter(cultures__slug__in=filters["cultures"])
    if filters.get("genres") or filters.get("cultures"):
        generations_q &= Q(song_id__in=songs.values("pk"))
    chosen = Generation.objects.filter(generations_q)
    if filters.get("prompt_kinds"):
        chosen = chosen.filter(_prompt_kind_q(filters["prompt_kinds"]))
    generations: list[dict[str, Any]] = [
        dict(g)
        for g in chosen.order_by("pk").values(
            "id",
            "song_id",
            "group_id",
            "prompt_id",
            "model_version_id",
            "think_text",
            "answer_text",
            "audio_file_id",
            "parsed__steps",
        )
    ]
    song_ids: list[int] = sorted({g["song_id"] for g in generations})

    # The reviews that count: submitted in the date range with an allowed verdict, on any output
    # of these songs by an allowed model version (metadata is about the song, whatever the prompt).
    reviews_q = Q(status=Review.Status.SUBMITTED, generation__song_id__in=song_ids)
    if filters.get("model_versions"):
        reviews_q &= Q(generation__model_version_id__in=filters["model_versions"])
    if filters.get("verdicts"):
        reviews_q &= Q(verdict__in=filters["verdicts"])
    tz = timezone.get_current_timezone()
    if filters.get("date_from"):
        start = datetime.date.fromisoformat(filters["date_from"])
        reviews_q &= Q(submitted_at__gte=datetime.datetime.combine(start, datetime.time(), tz))
    if filters.get("date_to"):
        end = datetime.date.fromisoformat(filters["date_to"]) + datetime.timedelta(days=1)
        reviews_q &= Q(submitted_at__lt=datetime.datetime.combine(end, datetime.time(), tz))
    reviews_by_generation: dict[int, list[dict[str, Any]]] = defaultdict(list)
    reviews_by_song: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for review in (
        Review.objects.filter(reviews_q)
        .order_by("pk")
        .values(
            "id",
            "expert_id",
            "generation_id",
            "generation__song_id",
            "verdict",
            "corrected_caption",
            "step_grades",
            "verified_metadata",
            "sibling_ranks",
            "siblings_all_wrong",
        )
    ):
        reviews_by_generation[review["generation_id"]].append(dict(review))
        reviews_by_song[review["generation__song_id"]].append(dict(review))

    prompts: dict[int, dict[str, Any]] = {
        p["id"]: dict(p)
        for p in PromptTemplate.objects.filter(pk__in={g["prompt_id"] for g in generations}).values(
            "id", "text", "thinking", "answer_field", "answer_options"
        )
    }
    members_by_group: dict[int, list[int]] = defaultdict(list)
    for member_id, group_id in (
        Generation.objects.filter(
            group_id__in={g["group_id"] for g in generations if g["group_id"] is not None}
        )
        .order_by("sibling_index", "pk")
        .values_list("id", "group_id")
    ):
        members_by_group[group_id].append(member_id)

    song_rows: dict[int, dict[str, Any]] = {
        pk: {"genre": "", "culture": "", "audio": None, "audio_by_id": {}} for pk in song_ids
    }
    # The first term by name is the song's label for balance and stratification.
    for song_id, name in (
        Song.genres.through.objects.filter(song_id__in=song_ids)
        .order_by("song_id", "genre__name", "genre__slug")
        .values_list("song_id", "genre__name")
    ):
        song_rows[song_id]["genre"] = song_rows[song_id]["genre"] or name
    for song_id, name in (
        Song.cultures.through.objects.filter(song_id__in=song_ids)
        .order_by("song_id", "culture__name", "culture__slug")
        .values_list("song_id", "culture__name")
    ):
        song_rows[song_id]["culture"] = song_rows[song_id]["culture"] or name
    for audio in (
        AudioFile.objects.filter(song_id__in=song_ids)
        .order_by("song_id", "pk")
        .values("id", "song_id", "file", "sha256")
    ):
        entry = {"id": audio["id"], "path": audio["file"], "sha256": audio["sha256"]}
        song_rows[audio["song_id"]]["audio_by_id"][audio["id"]] = entry
        if song_rows[audio["song_id"]]["audio"] is None:
            song_rows[audio["song_id"]]["audio"] = entry
    facts: dict[int, dict[str, Any]] = {}
    for song_id, song_facts in (
        SongAnalysis.objects.filter(song_id__in=song_ids, status=SongAnalysis.Status.SUCCEEDED)
        .order_by("song_id", "-finished_at", "-pk")
        .values_list("song_id", "facts")
    ):
        if song_id not in facts:
            facts[song_id] = {
                k: (song_facts or {}).get(k)
                for k in ANALYSIS_FACTS
                if (song_facts or {}).get(k) is not None
            }
    return _Inputs(
        generations,
        prompts,
        reviews_by_generation,
        reviews_by_song,
        members_by_group,
        song_rows,
        facts,
    )


def _user_message(prompt: Mapping[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "audio"}, {"type": "text", "text": _text(prompt)}]}


def _assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": [{"type": "text", "text": text}]}


def _text(prompt: Mapping[str, Any]) -> str:
    from modeling.prompts import full_text

    return full_text(str(prompt["text"]), thinking=bool(prompt.get("thinking")))


def _target(think: str, answer: str) -> str:
    """What the model should say: the paper's thinking format when there is reasoning."""
    think, answer = think.strip(), answer.strip()
    return f"<think>{think}</think><answer>{answer}</answer>" if think else answer


def _steps(generation: Mapping[str, Any]) -> list[str]:
    steps = generation.get("parsed__steps") or []
    return [str(int(step.get("index") or i)) for i, step in enumerate(steps, 1)]


def _rows(inputs: _Inputs, filters: Mapping[str, Any]) -> list[_Row]:
    minimum = int(filters.get("min_agreeing_experts") or 1)
    rows: list[_Row] = []
    for generation in inputs.generations:
        rows.extend(_generation_rows(generation, inputs, minimum))
    rows.extend(_grpo_rows(inputs, minimum))
    rows.extend(_ranking_rows(inputs, minimum))
    for row in rows:
        row.key = _row_key(row)
    rows.sort(key=lambda r: r.key)
    return rows


def _row_key(row: _Row) -> str:
    if row.format == "grpo":
        return f"grpo-{row.song_id}-{row.data['_prompt_id']}"
    if row.source == "ranking":
        return f"dpo-{row.generation_id}-{row.rejected_generation_id}-ranking"
    if row.source in {"corrected_caption", "correction"}:
        return f"{row.format}-{row.generation_id}-correction-{row.review_ids[0]}"
    return f"{row.format}-{row.generation_id}-{row.source}"


def _generation_rows(
    generation: Mapping[str, Any], inputs: _Inputs, minimum: int
) -> Iterable[_Row]:
    """SFT rows (corrections, accepted traces and captions) and DPO correction pairs."""
    counted = inputs.reviews_by_generation.get(generation["id"], [])
    if len(counted) < minimum:
        return
    prompt = inputs.prompts[generation["prompt_id"]]
    thinking = bool(prompt["thinking"])
    think, answer = generation["think_text"], generation["answer_text"]
    if thinking and not think.strip():
        return  # a thinking prompt answered without reasoning teaches the wrong format
    steps = _steps(generation)
    user = _user_message(prompt)
    said = _said(generation, thinking)
    song_id, generation_id = generation["song_id"], generation["id"]

    for review in counted:
        corrected = review["corrected_caption"].strip()
        if not corrected or corrected == answer.strip():
            continue
        grades = review["step_grades"] or {}
        if thinking and any(grades.get(step) == "incorrect" for step in steps):
            continue  # the reasoning this expert found wrong would lead to their caption
        target = _target(think if thinking else "", corrected)
        yield _Row(
            "sft",
            "corrected_caption",
            song_id,
            {"messages": [user, _assistant(target)]},
            generation_id=generation_id,
            review_ids=[review["id"]],
            agreeing=len(counted),
        )
        if answer.strip():
            yield _Row(
                "dpo",
                "correction",
                song_id,
                {
                    "prompt": [user],
                    "chosen": [_assistant(target)],
                    "rejected": [_assistant(said)],
                },
                generation_id=generation_id,
                rejected_generation_id=generation_id,
                review_ids=[review["id"]],
                agreeing=len(counted),
            )

    accepts = [r for r in counted if r["verdict"] == Review.Verdict.ACCEPT]
    if not answer.strip() or len(accepts) < minimum or 2 * len(accepts) <= len(counted):
        return
    if thinking:
        all_correct = bool(steps) and all(
            (r["step_grades"] or {}).get(step) == "correct" for r in accepts for step in steps
        )
        if not all_correct:
            return
        source = "accepted_trace"
    else:
        source = "accepted_caption"
    yield _Row(
        "sft",
        source,
        song_id,
        {"messages": [user, _assistant(said)]},
        generation_id=generation_id,
        review_ids=[r["id"] for r in accepts],
        agreeing=len(accepts),
    )


def _verified(reviews: list[dict[str, Any]], minimum: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Agreed metadata with at least ``minimum`` supporters, and each field's supporters."""
    from modeling.rewards.ground_truth import ground_truth

    # An expert verifies the song on each output they review: their latest verification counts once.
    latest: dict[int, dict[str, Any]] = {}
    for review in reviews:
        if review["verified_metadata"]:
            latest[review["expert_id"]] = review  # reviews come in id order
    metadata, agreements = ground_truth(
        [(r["id"], r["verified_metadata"]) for r in sorted(latest.values(), key=lambda r: r["id"])]
    )
    kept = {k: v for k, v in metadata.items() if len(agreements[k].supporters) >= minimum}
    return kept, {k: sorted(agreements[k].supporters) for k in kept}


def _grpo_rows(inputs: _Inputs, minimum: int) -> Iterable[_Row]:
    from modeling.rewards.accuracy import gold_answer_text

    first_generation: dict[tuple[int, int], int] = {}
    for generation in inputs.generations:
        first_generation.setdefault(
            (generation["song_id"], generation["prompt_id"]), generation["id"]
        )
    truth = {
        song_id: _verified(inputs.reviews_by_song.get(song_id, []), minimum)
        for song_id in {song for song, _ in first_generation}
    }
    for (song_id, prompt_id), generation_id in sorted(first_generation.items()):
        metadata, supporters = truth[song_id]
        prompt = inputs.prompts[prompt_id]
        field_name = prompt["answer_field"]
        if field_name:
            if metadata.get(field_name) in (None, "", []):
                continue
            answer: str | None = gold_answer_text(metadata[field_name])
            backing = supporters[field_name]
            agreeing = len(backing)
            source = "question"
        else:
            if not metadata:
                continue
            answer = None
            backing = sorted({r for ids in supporters.values() for r in ids})
            agreeing = min(len(ids) for ids in supporters.values())
            source = "caption"
        yield _Row(
            "grpo",
            source,
            song_id=song_id,
            generation_id=generation_id,
            data={
                "_prompt_id": prompt_id,
                "prompt": [_user_message(prompt)],
                "answer": answer,
                "options": list(prompt["answer_options"]) or None,
                "metadata": metadata,
                "analysis": inputs.facts.get(song_id, {}),
            },
            review_ids=backing,
            agreeing=agreeing,
        )


def _ranking_rows(inputs: _Inputs, minimum: int) -> Iterable[_Row]:
    from modeling.rewards.preference import score_preference_group

    by_id = {g["id"]: g for g in inputs.generations}
    for group_id in sorted(inputs.members_by_group):
        members = list(inputs.members_by_group[group_id])
        eligible = [m for m in members if m in by_id and by_id[m]["answer_text"].strip()]
        if len(eligible) < 2:
            continue
        # An expert ranks the siblings on each sibling's review: their latest ranking counts once.
        latest: dict[int, dict[str, Any]] = {}
        for member in members:
            for review in inputs.reviews_by_generation.get(member, []):
                if review["sibling_ranks"] or review["siblings_all_wrong"]:
                    known = latest.get(review["expert_id"])
                    if known is None or review["id"] > known["id"]:
                        latest[review["expert_id"]] = review
        rankings = [
            {
                "review": r["id"],
                "ranks": r["sibling_ranks"] or {},
                "all_wrong": r["siblings_all_wrong"],
            }
            for r in sorted(latest.values(), key=lambda r: r["id"])
        ]
        all_wrong = sum(1 for r in rankings if r["all_wrong"])
        if not rankings or 2 * all_wrong >= len(rankings):
            continue  # most experts found every sibling wrong: no answer here is "chosen"
        scores = score_preference_group(members, rankings)
        prompt = inputs.prompts[by_id[eligible[0]]["prompt_id"]]
        thinking = bool(prompt["thinking"])
        user = _user_message(prompt)
        for better in eligible:
            if thinking and not by_id[better]["think_text"].strip():
                continue  # a chosen answer without reasoning would teach the wrong format
            for worse in eligible:
                high, low = scores[str(better)].value, scores[str(worse)].value
                if better == worse or high is None or low is None or high <= low + 1e-9:
                    continue
                agree, disagree = _votes(rankings, better, worse)
                if len(agree) < minimum or len(agree) <= disagree:
                    continue
                yield _Row(
                    "dpo",
                    "ranking",
                    song_id=by_id[better]["song_id"],
                    generation_id=better,
                    rejected_generation_id=worse,
                    data={
                        "prompt": [user],
                        "chosen": [_assistant(_said(by_id[better], thinking))],
                        "rejected": [_assistant(_said(by_id[worse], thinking))],
                    },
                    review_ids=agree,
                    agreeing=len(agree),
                )


def _votes(rankings: list[dict[str, Any]], better: int, worse: int) -> tuple[list[int], int]:
    """The rankings putting ``better`` above ``worse`` (their reviews), and how many say the
    opposite; ties and rankings without both say nothing."""
    agree, disagree = [], 0
    for ranking in rankings:
        a, b = ranking["ranks"].get(str(better)), ranking["ranks"].get(str(worse))
        if a is None or b is None:
            continue
        if float(a) < float(b):
            agree.append(ranking["review"])
        elif float(a) > float(b):
            disagree += 1
    return sorted(agree), disagree


def _said(generation: Mapping[str, Any], thinking: bool) -> str:
    """What the output said, in the target format of its prompt."""
    return _target(generation["think_text"] if thinking else "", generation["answer_text"])


def _check_audio(rows: list[_Row], inputs: _Inputs) -> None:
    """Every row's audio must be in storage: a trainer would fail on the first missing file."""
    audio_of: dict[int, int | None] = {g["id"]: g["audio_file_id"] for g in inputs.generations}
    root = Path(settings.MEDIA_ROOT)
    missing: list[str] = []
    songs_without: list[int] = []
    for row in rows:
        song = inputs.songs[row.song_id]
        audio = song["audio_by_id"].get(audio_of.get(row.generation_id or -1)) or song["audio"]
        if audio is None:
            songs_without.append(row.song_id)
            continue
        row.data["_audio"] = {"path": audio["path"], "sha256": audio["sha256"]}
        if not (root / audio["path"]).is_file():
            missing.append(f"song {row.song_id}: {audio['path']}")
    if songs_without:
        ids = ", ".join(str(s) for s in sorted(set(songs_without))[:10])
        raise ValidationFailed(f"Songs without an audio file cannot be trained on: {ids}.")
    if missing:
        shown = "; ".join(sorted(set(missing))[:5])
        raise ValidationFailed(
            f"{len(set(missing))} audio file(s) are missing from storage ({shown}). Restore them "
            "(or remove the songs) and try again."
        )


def _stratum(song: Mapping[str, Any]) -> tuple[str, str]:
    return (song["genre"], song["culture"])


def split_by_song(
    strata: Mapping[int, tuple[str, ...]], *, eval_fraction: float, seed: int
) -> dict[int, str]:
    """Song id → "train" or "eval": every song in one split only, stratified by ``strata``.

    Songs are ordered stratum by stratum (each stratum's songs shuffled by ``seed``) and the eval
    songs are taken at even steps through that order (systematic sampling), so each stratum gives
    the eval split about ``eval_fraction`` of its songs, and the whole eval split is
    ``round(eval_fraction × songs)`` songs, at least one (and one train song) when there are two.
    The same songs, strata, fraction and seed give the same split.

    >>> split = split_by_song({1: ("rock",), 2: ("rock",), 3: ("jazz",), 4: ("jazz",)},
    ...                       eval_fraction=0.5, seed=0)
    >>> sorted(split.values()), len({split[3], split[4]}), len({split[1], split[2]})
    (['eval', 'eval', 'train', 'train'], 2, 2)
    """
    songs = sorted(strata)
    count = len(songs)
    eval_count = round(eval_fraction * count)
    if eval_fraction > 0 and count >= 2:
        eval_count = min(max(eval_count, 1), count - 1)
    rng = random.Random(seed)
    by_stratum: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for song in songs:
        by_stratum[tuple(strata[song])].append(song)
    ordered: list[int] = []
    for stratum in sorted(by_stratum):
        members = by_stratum[stratum]
        rng.shuffle(members)
        ordered.extend(members)
    split = dict.fromkeys(songs, "train")
    if eval_count:
        step = count / eval_count
        offset = rng.random() * step
        for j in range(eval_count):
            split[ordered[int(offset + j * step)]] = "eval"
    return split


def _line(row: _Row) -> dict[str, Any]:
    return {
        "id": row.key,
        "song_id": row.song_id,
        "audio": row.data["_audio"],
        "source": row.source,
        **{k: v for k, v in row.data.items() if not k.startswith("_")},
    }


def _write_files(
    snapshot: DatasetSnapshot,
    rows: list[_Row],
    inputs: _Inputs,
    splits: Mapping[int, str],
    written: list[Path],
) -> tuple[dict[str, dict[str, Any]], dict[tuple[str, str], list[tuple[_Row, str]]]]:
    """Write every ``<format>/<split>.jsonl`` and the manifest into the snapshot's folder."""
    root = Path(settings.MEDIA_ROOT)
    # A worker killed mid-build leaves its half-written folder; the row lock says it is dead.
    for leftover in (root / STORAGE_DIR).glob(f".building-{snapshot.pk}-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    building = root / STORAGE_DIR / f".building-{snapshot.pk}-{uuid.uuid4().hex[:8]}"
    written.append(building)
    lines: dict[tuple[str, str], list[tuple[_Row, str]]] = {
        (fmt, split): [] for fmt in FORMATS for split in SPLITS
    }
    for row in rows:
        song = inputs.songs[row.song_id]
        line = _line(row) | {"genre": song["genre"], "culture": song["culture"]}
        text = json.dumps(line, sort_keys=True, ensure_ascii=False)
        lines[(row.format, splits[row.song_id])].append((row, text))
    files: dict[str, dict[str, Any]] = {}
    for (fmt, split), entries in lines.items():
        relative = f"{fmt}/{split}.jsonl"
        payload = "".join(text + "\n" for _, text in entries).encode("utf-8")
        path = building / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(payload)
        files[relative] = {"sha256": hashlib.sha256(payload).hexdigest(), "rows": len(entries)}
    content = content_sha256(files)
    final = root / STORAGE_DIR / content[:16] / str(snapshot.pk)
    manifest = {
        "name": snapshot.name,
        "snapshot_id": snapshot.pk,
        "content_sha256": content,
        "filters": snapshot.filters,
        "eval_fraction": snapshot.eval_fraction,
        "split_seed": snapshot.split_seed,
        "files": files,
        "created_at": timezone.now().isoformat(),
    }
    (building / MANIFEST).write_text(
        json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    # A crashed earlier attempt may have left the folder (its row never committed): replace it.
    if final.exists():
        shutil.rmtree(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(building, final)
    written.append(final)
    snapshot.storage_path = final.relative_to(root).as_posix()
    snapshot.content_sha256 = content
    return files, lines


def content_sha256(files: Mapping[str, Mapping[str, Any]]) -> str:
    r"""The snapshot's identity: sha256 over the sorted (relative path, file sha256) pairs.

    >>> listing = b"a.jsonl\t1\nb.jsonl\t2\n"
    >>> content_sha256({"b.jsonl": {"sha256": "2"}, "a.jsonl": {"sha256": "1"}}) == (
    ...     hashlib.sha256(listing).hexdigest())
    True
    """
    listing = "".join(f"{path}\t{files[path]['sha256']}\n" for path in sorted(files))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()


def _freeze(
    snapshot: DatasetSnapshot,
    files: Mapping[str, Mapping[str, Any]],
    lines: Mapping[tuple[str, str], list[tuple[_Row, str]]],
    splits: Mapping[int, str],
    songs: Mapping[int, Mapping[str, Any]],
) -> None:
    examples = []
    balance: dict[str, dict[str, dict[str, Counter[str]]]] = {
        split: {fmt: defaultdict(Counter) for fmt in FORMATS} for split in SPLITS
    }
    agreeing: dict[str, Counter[str]] = {fmt: Counter() for fmt in FORMATS}
    for (fmt, split), entries in lines.items():
        for position, (row, text) in enumerate(entries):
            song = songs[row.song_id]  # the genre and culture _write_files put in the line
            examples.append(
                DatasetExample(
                    snapshot=snapshot,
                    format=fmt,
                    split=split,
                    position=position,
                    song_id=row.song_id,
                    generation_id=row.generation_id,
                    rejected_generation_id=row.rejected_generation_id,
                    review_ids=row.review_ids,
                    source=row.source,
                    genre=song["genre"],
                    culture=song["culture"],
                    row_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
                )
            )
            balance[split][fmt]["genre"][song["genre"]] += 1
            balance[split][fmt]["culture"][song["culture"]] += 1
            balance[split][fmt]["source"][row.source] += 1
            agreeing[fmt][str(row.agreeing)] += 1
    DatasetExample.objects.bulk_create(examples, batch_size=2000)
    snapshot.row_counts = {
        fmt: {split: len(lines[(fmt, split)]) for split in SPLITS} for fmt in FORMATS
    }
    snapshot.stats = {
        "balance": {
            split: {
                fmt: {axis: dict(sorted(counts.items())) for axis, counts in axes.items()}
                for fmt, axes in formats.items()
            }
            for split, formats in balance.items()
        },
        "agreeing_experts": {
            fmt: dict(sorted(counts.items(), key=lambda kv: int(kv[0])))
            for fmt, counts in agreeing.items()
        },
        "songs": {split: sum(1 for s in splits.values() if s == split) for split in SPLITS},
    }
    snapshot.status = DatasetSnapshot.Status.FROZEN
    snapshot.frozen_at = timezone.now()
    snapshot.error = ""
    snapshot.full_clean(exclude=["created_by"])
    snapshot.save()
