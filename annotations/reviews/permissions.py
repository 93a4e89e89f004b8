"""The one way in to this room's objects named in URLs (see annotations.core.permissions)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404

from annotations.core.permissions import require_perm as _require
from annotations.reviews.models import Review


def access_review_for_user(user: Any, pk: int, *, write: bool = False) -> Review:
    """An expert sees and edits only their own reviews (reviews are blind).

    Admins and auditors read submitted reviews; nobody but the author writes one, and a submitted
    review is read-only for everyone.
    """
    try:
        review = Review.objects.select_related("generation", "expert").get(pk=pk)
    except Review.DoesNotExist:
        raise Http404("No such review.") from None
    if review.expert_id == user.pk:
        _require(user, "review_generations")
        if write and review.status == Review.Status.SUBMITTED:
            raise PermissionDenied("This review was submitted and can no longer be edited.")
        return review
    if (
        write
        or review.status != Review.Status.SUBMITTED
        or not user.has_perm("annotations.view_review")
    ):
        # Another expert's draft must not even be known to exist.
        raise Http404("No such review.")
    return review
