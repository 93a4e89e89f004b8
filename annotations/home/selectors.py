"""What the home page reads: a few counts from every room, chosen by the user's roles."""

from __future__ import annotations

from typing import Any

from annotations.core.roles import ADMIN, AUDITOR, EXPERT, roles_of
from annotations.generations.models import Generation, ModelVersion
from annotations.reviews.models import Review
from annotations.songs.models import Song


def home_summary(user: Any) -> dict[str, Any]:
    """The figures the home page shows, chosen by the user's roles."""
    roles = roles_of(user)
    summary: dict[str, Any] = {"roles": sorted(roles)}
    if roles & {ADMIN, AUDITOR, EXPERT}:
        summary["song_count"] = Song.objects.count()
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
