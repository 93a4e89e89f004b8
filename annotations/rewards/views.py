"""Reward pages: a generation's breakdown, distributions as charts, and the reward profiles.

Thin: parse, authorise, call one selector or service, render. Experts have none of the reward
permissions: the breakdown shows other reviewers' flags, and reviews are blind.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django.views.decorators.vary import vary_on_headers

from annotations.core.errors import ValidationFailed
from annotations.core.http import HtmxHttpRequest
from annotations.generations.permissions import access_generation_for_user
from annotations.rewards import selectors as reward_selectors
from annotations.rewards.forms import RewardProfileForm
from annotations.rewards.permissions import access_reward_profile_for_user
from annotations.rewards.services.reward_profiles import (
    reward_profile_create,
    reward_profile_is_frozen,
    reward_profile_update,
)
from annotations.rewards.services.rewards import reward_functions

MAX_FILTERED_VERSIONS = 50


@require_GET
@permission_required("annotations.view_rewards", raise_exception=True)
def generation_rewards(request: HttpRequest, pk: int) -> HttpResponse:
    generation = access_generation_for_user(request.user, pk)
    context = {
        "generation": generation,
        **reward_selectors.reward_breakdown(generation, functions=reward_functions()),
    }
    return render(request, "rewards/breakdown.html", context)


@require_GET
@permission_required("annotations.view_rewards", raise_exception=True)
@vary_on_headers("HX-Request")
def reward_overview(request: HtmxHttpRequest) -> HttpResponse:
    chosen = _version_ids(request.GET.getlist("version"))
    distributions = reward_selectors.reward_distributions(
        functions=reward_functions(), model_version_ids=chosen or None
    )
    context = {
        "distributions": distributions,
        "charts": reward_selectors.chart_payload(distributions),
        "chosen": chosen,
        "versions": reward_selectors.model_versions_with_rewards(),
    }
    template = "rewards/overview.html#results" if request.htmx else "rewards/overview.html"
    return render(request, template, context)


@require_GET
@permission_required("annotations.view_rewardprofile", raise_exception=True)
def reward_profile_list(request: HttpRequest) -> HttpResponse:
    context = {
        "families": reward_selectors.reward_profile_families(functions=reward_functions()),
        "can_manage": request.user.has_perm("annotations.manage_reward_profiles"),
    }
    return render(request, "rewards/profiles.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("annotations.manage_reward_profiles", raise_exception=True)
def reward_profile_new(request: HttpRequest) -> HttpResponse:
    form = RewardProfileForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            profile = reward_profile_create(
                name=data["name"],
                description=data["description"],
                weights=form.weights(),
                is_active=data["is_active"],
                user=request.user,
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Created {profile}. Its composite rewards are computing.")
            return redirect("reward_profile_list")
    status = 400 if request.method == "POST" else 200
    return render(request, "rewards/profile_form.html", {"form": form}, status=status)


@require_http_methods(["GET", "POST"])
@permission_required("annotations.manage_reward_profiles", raise_exception=True)
def reward_profile_edit(request: HttpRequest, pk: int) -> HttpResponse:
    profile = access_reward_profile_for_user(request.user, pk, write=True)
    if request.method == "POST":
        form = RewardProfileForm(request.POST, with_name=False)
    else:
        form = RewardProfileForm(initial=RewardProfileForm.initial_for(profile), with_name=False)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            saved = reward_profile_update(
                profile=profile,
                description=data["description"],
                weights=form.weights(),
                is_active=data["is_active"],
                user=request.user,
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            if saved.pk == profile.pk:
                messages.success(request, f"Saved {saved}.")
            else:
                messages.success(
                    request,
                    f"Saved as {saved}: {profile} was used by a training run and stays as it was.",
                )
            return redirect("reward_profile_list")
    status = 400 if request.method == "POST" else 200
    context = {
        "form": form,
        "profile": profile,
        "frozen": reward_profile_is_frozen(profile),
        "next_version": reward_selectors.next_profile_version(profile),
    }
    return render(request, "rewards/profile_form.html", context, status=status)


def _version_ids(raw: list[str]) -> list[int]:
    ids = []
    for value in raw[:MAX_FILTERED_VERSIONS]:
        try:
            ids.append(int(value))
        except ValueError:
            continue
    return ids
