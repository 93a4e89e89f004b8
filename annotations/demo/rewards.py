"""Demo reviews that feed the rewards: Noor and Tomás have submitted reviews of the hand-written
sample outputs for the waltz and the pad, so the reward pages have every function to show.

- The waltz's first sample (it says C major, 140 BPM, 4/4) is reviewed by both. They agree on the
  tempo, key and metre (96 BPM, G major, 3/4) but not on the genres. The breakdown then shows the
  agreed fields matched against the caption and the genres recorded as "no agreement".
- Noor reviews the pad's second sample (an invented acoustic guitar, the wrong key) with flags. It
  earns a hallucination penalty that names those flags.
- A multiple-choice question about the waltz's tradition, answered by the sample model, gets an
  accuracy reward against the culture the experts verified.

Everything goes through the review services, as the page does, and the rewards are computed at the
end, so the pages have values at first sight (the submit hook also queues them for the worker).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from annotations.demo.generations import SAMPLE_MODEL_NAME, record_hand_written
from annotations.generations.models import Generation, GenerationGroup, PromptTemplate
from annotations.reviews.models import Review
from annotations.reviews.rules import METADATA_FIELDS, REVIEW_ASPECTS, generation_steps, sibling_ids
from annotations.reviews.services import flag_save, review_claim, review_save_draft, review_submit
from annotations.rewards.services.rewards import rewards_recompute

QUESTION_PROMPT = "tradition-question"
# The seconds an expert marked for a flag (the sample's caption says the guitar strums from 0:04).
AUDIO_RANGES = {"acoustic guitar": {"audio_start": "4", "audio_end": "9"}}
QUESTION_OUTPUT = (
    "<think>Step 1: The bar has three beats with the accent on the first, a waltz lilt.\n"
    "Step 2: The harmony moves I–IV–V in G major, as in Central European dance music.</think>"
    "<answer>B</answer>"
)

WALTZ_TRUTH = {
    "tempo_bpm": "96",
    "key": "G major",
    "meter": "3/4",
    "instruments": "drum kit, electric bass, synth pad",
    "vocals": "none",
    "languages": "none",
    "culture": "Central European",
}
PAD_TRUTH = {
    "tempo_bpm": "84",
    "key": "D major",
    "meter": "4/4",
    "genres": "electronic, ambient",
    "instruments": "synth pad, electric bass",
    "vocals": "none",
    "languages": "none",
    "culture": "Anglo-American",
}


def seed_demo_reward_reviews(*, stdout: Any = None) -> None:
    """Idempotent: does nothing once Noor has any review."""
    users = get_user_model().objects.filter(username__in=("noor", "tomas"))
    by_name = {user.username: user for user in users}
    if len(by_name) < 2 or Review.objects.filter(expert=by_name["noor"]).exists():
        return
    waltz = _sample("Demo waltz in G major", 0)
    pad = _sample("Demo pad in D major (no drums)", 1)
    if waltz is None or pad is None:
        return
    question = _question_for(waltz)

    submit_demo_review(
        by_name["noor"],
        waltz,
        truth={**WALTZ_TRUTH, "genres": "waltz"},
        flags=[
            ("140 BPM", "wrong-tempo-meter", "major", "96 BPM"),
            ("C major", "wrong-key-mode", "critical", "G major"),
            ("4/4", "wrong-tempo-meter", "major", "3/4"),
        ],
        grades={1: "incorrect", 2: "incorrect", 3: "incorrect", 4: "correct"},
        verdict="reject",
    )
    submit_demo_review(
        by_name["tomas"],
        waltz,
        truth={**WALTZ_TRUTH, "genres": "waltz, folk"},
        flags=[("C major", "wrong-key-mode", "critical", "G major")],
        grades={1: "incorrect", 2: "incorrect", 3: "unverifiable", 4: "correct"},
        verdict="reject",
        all_wrong=True,
    )
    submit_demo_review(
        by_name["noor"],
        pad,
        truth=PAD_TRUTH,
        flags=[
            ("acoustic guitar", "instrument-not-present", "major", ""),
            ("A minor", "wrong-key-mode", "critical", "D major"),
        ],
        grades={1: "incorrect", 2: "incorrect", 3: "incorrect", 4: "incorrect"},
        verdict="reject",
    )
    stats = rewards_recompute(
        generation_ids=[
            *Generation.objects.filter(song__in=[waltz.song, pad.song]).values_list(
                "id", flat=True
            ),
            question.pk,
        ]
    )
    if stdout is not None:
        stdout.write(
            f"Noor and Tomás submitted 3 reviews; {stats.written} reward values stored "
            "(sign in as ada or ravi, open Rewards)"
        )


def _sample(title: str, sibling_index: int) -> Generation | None:
    return (
        Generation.objects.filter(
            model_version__name=SAMPLE_MODEL_NAME,
            song__title=title,
            sibling_index=sibling_index,
            prompt__answer_field="",
            status=Generation.Status.SUCCEEDED,
        )
        .select_related("song", "model_version")
        .first()
    )


def _question_for(sample: Generation) -> Generation:
    """A multiple-choice question whose gold answer is the culture the experts verify."""
    prompt, _ = PromptTemplate.objects.get_or_create(
        name=QUESTION_PROMPT,
        version=1,
        defaults={
            "text": "Which tradition does this piece come from? (A) Hindustani "
            "(B) Central European (C) Brazilian. Answer with the letter.",
            "thinking": True,
            "answer_field": "culture",
            "answer_options": ["Hindustani", "Central European", "Brazilian"],
        },
    )
    group = GenerationGroup.objects.create(
        song=sample.song, model_version=sample.model_version, prompt=prompt, size=1
    )
    return record_hand_written(group=group, sibling_index=0, raw_text=QUESTION_OUTPUT)


def submit_demo_review(
    expert: Any,
    generation: Generation,
    *,
    truth: dict[str, str],
    flags: list[tuple[str, str, str, str]],
    grades: dict[int, str],
    verdict: str,
    all_wrong: bool = False,
    corrected_caption: str = "",
) -> None:
    review = review_claim(expert=expert, generation=generation)
    answer = generation.answer_text
    for quote, category, severity, correction in flags:
        start = answer.index(quote)
        _flag, review = flag_save(
            review=review,
            expert=expert,
            version=review.version,
            data={
                "target": "caption",
                "start": start,
                "end": start + len(quote),
                "category": category,
                "severity": severity,
                "correction": correction,
                # Where in the recording the expert heard it: the audit's drill-down seeks there.
                **AUDIO_RANGES.get(quote, {}),
            },
        )
    form: dict[str, str] = {
        "verdict": verdict,
        "comment": "Demo review.",
        "corrected_caption": corrected_caption,
    }
    for number in generation_steps(generation):
        form[f"step_{number}"] = grades.get(number, "unverifiable")
    for code, _label in REVIEW_ASPECTS:
        form[f"aspect_{code}"] = "2"
    for field in METADATA_FIELDS:
        form[f"meta_{field.name}"] = truth.get(field.name, "")
        form[f"meta_{field.name}_status"] = "corrected" if field.name in truth else "unsure"
        form[f"meta_{field.name}_source"] = "expert"
    siblings = sibling_ids(generation)
    if all_wrong:
        form["siblings_all_wrong"] = "on"
    else:
        # Both samples are wrong; the second (right tempo, fewer errors) is ranked first.
        for rank, sibling in enumerate(reversed(siblings), 1):
            form[f"rank_{sibling}"] = str(rank)
    review = review_save_draft(review=review, expert=expert, version=review.version, data=form)
    review_submit(review=review, expert=expert, version=review.version)
