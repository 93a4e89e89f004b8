"""The one way in to this room's objects named in URLs (see annotations.core.permissions)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from annotations.core.permissions import require_perm as _require
from annotations.rewards.models import RewardProfile


def access_reward_profile_for_user(user: Any, pk: int, *, write: bool = False) -> RewardProfile:
    _require(user, "manage_reward_profiles" if write else "view_rewardprofile")
    try:
        return RewardProfile.objects.get(pk=pk)
    except RewardProfile.DoesNotExist:
        raise Http404("No such reward profile.") from None
