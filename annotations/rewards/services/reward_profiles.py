"""Reward profiles: create them and edit them, never changing one a training run has used.

A profile a run used is frozen (its rewards must stay reproducible exactly as the run saw them):
an edit then creates the next version of the same name. Every saved change recomputes the
profile's composite rewards in the background, after commit.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction
from django.db.models import Max

from annotations.core.errors import ValidationFailed
from annotations.rewards.models import RewardProfile

MAX_ABS_WEIGHT = 10.0
MAX_NAME_LENGTH = 80


def reward_profile_is_frozen(profile: RewardProfile) -> bool:
    """Whether a training run used the profile (it can then never change)."""
    return profile.training_runs.exists()


@transaction.atomic
def reward_profile_create(
    *,
    name: str,
    description: str,
    weights: Mapping[str, Any],
    is_active: bool,
    user: Any,
) -> RewardProfile:
    """Version 1 of a new profile; the name must not be taken by any version of another one."""
    name = _clean_name(name)
    cleaned = _clean_weights(weights)
    # Locks nothing that exists; the unique (name, version) constraint settles a race as an error.
    if RewardProfile.objects.filter(name=name).exists():
        raise ValidationFailed(
            f"A profile called {name!r} exists already: edit it (that makes a new version if a "
            "training run used it) or choose another name."
        )
    profile = RewardProfile(
        name=name,
        version=1,
        description=description.strip(),
        weights=cleaned,
        is_active=is_active,
        created_by=user,
    )
    _save(profile)
    return profile


@transaction.atomic
def reward_profile_update(
    *,
    profile: RewardProfile,
    description: str,
    weights: Mapping[str, Any],
    is_active: bool,
    user: Any,
) -> RewardProfile:
    """Edit a profile in place, or, when a training run used it, create version max+1 of its name.

    Returns the profile that holds the edit (the new version when one was created; the frozen one
    keeps its weights and stored composites, and stops being active when the new one is). The
    profile's row is locked first: a training run inserted concurrently takes a key-share lock on
    it, so "frozen" cannot change between the check and the write.
    """
    cleaned = _clean_weights(weights)
    locked = RewardProfile.objects.select_for_update().get(pk=profile.pk)
    if reward_profile_is_frozen(locked):
        # Lock every version of the name so two admins editing at once get max+1 and max+2.
        list(RewardProfile.objects.select_for_update().filter(name=locked.name).values("pk"))
        latest = RewardProfile.objects.filter(name=locked.name).aggregate(v=Max("version"))["v"]
        new = RewardProfile(
            name=locked.name,
            version=(latest or locked.version) + 1,
            description=description.strip(),
            weights=cleaned,
            is_active=is_active,
            created_by=user,
        )
        _save(new)
        if new.is_active:
            # The new version takes over: composites are kept fresh for it, while the frozen
            # version's stored composites stay as its training run saw them.
            RewardProfile.objects.filter(name=new.name).exclude(pk=new.pk).update(is_active=False)
        return new
    changed = cleaned != locked.weights or is_active != locked.is_active
    locked.description = description.strip()
    locked.weights = cleaned
    locked.is_active = is_active
    _save(locked, recompute=changed)
    return locked


# --- helpers -------------------------------------------------------------------------------------


def _save(profile: RewardProfile, *, recompute: bool = True) -> None:
    try:
        profile.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise ValidationFailed(" ".join(exc.messages)) from None
    profile.save()
    if recompute:
        profile_id = profile.pk
        transaction.on_commit(lambda: _enqueue_composites(profile_id))


def _enqueue_composites(profile_id: int) -> None:
    from workers.rewards import recompute_composites

    recompute_composites.delay(profile_id)


def _known_functions() -> list[str]:
    from modeling.rewards import REWARDS

    return list(REWARDS)


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationFailed("Give the profile a name, e.g. expert-heavy.")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationFailed(
            f"The name is {len(name)} characters long: use at most {MAX_NAME_LENGTH}."
        )
    try:
        validate_slug(name)
    except ValidationError:
        raise ValidationFailed(
            f"The name {name!r} may only hold letters, digits, hyphens and underscores "
            "(e.g. expert-heavy)."
        ) from None
    return name


def _clean_weights(weights: Mapping[str, Any]) -> dict[str, float]:
    """The weights as floats in registry order, zeros dropped (a zero weight contributes nothing)."""
    known = _known_functions()
    unknown = sorted(set(weights) - set(known))
    if unknown:
        raise ValidationFailed(
            f"Unknown reward function(s): {', '.join(unknown)}. Known: {', '.join(known)}."
        )
    cleaned: dict[str, float] = {}
    for name in known:
        if name not in weights:
            continue
        raw = weights[name]
        if raw is None or raw == "":
            continue
        if isinstance(raw, bool):
            raise ValidationFailed(f"The weight of {name} must be a number, not {raw!r}.")
        try:
            weight = float(raw)
        except (TypeError, ValueError):
            raise ValidationFailed(f"The weight of {name} must be a number, not {raw!r}.") from None
        if not math.isfinite(weight) or abs(weight) > MAX_ABS_WEIGHT:
            raise ValidationFailed(
                f"The weight of {name} is {raw}: use a number from {-MAX_ABS_WEIGHT:g} "
                f"to {MAX_ABS_WEIGHT:g}."
            )
        if weight != 0:
            cleaned[name] = weight
    if not cleaned:
        raise ValidationFailed(
            "Give at least one reward function a non-zero weight: a profile of zeros scores "
            "every generation 0."
        )
    return cleaned
