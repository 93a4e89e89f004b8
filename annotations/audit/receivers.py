"""How the audit room answers the reviews room's signals (connected in ``AppConfig.ready``).

The receivers that keep the per-generation summaries right when a review or flag is deleted through
the ORM live beside the refresh in ``services``.
"""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from annotations.audit.services import audit_schedule_for_review
from annotations.reviews.models import Review
from annotations.reviews.signals import review_submitted


@receiver(review_submitted, sender=Review, dispatch_uid="audit.on_review")
def refresh_facts_after_review(*, review: Review, **_: Any) -> None:
    audit_schedule_for_review(review)
