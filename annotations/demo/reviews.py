"""Demo review work: Lena (rock and pop) has a review of the first sample output in progress, so a
newcomer signing in as her lands on a half-done review (a confirmed machine hint, a flag with an
audio range, graded steps, ratings) and can finish it; Maya and Arjun start from an empty queue."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from annotations.demo.generations import SAMPLE_MODEL_NAME
from annotations.generations.models import Generation, GenerationHint
from annotations.reviews.models import Review
from annotations.reviews.services import flag_save, review_claim, review_save_draft


def seed_demo_reviews(*, stdout: Any = None) -> None:
    """Idempotent: does nothing once Lena has any review."""
    lena = get_user_model().objects.filter(username="lena").first()
    sample = (
        Generation.objects.filter(
            model_version__name=SAMPLE_MODEL_NAME, sibling_index=0, status="succeeded"
        )
        .order_by("id")
        .first()
    )
    if lena is None or sample is None or Review.objects.filter(expert=lena).exists():
        return
    review = review_claim(expert=lena, generation=sample)
    version = review.version
    hint = GenerationHint.objects.filter(generation=sample, kind="tempo", target="answer").first()
    answer = sample.answer_text
    if hint is not None and hint.start_char is not None:
        start = answer.index(hint.quoted_text)
        _flag, review = flag_save(
            review=review,
            expert=lena,
            version=version,
            data={
                "target": "caption",
                "start": start,
                "end": start + len(hint.quoted_text),
                "category": "wrong-tempo-meter",
                "severity": "major",
                "correction": "about 120 BPM",
                "note": "Confirmed from the machine hint: the beat grid is at 120.",
                "hint": hint.pk,
            },
        )
        version = review.version
    start = answer.index("C major")
    _flag, review = flag_save(
        review=review,
        expert=lena,
        version=version,
        data={
            "target": "caption",
            "start": start,
            "end": start + len("C major"),
            "category": "wrong-key-mode",
            "severity": "critical",
            "audio_start": "0",
            "audio_end": "8",
            "correction": "A minor",
            "note": "The progression starts and rests on A minor.",
        },
    )
    review_save_draft(
        review=review,
        expert=lena,
        version=review.version,
        data={
            "step_1": "correct",
            "step_2": "incorrect",
            "aspect_instrumentation": "4",
            "aspect_harmony": "1",
            "meta_tempo_bpm": "120",
            "meta_tempo_bpm_status": "corrected",
            "meta_tempo_bpm_source": "analysis",
            "comment": "Tempo and key are wrong; the instrumentation is right.",
        },
    )
    if stdout is not None:
        stdout.write("Lena has a review in progress (sign in as lena, open Review)")
