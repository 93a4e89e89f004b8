"""Asking Music Flamingo about songs: requests become groups of queued generations, a GPU worker
runs them in batches, and each output is stored with its parsed parts and machine hints."""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from annotations.core.errors import ValidationFailed
from annotations.core.task_claims import claim_rows
from annotations.generations.models import (
    Generation,
    GenerationGroup,
    GenerationHint,
    ModelVersion,
    PromptTemplate,
)
from annotations.generations.services import parsing as generation_parsing
from annotations.generations.services.prompts import prompt_full_text
from annotations.generations.signals import generations_finished
from annotations.songs.models import AudioFile, Song, SongAnalysis

if TYPE_CHECKING:
    from modeling.config import DecodingParams, ModelConfig

log = logging.getLogger(__name__)

MAX_SAMPLES = 16
MAX_SONGS_PER_REQUEST = 500


def generation_request(
    *,
    songs: Sequence[Song],
    model_version: ModelVersion,
    prompt: PromptTemplate,
    samples: int = 5,
    decoding: DecodingParams | None = None,
    seed: int | None = None,
    actor: Any = None,
) -> list[GenerationGroup]:
    """Create one group of ``samples`` queued siblings per song; enqueue them after commit.

    Sibling ``i`` gets seed ``seed + i`` (a random base seed when none is given), so each is
    reproducible. Work is cut into tasks of at most ``WORKBENCH_MODEL_TASK_SIZE`` generations (or
    one group, if larger), a song's siblings kept together, so several GPU workers share a large
    request.
    Raises ValidationFailed when a song has no usable audio or the numbers are out of range.
    """
    from modeling.config import DecodingParams

    decoding = decoding or DecodingParams()
    if not songs:
        raise ValidationFailed("Pick at least one song.")
    if len(songs) > MAX_SONGS_PER_REQUEST:
        raise ValidationFailed(f"At most {MAX_SONGS_PER_REQUEST} songs per request.")
    if not 1 <= samples <= MAX_SAMPLES:
        raise ValidationFailed(f"Samples per song must be between 1 and {MAX_SAMPLES}.")
    if not prompt.is_active:
        raise ValidationFailed(f"Prompt {prompt} is retired; pick an active version.")
    if model_version.status == ModelVersion.Status.RETIRED:
        raise ValidationFailed(f"Model version {model_version} is retired.")
    with_audio = set(
        AudioFile.objects.filter(song__in=songs, probe_error="").values_list("song_id", flat=True)
    )
    without_audio = [s for s in songs if s.pk not in with_audio]
    if without_audio:
        names = ", ".join(str(s) for s in without_audio[:5])
        raise ValidationFailed(f"These songs have no playable audio file yet: {names}.")
    base_seed = seed if seed is not None else secrets.randbelow(2**31)

    groups: list[GenerationGroup] = []
    chunk_size = max(1, settings.WORKBENCH_MODEL_TASK_SIZE)
    with transaction.atomic():
        pending: list[Generation] = []
        for song in songs:
            group = GenerationGroup.objects.create(
                song=song, model_version=model_version, prompt=prompt, size=samples
            )
            groups.append(group)
            pending.extend(
                Generation(
                    song=song,
                    model_version=model_version,
                    prompt=prompt,
                    group=group,
                    sibling_index=index,
                    decoding=decoding.as_dict(),
                    seed=base_seed + index,
                )
                for index in range(samples)
            )
        # Whole groups per task: siblings share their audio, decoded once per task.
        task_id, task_size = "", 0
        for start in range(0, len(pending), samples):
            if not task_id or task_size + samples > max(chunk_size, samples):
                task_id, task_size = str(uuid.uuid4()), 0
            task_size += samples
            for generation in pending[start : start + samples]:
                generation.celery_task_id = task_id
        created = Generation.objects.bulk_create(pending)
        by_task: dict[str, list[int]] = {}
        for generation in created:
            by_task.setdefault(generation.celery_task_id, []).append(generation.pk)
        chunks = list(by_task.items())
        transaction.on_commit(lambda: _enqueue(chunks))
    log.info(
        "%s requested %d generation(s) of %s with %s in %d task(s)",
        getattr(actor, "username", "command"),
        len(created),
        model_version,
        prompt,
        len(chunks),
    )
    return groups


def _enqueue(chunks: list[tuple[str, list[int]]]) -> None:
    from workers.inference import generate_batch

    for task_id, ids in chunks:
        generate_batch.apply_async(args=[ids], task_id=task_id)


def _audio_file_for(song: Song) -> AudioFile | None:
    """The song's first stored file that decoded; the model hears that one."""
    return song.audio_files.filter(probe_error="").order_by("id").first()


def decoding_params(
    *, max_new_tokens: int, do_sample: bool, temperature: float, top_p: float
) -> DecodingParams:
    """Decoding settings as the model takes them; ``ValueError`` says which value is out of range."""
    from modeling.config import DecodingParams

    return DecodingParams(
        max_new_tokens=max_new_tokens, do_sample=do_sample, temperature=temperature, top_p=top_p
    )


def model_config_for(model_version: ModelVersion) -> ModelConfig:
    """Where a worker finds the weights: an absolute path, a path under the storage root, or a
    hub id pinned to the registered revision."""
    from modeling.config import ModelConfig

    uri = model_version.checkpoint_uri
    under_storage = Path(settings.MEDIA_ROOT) / uri
    checkpoint = (
        uri if Path(uri).is_absolute() else (str(under_storage) if under_storage.is_dir() else uri)
    )
    return ModelConfig(
        checkpoint=checkpoint,
        revision=model_version.checkpoint_revision or None,
        dtype=settings.WORKBENCH_MODEL_DTYPE or model_version.dtype or "auto",
        device=settings.WORKBENCH_MODEL_DEVICE,
        attn_implementation=settings.WORKBENCH_MODEL_ATTN_IMPLEMENTATION or None,
    )


@dataclass
class RunSummary:
    claimed: int = 0
    succeeded: int = 0
    failed: int = 0


def generation_run(
    *,
    generation_ids: Sequence[int],
    task_id: str,
    redelivered: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunSummary:
    """Run the queued generations among ``generation_ids`` (the worker's one service call).

    Claims rows atomically (queued → running), so a duplicate delivery finds nothing to do. A
    redelivered task (its worker died mid-run) also takes back the rows it had claimed itself.
    Every claimed row ends succeeded or failed with a readable reason; one failure never costs
    the others.
    """
    from modeling.audio import AudioPreparationError, PreparedAudio, prepare_audio
    from modeling.backends import GenerationRequest, create_backend
    from modeling.batching import generate_all
    from modeling.config import BatchingConfig, DecodingParams

    summary = RunSummary()
    # Only the rows this call claims are run (see annotations.core.task_claims).
    claimed = claim_rows(
        Generation.objects.filter(pk__in=generation_ids),
        task_id=task_id,
        redelivered=redelivered,
        started_at=timezone.now(),
    )
    summary.claimed = len(claimed)
    rows = list(
        Generation.objects.filter(pk__in=claimed).select_related("song", "model_version", "prompt")
    )
    total, done = len(rows), 0

    def progress(count: int) -> None:
        nonlocal done
        done += count
        if on_progress is not None:
            on_progress(done, total)

    by_version: dict[int, list[Generation]] = {}
    for row in rows:
        by_version.setdefault(row.model_version_id, []).append(row)
    for version_rows in by_version.values():
        model_version = version_rows[0].model_version
        load_started = time.perf_counter()
        try:
            backend = create_backend(
                settings.WORKBENCH_MODEL_BACKEND, model_config_for(model_version)
            )
        except Exception as exc:  # missing weights, bad config: every row says why
            log.exception("cannot load %s", model_version)
            for row in version_rows:
                generation_mark_failed(
                    generation=row, reason=f"Could not load model version {model_version}: {exc}"
                )
            summary.failed += len(version_rows)
            progress(len(version_rows))
            continue
        load_seconds = time.perf_counter() - load_started  # ~0 when this process had it loaded
        audio_cache: dict[int, tuple[AudioFile, PreparedAudio]] = {}
        # Siblings share their song's file: look it up once per song, not once per row.
        audio_files: dict[int, AudioFile | None] = {}
        requests: list[GenerationRequest] = []
        by_pk = {row.pk: row for row in version_rows}
        prepare_seconds: dict[int, float] = {}
        for row in version_rows:
            started = time.perf_counter()
            if row.song_id not in audio_files:
                audio_files[row.song_id] = _audio_file_for(row.song)
            audio_file = audio_files[row.song_id]
            try:
                if audio_file is None:
                    raise AudioPreparationError("the song has no playable audio file")
                if audio_file.pk not in audio_cache:
                    audio_cache[audio_file.pk] = (audio_file, prepare_audio(audio_file.file.path))
            except AudioPreparationError as exc:
                generation_mark_failed(generation=row, reason=f"Audio could not be prepared: {exc}")
                summary.failed += 1
                progress(1)
                continue
            audio_file, audio = audio_cache[audio_file.pk]
            row.audio_file = audio_file
            row.audio_heard = {**audio.heard(), "sha256": audio_file.sha256}
            row.audio_seconds_heard = audio.heard_seconds
            prepare_seconds[row.pk] = time.perf_counter() - started
            requests.append(
                GenerationRequest(
                    key=row.pk,
                    audio=audio,
                    prompt=prompt_full_text(row.prompt),
                    decoding=DecodingParams.from_dict(row.decoding),
                    seed=row.seed if row.seed is not None else 0,
                )
            )
        batching = BatchingConfig(
            max_batch_size=settings.WORKBENCH_MODEL_MAX_BATCH_SIZE,
            max_batch_windows=settings.WORKBENCH_MODEL_MAX_BATCH_WINDOWS,
        )
        for results in generate_all(backend, requests, batching):
            for result in results:
                row = by_pk[result.key]
                if result.ok:
                    generation_record_output(
                        generation=row,
                        raw_text=result.text,
                        input_tokens=result.input_tokens,
                        output_tokens=result.output_tokens,
                        rng=result.rng,
                        timings={
                            "load_model": load_seconds,
                            "prepare_audio": prepare_seconds.get(row.pk, 0.0),
                            **result.timings,
                        },
                    )
                    summary.succeeded += 1
                else:
                    generation_mark_failed(generation=row, reason=result.error)
                    summary.failed += 1
            progress(len(results))
    # New outputs earn their rewards at once (the rewards room subscribes and scores them on the
    # CPU queue rather than this GPU worker).
    generations_finished.send(
        sender=Generation,
        generation_ids=list(
            Generation.objects.filter(
                pk__in=claimed, status=Generation.Status.SUCCEEDED
            ).values_list("pk", flat=True)
        ),
    )
    return summary


@transaction.atomic
def generation_record_output(
    *,
    generation: Generation,
    raw_text: str,
    input_tokens: int,
    output_tokens: int,
    rng: dict[str, Any],
    timings: dict[str, float],
) -> Generation:
    """Store one output with its parsed parts and the hints the song's analysis supports.

    Precondition: the caller holds the claimed (running) row. Malformed output is stored and
    marked by the parser, never dropped.
    """
    # PostgreSQL text cannot hold NUL; a random model (or a broken one) can emit it.
    raw_text = raw_text.replace("\x00", "\ufffd")
    parsed = generation_parsing.parse(raw_text)
    generation.raw_text = raw_text
    generation.think_text = parsed.think_text
    generation.answer_text = parsed.answer_text
    generation.parsed = parsed.data
    generation.input_tokens = input_tokens
    generation.output_tokens = output_tokens
    generation.decoding = {**generation.decoding, "rng": rng}
    generation.timings = {k: round(v, 4) for k, v in timings.items()}
    generation.status = Generation.Status.SUCCEEDED
    generation.error = ""
    generation.finished_at = timezone.now()
    generation.save()
    analysis = SongAnalysis.objects.filter(
        song_id=generation.song_id, status=SongAnalysis.Status.SUCCEEDED
    ).first()
    _hints_replace(generation, analysis.facts if analysis is not None else {})
    return generation


def _hints_replace(generation: Generation, facts: dict[str, Any]) -> int:
    """Replace the open hints of ``generation`` with those ``facts`` support; decided ones stay.

    A hint an expert already confirmed or dismissed is their judgement: it is kept, and the same
    suggestion (kind and span) is not raised again beside it.
    """
    generation.hints.filter(status=GenerationHint.Status.OPEN).delete()
    decided = set(generation.hints.values_list("kind", "start_char", "end_char"))
    fresh = [
        GenerationHint(generation=generation, **fields)
        for fields in generation_parsing.hints(generation.parsed, facts)
        if (fields["kind"], fields.get("start_char"), fields.get("end_char")) not in decided
    ]
    GenerationHint.objects.bulk_create(fresh)
    return len(fresh)


@transaction.atomic
def generation_hints_refresh(*, song: Song, facts: dict[str, Any]) -> int:
    """Recompute the song's open hints from a new analysis; returns how many hints stand.

    Outputs generated before the analysis finished had nothing to compare with, and a better
    analyser may measure differently: the song's facts, not the time of generation, decide.
    """
    generations = Generation.objects.filter(song=song, status=Generation.Status.SUCCEEDED)
    return sum(_hints_replace(generation, facts) for generation in generations)


def generation_mark_failed(*, generation: Generation, reason: str) -> Generation:
    """Record why a generation did not produce output (shown on its page)."""
    generation.status = Generation.Status.FAILED
    generation.error = reason[:2000]
    generation.finished_at = timezone.now()
    generation.save(
        update_fields=[
            "status",
            "error",
            "finished_at",
            "audio_file",
            "audio_heard",
            "audio_seconds_heard",
            "updated_at",
        ]
    )
    log.warning("generation %s failed: %s", generation.pk, reason)
    return generation


@transaction.atomic
def generation_hint_decide(*, hint: GenerationHint, status: str, actor: Any) -> GenerationHint:
    """An expert confirms or dismisses a machine hint (or reopens it). A suggestion only: a
    confirmed hint is not a flag until the expert flags the span in their review."""
    if status not in GenerationHint.Status.values:
        raise ValidationFailed(f"Unknown hint status {status!r}.")
    hint = GenerationHint.objects.select_for_update().get(pk=hint.pk)
    hint.status = status
    opened = status == GenerationHint.Status.OPEN
    hint.decided_by = None if opened else actor
    hint.decided_at = None if opened else timezone.now()
    hint.full_clean()
    hint.save()
    return hint
