"""A frozen dataset snapshot built from real reviewed work, for the tests that train and evaluate.

``reviewed_songs`` makes songs with real short WAV files (through the import service), a thinking
caption prompt with two ranked siblings per song, a question prompt whose answer field experts
verify, and submitted reviews by two experts (acceptance with every step correct, a corrected
caption, a rejection, sibling ranks, verified metadata). ``build_test_snapshot`` freezes them
in-process, so every format (SFT, GRPO, DPO) has train and eval rows.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import Generation, GenerationGroup, ModelVersion, PromptTemplate
from annotations.reviews.models import Review
from annotations.songs.models import Song, SongAnalysis
from tests import factories
from tests.audio_files import write_tone

# Two strata of two songs each: (genre, culture).
STRATA = (("Rock", "Western popular"), ("Hindustani classical", "Hindustani"))
TEMPO = 92.0
VERIFIED = {
    "tempo_bpm": TEMPO,
    "key": "D minor",
    "meter": "4/4",
    "genres": ["Hindustani classical", "pop"],
    "instruments": ["sitar", "tabla"],
    "vocals": ["female lead"],
    "languages": ["Hindi"],
    "culture": "Hindustani",
}
WORSE_OUTPUT = factories.SAMPLE_OUTPUT.replace("D minor at 92 BPM", "E major at 128 BPM")
QUESTION_OUTPUT = "About 92 BPM, in 4/4."
CORRECTED = (
    "## Genre\nA Hindustani classical fusion piece with a pop backbeat.\n"
    "## Harmony\nThe piece stays in D minor at 92 BPM in 4/4."
)
_names = itertools.count(1)


@dataclass
class ReviewedSongs:
    songs: list[Song]
    version: ModelVersion
    caption_prompt: PromptTemplate
    question_prompt: PromptTemplate
    experts: list[Any]
    # song id -> "best", "worse", "question" -> generation
    generations: dict[int, dict[str, Generation]] = field(default_factory=dict)
    reviews: list[Review] = field(default_factory=list)


def verified_metadata(values: dict[str, Any] | None = None) -> dict[str, Any]:
    """``Review.verified_metadata`` confirming ``values`` (default: ``VERIFIED``)."""
    return {
        name: {"value": value, "status": "confirmed", "source": "expert"}
        for name, value in (values or VERIFIED).items()
    }


def _review(
    generation: Generation, expert: Any, *, submitted_at: datetime, **fields: Any
) -> Review:
    steps = [str(i) for i in range(1, len((generation.parsed or {}).get("steps") or []) + 1)]
    fields.setdefault("step_grades", dict.fromkeys(steps, "correct"))
    fields.setdefault("verified_metadata", verified_metadata())
    return factories.ReviewFactory(  # type: ignore[no-any-return]
        generation=generation,
        expert=expert,
        status=Review.Status.SUBMITTED,
        submitted_at=submitted_at,
        **fields,
    )


def reviewed_songs(
    *,
    tmp_path: Path | None = None,
    count: int = 4,
    version: ModelVersion | None = None,
    experts: list[Any] | None = None,
    submitted_at: datetime | None = None,
    strata: tuple[tuple[str, str], ...] = STRATA,
) -> ReviewedSongs:
    """``count`` songs (cycling through ``strata``), each with two ranked thinking captions and
    an answered question, reviewed and submitted by two experts. Needs the database."""
    from annotations.songs.services.song_import import SongMetadata, song_import_file

    folder = Path(tmp_path or tempfile.mkdtemp(prefix="snapshot-audio-"))
    folder.mkdir(parents=True, exist_ok=True)
    serial = next(_names)
    version = version or factories.ModelVersionFactory()
    experts = experts or [factories.expert(), factories.expert()]
    when = submitted_at or timezone.now()
    caption_prompt = factories.PromptTemplateFactory(
        name=f"snapshot-caption-think-{serial}",
        text="Describe this track in full detail.",
        thinking=True,
    )
    question_prompt = factories.PromptTemplateFactory(
        name=f"snapshot-question-tempo-{serial}",
        text="What is the tempo of this track in beats per minute?",
        answer_field=PromptTemplate.AnswerField.TEMPO_BPM,
    )
    made = ReviewedSongs([], version, caption_prompt, question_prompt, experts)
    for index in range(count):
        genre, culture = strata[index % len(strata)]
        result = song_import_file(
            path=write_tone(
                folder / f"song-{serial}-{index}.wav",
                seconds=2.0,
                freq=220.0 + 37 * index + 5 * (serial % 300),
            ),
            metadata=SongMetadata(
                title=f"Snapshot song {serial}-{index}", genres=[genre], cultures=[culture]
            ),
        )
        assert result.song_id is not None, result.message
        song = Song.objects.get(pk=result.song_id)
        SongAnalysis.objects.filter(song=song).update(
            status=SongAnalysis.Status.SUCCEEDED,
            facts={
                "tempo_bpm": TEMPO,
                "tempo_confidence": 0.9,
                "key_tonic": "D",
                "key_mode": "minor",
                "key_confidence": 0.8,
                "duration_seconds": 2.0,
            },
            finished_at=when,
        )
        audio = song.audio_files.get()
        group = GenerationGroup.objects.create(
            song=song, model_version=version, prompt=caption_prompt, size=2
        )
        best, worse = (
            factories.generation_with_output(
                raw,
                song=song,
                model_version=version,
                prompt=caption_prompt,
                group=group,
                sibling_index=i,
                audio_file=audio,
            )
            for i, raw in enumerate((factories.SAMPLE_OUTPUT, WORSE_OUTPUT))
        )
        question = factories.generation_with_output(
            QUESTION_OUTPUT,
            song=song,
            model_version=version,
            prompt=question_prompt,
            audio_file=audio,
        )
        ranks = {str(best.pk): 1, str(worse.pk): 2}
        first, second = experts[0], experts[1]
        made.reviews += [
            _review(best, first, submitted_at=when, verdict="accept", sibling_ranks=ranks),
            _review(best, second, submitted_at=when, verdict="accept", sibling_ranks=ranks),
            _review(
                worse,
                first,
                submitted_at=when,
                verdict="accept_with_fixes",
                corrected_caption=CORRECTED,
                sibling_ranks=ranks,
            ),
            _review(
                worse,
                second,
                submitted_at=when,
                verdict="reject",
                comment="Wrong key and tempo.",
                step_grades={"1": "incorrect", "2": "correct", "3": "incorrect", "4": "correct"},
                sibling_ranks=ranks,
            ),
            _review(question, first, submitted_at=when, verdict="accept"),
            _review(question, second, submitted_at=when, verdict="accept"),
        ]
        made.songs.append(song)
        made.generations[song.pk] = {"best": best, "worse": worse, "question": question}
    return made


def build_test_snapshot(
    *,
    tmp_path: Path | None = None,
    name: str | None = None,
    filters: dict[str, Any] | None = None,
    eval_fraction: float = 0.5,
    split_seed: int = 0,
    songs: ReviewedSongs | None = None,
) -> DatasetSnapshot:
    """A frozen snapshot of ``reviewed_songs`` (made here unless given), built in-process.

    With the defaults every format has train and eval rows: four songs in two strata, two of
    them (one per stratum) held out for evaluation.
    """
    from annotations.datasets.services import snapshot_build, snapshot_create

    made = songs or reviewed_songs(tmp_path=tmp_path)
    snapshot = snapshot_create(
        name=name or f"test-snapshot-{next(_names)}",
        filters={"model_versions": [made.version.pk], **(filters or {})},
        eval_fraction=eval_fraction,
        split_seed=split_seed,
        actor=None,
        enqueue=False,
    )
    snapshot = snapshot_build(snapshot_id=snapshot.pk)
    assert snapshot.status == DatasetSnapshot.Status.FROZEN, snapshot.error
    return snapshot
