"""What the home page reads: a few counts from every room, chosen by the user's roles."""

from __future__ import annotations

from typing import Any

from annotations.core.roles import ADMIN, AUDITOR, EXPERT, roles_of
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import Generation, ModelVersion
from annotations.reviews.models import Review
from annotations.songs.models import Song, SongAnalysis
from annotations.training.models import ModelEvaluation, TrainingRun


def home_summary(user: Any) -> dict[str, Any]:
    """The figures the home page shows, chosen by the user's roles."""
    roles = roles_of(user)
    summary: dict[str, Any] = {"roles": sorted(roles)}
    if roles & {ADMIN, AUDITOR, EXPERT}:
        summary["song_count"] = Song.objects.count()
        summary["work"] = work_in_progress()
    if EXPERT in roles:
        mine = Review.objects.filter(expert=user)
        summary["my_drafts"] = mine.filter(status=Review.Status.DRAFT).count()
        summary["my_submitted"] = mine.filter(status=Review.Status.SUBMITTED).count()
    if roles & {ADMIN, AUDITOR}:
        summary["generation_count"] = Generation.objects.filter(
            status=Generation.Status.SUCCEEDED
        ).count()
        summary["submitted_reviews"] = Review.objects.filter(status=Review.Status.SUBMITTED).count()
        summary["serving_versions"] = list(
            ModelVersion.objects.filter(status=ModelVersion.Status.SERVING)
        )
    return summary


def work_in_progress() -> list[str]:
    """What the workers have queued or running, as "2 generations"-style phrases (none: empty).

    The home page shows it, so the demo's start-up backlog (the 21-minute suite's analysis, its
    long-song generation, the GRPO run) is visible rather than silently missing from pages.
    """
    waiting = ("queued", "running")
    counts = (
        (SongAnalysis.objects.filter(status__in=waiting), "song analysis", "song analyses"),
        (Generation.objects.filter(status__in=waiting), "generation", "generations"),
        (
            DatasetSnapshot.objects.filter(status=DatasetSnapshot.Status.BUILDING),
            "dataset build",
            "dataset builds",
        ),
        (TrainingRun.objects.filter(status__in=waiting), "training run", "training runs"),
        (ModelEvaluation.objects.filter(status__in=waiting), "evaluation", "evaluations"),
    )
    phrases = []
    for rows, one, many in counts:
        count = rows.count()
        if count:
            phrases.append(f"{count} {one if count == 1 else many}")
    return phrases
