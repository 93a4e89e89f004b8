"""The demo's generations: the tiny model really run per demo song, and a labelled sample output."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.demo import audio as demo_audio
from annotations.demo.generations import SAMPLE_MODEL_NAME, TINY_MODEL_NAME, seed_demo_generations
from annotations.demo.reviews import seed_demo_reviews
from annotations.generations.models import Generation
from annotations.reviews.models import Review
from annotations.reviews.rules import review_problems
from annotations.songs.services.audio_files import audio_file_add
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_demo_song_gets_tiny_model_output_and_a_parsed_sample_with_hints(
    tmp_path: Path,
) -> None:
    piece = demo_audio.DemoPiece("Demo groove", 96, 4, (("G3", "B3", "D4"),), True, 8.0)
    song = factories.SongFactory(title="Demo groove", artist="Flamingo Workbench demo")
    audio_file_add(song=song, source=demo_audio.write(piece, tmp_path / "demo.wav"))

    seed_demo_generations(data_dir=tmp_path / "data")
    seed_demo_generations(data_dir=tmp_path / "data")  # idempotent

    tiny = Generation.objects.filter(song=song, model_version__name=TINY_MODEL_NAME)
    assert tiny.count() == 2
    assert set(tiny.values_list("status", flat=True)) == {"succeeded"}
    samples = Generation.objects.filter(song=song, model_version__name=SAMPLE_MODEL_NAME)
    assert list(samples.values_list("sibling_index", flat=True).order_by("sibling_index")) == [0, 1]
    sample = samples.get(sibling_index=0)
    assert sample.model_version.status == "retired"
    assert "hand-written" in sample.model_version.notes
    assert len(sample.parsed["steps"]) == 4
    assert sample.parsed["sections"][0]["heading"].startswith("Instrumentation")
    assert sample.parsed["claims"]["tempo_bpm"]
    # The sample says 140 BPM; the demo groove is analysed at about 96.
    assert sample.hints.filter(kind="tempo").exists()

    # Lena's demo review in progress: the tempo hint confirmed as a flag, the key flagged with an
    # audio range, some steps graded; her queue shows it and it is not yet submittable.
    lena = factories.expert(username="lena")
    seed_demo_reviews()
    seed_demo_reviews()  # idempotent
    review = Review.objects.get(expert=lena)
    assert review.generation == sample and review.status == "draft"
    flags = {flag.category.code: flag for flag in review.flags.all()}
    assert set(flags) == {"wrong-tempo-meter", "wrong-key-mode"}
    assert flags["wrong-tempo-meter"].hint == sample.hints.get(kind="tempo", target="answer")
    assert flags["wrong-key-mode"].quoted_text == "C major"
    assert review.step_grades == {"1": "correct", "2": "incorrect"}
    assert review_problems(review)  # left for the newcomer to finish


def test_the_demo_reviews_behind_the_reward_pages_give_every_function_a_value(
    tmp_path: Path,
) -> None:
    from annotations.demo.rewards import seed_demo_reward_reviews
    from annotations.rewards.models import RewardValue

    for title, tempo, beats in (
        ("Demo waltz in G major", 96, 3),
        ("Demo pad in D major (no drums)", 84, 4),
    ):
        piece = demo_audio.DemoPiece(title, tempo, beats, (("G3", "B3", "D4"),), True, 6.0)
        song = factories.SongFactory(title=title, artist="Flamingo Workbench demo")
        audio_file_add(song=song, source=demo_audio.write(piece, tmp_path / f"{tempo}.wav"))
    seed_demo_generations(data_dir=tmp_path / "data")
    factories.expert(username="noor")
    factories.expert(username="tomas")

    seed_demo_reward_reviews()
    seed_demo_reward_reviews()  # idempotent

    assert Review.objects.filter(status="submitted").count() == 3
    functions = set(RewardValue.objects.values_list("function", flat=True))
    assert functions == {
        "format",
        "accuracy",
        "structured_thinking",
        "hallucination_penalty",
        "step_validity",
        "preference",
    }
    waltz = Generation.objects.get(
        song__title="Demo waltz in G major",
        model_version__name=SAMPLE_MODEL_NAME,
        sibling_index=0,
        prompt__answer_field="",
    )
    thinking = RewardValue.objects.get(generation=waltz, function="structured_thinking")
    # The two experts agree on tempo, key and metre, not on the genres: recorded, left out.
    assert thinking.provenance["metadata"]["genres"]["status"] == "no_agreement"
    assert thinking.provenance["metadata"]["key"]["status"] == "unanimous"
    assert set(thinking.details["unmatched"]) >= {"BPM", "Meter"}
    # C major for G major is a fifth: half credit, in the MIREX weighting.
    [key] = [c for c in thinking.details["categories"] if c["name"] == "Key"]
    assert key["credit"] == 0.5
    question = Generation.objects.get(prompt__name="tradition-question")
    assert RewardValue.objects.get(generation=question, function="accuracy").value == 1.0
