"""Demo generations: the tiny random model run for real on each demo song, plus one hand-written
Music-Flamingo-style output per song, clearly labelled as a sample, so the parsed view has sections,
steps, claims and hints to show (the tiny model's own output is gibberish)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.utils import timezone

from annotations.generations.models import Generation, GenerationGroup, ModelVersion, PromptTemplate
from annotations.generations.services.generations import (
    decoding_params,
    generation_record_output,
    generation_request,
    generation_run,
)
from annotations.songs.models import Song, SongAnalysis
from annotations.training.services.model_versions import model_version_register_local

TINY_MODEL_NAME = "tiny-random-flamingo (demo)"
SAMPLE_MODEL_NAME = "hand-written sample (not model output)"
# The tiny model needs ~45 s of CPU for 20 minutes of audio (30,000 audio tokens): longer demo songs
# go to the demo's worker instead of delaying start-up.
INLINE_SECONDS = 120.0

# Written by us in the style of Music Flamingo's thinking mode, with deliberate errors (tempo,
# key) for the hints to catch against the demo song's analysis.
SAMPLE_OUTPUT = (
    "<think>Step 1: The drum kit plays a steady backbeat with the snare on beats 2 and 4, so the "
    "metre is 4/4.\n"
    "Step 2: Counting beats against the hi-hat gives about 140 BPM.\n"
    "Step 3: The chords cycle through C, F, G and C, which points to C major.\n"
    "Step 4: A synth pad enters at 0:08 and the texture thickens at 0:16, so the song builds "
    "gradually.</think>"
    "<answer>**Instrumentation & Production:** A compact electronic rock arrangement: a tight "
    "drum kit, a round electric bass and a warm synth pad, mixed dry and close.\n\n"
    "**Vocals:** The track is instrumental; no vocals are present.\n\n"
    "**Structure & Dynamics:** An intro (0:00) states the groove, the pad enters at 0:08 and the "
    "full texture arrives at 0:16 before the loop fades.\n\n"
    "**Harmony & Theory:** The song sits in C major at around 140 BPM in 4/4, cycling I–IV–V–I.\n"
    "\n**Mood & Cultural Context:** Upbeat and driving, in the lineage of Anglo-American rock "
    "and synth-pop.</answer>"
)


# A sibling for the experts to rank against the first: right about tempo and key this time, but it
# invents an acoustic guitar and a humming voice.
SAMPLE_OUTPUT_B = (
    "<think>Step 1: The snare lands on beats 2 and 4 and the bar has four beats, so 4/4.\n"
    "Step 2: The beat is steady at about 120 BPM.\n"
    "Step 3: The chords move A minor, F, C, G, so the key is A minor.\n"
    "Step 4: An acoustic guitar strums from 0:04 and a voice hums at 0:12.</think>"
    "<answer>**Instrumentation & Production:** Drum kit, electric bass, a synth pad and a "
    "strummed acoustic guitar, with a humming voice doubling the pad.\n\n"
    "**Vocals:** A soft male voice hums without words from 0:12.\n\n"
    "**Structure & Dynamics:** The groove starts at 0:00 and the pad swells at 0:08.\n\n"
    "**Harmony & Theory:** A minor at 120 BPM in 4/4, cycling i–VI–III–VII.\n\n"
    "**Mood & Cultural Context:** Wistful pop rock.</answer>"
)


def seed_demo_generations(*, data_dir: Path, stdout: Any = None) -> None:
    """Build and register the tiny model and run it on every demo song: short songs here, so the
    pages have results at first sight, long ones on the demo's worker. Short songs also get a
    labelled hand-written sample output, analysed for hints. Idempotent."""

    def say(message: str) -> None:
        if stdout is not None:
            stdout.write(message)

    checkpoint = Path(data_dir) / "models" / "tiny-random-flamingo"
    version = ModelVersion.objects.filter(name=TINY_MODEL_NAME).first()
    if version is None or not checkpoint.is_dir():
        from modeling.tiny import build_tiny_model

        build_tiny_model(checkpoint)
        version = model_version_register_local(
            name=TINY_MODEL_NAME,
            directory=checkpoint,
            dtype="float32",
            notes="Random weights for the demo: it writes gibberish, by design.",
        )
        say(f"Built the tiny demo model in {checkpoint}")
    prompt = (
        PromptTemplate.objects.filter(name="full-caption-think", is_active=True)
        .order_by("-version")
        .first()
    ) or PromptTemplate.objects.filter(is_active=True).first()
    if prompt is None:
        return
    songs = [
        s
        for s in Song.objects.filter(artist="Flamingo Workbench demo").order_by("id")
        if s.audio_files.exists() and not s.generations.filter(model_version=version).exists()
    ]
    short = [s for s in songs if _seconds(s) <= INLINE_SECONDS]
    long = [s for s in songs if _seconds(s) > INLINE_SECONDS]
    for batch, inline in ((short, True), (long, False)):
        if not batch:
            continue
        groups = generation_request(
            songs=batch,
            model_version=version,
            prompt=prompt,
            samples=2,
            decoding=decoding_params(
                max_new_tokens=48, do_sample=True, temperature=0.7, top_p=0.95
            ),
            seed=1,
        )
        if not inline:
            say(f"Queued the tiny model on {len(batch)} long demo song(s) for the demo's worker")
            continue
        generations = Generation.objects.filter(group__in=groups)
        # Short songs run here, so the pages have results at first sight; the worker's copy of
        # these tasks then finds nothing left to claim.
        for task_id in sorted(set(generations.values_list("celery_task_id", flat=True))):
            generation_run(
                generation_ids=list(
                    generations.filter(celery_task_id=task_id).values_list("pk", flat=True)
                ),
                task_id=task_id,
            )
        say(f"Ran the tiny model on {len(batch)} demo song(s)")
    _sample_outputs(prompt)


def _seconds(song: Song) -> float:
    audio = song.audio_files.order_by("id").first()
    return (audio.duration_seconds or 0.0) if audio is not None else 0.0


def _ensure_analysis(song: Song) -> None:
    """Hints compare against the analysis, which the demo's worker has not run yet at seed time:
    run it here (a few tenths of a second per demo song; the worker's later run rewrites the same
    facts)."""
    from annotations.songs.services.analysis import song_analysis_request, song_analysis_run

    if SongAnalysis.objects.filter(song=song, status=SongAnalysis.Status.SUCCEEDED).exists():
        return
    song_analysis_run(analysis=song_analysis_request(song=song))


def _sample_outputs(prompt: PromptTemplate) -> None:
    sample_version, _ = ModelVersion.objects.get_or_create(
        name=SAMPLE_MODEL_NAME,
        defaults={
            "variant": ModelVersion.Variant.THINK,
            "checkpoint_uri": "none (hand-written)",
            "status": ModelVersion.Status.RETIRED,
            "notes": "Not a model: a hand-written Music-Flamingo-style output, so the demo's "
            "parsed view has sections, steps, claims and hints to show.",
        },
    )
    for song in Song.objects.filter(artist="Flamingo Workbench demo"):
        # Long songs would make the demo wait for their analysis; the short ones show it all.
        if _seconds(song) > INLINE_SECONDS:
            continue
        if song.generations.filter(model_version=sample_version).exists():
            continue
        group = GenerationGroup.objects.create(
            song=song, model_version=sample_version, prompt=prompt, size=2
        )
        _ensure_analysis(song)
        for index, text in enumerate((SAMPLE_OUTPUT, SAMPLE_OUTPUT_B)):
            record_hand_written(group=group, sibling_index=index, raw_text=text)


def record_hand_written(*, group: GenerationGroup, sibling_index: int, raw_text: str) -> Generation:
    """Store a hand-written output in ``group`` as a finished generation, parsed like a real one."""
    generation = Generation.objects.create(
        song=group.song,
        model_version=group.model_version,
        prompt=group.prompt,
        group=group,
        sibling_index=sibling_index,
        status=Generation.Status.RUNNING,
        started_at=timezone.now(),
        decoding={"note": "hand-written sample, not sampled from a model"},
    )
    return generation_record_output(
        generation=generation,
        raw_text=raw_text,
        input_tokens=0,
        output_tokens=0,
        rng={},
        timings={},
    )
