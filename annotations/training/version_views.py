"""Model pages: the lineage tree, a version's provenance and evaluations against its parent, and
the promote / retire actions.

Thin: parse, authorise, call one selector or service, render. Auditors read; admins promote and
retire (``promote_modelversion``); experts see none of it.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from annotations.core.errors import ValidationFailed
from annotations.core.http import HtmxHttpRequest
from annotations.generations.permissions import access_model_version_for_user
from annotations.training import version_selectors as model_selectors
from annotations.training.services.evaluations import evaluation_schedule
from annotations.training.services.model_versions import model_version_promote, model_version_retire
from annotations.training.version_forms import EvaluateForm


@require_GET
@permission_required("annotations.view_modelversion", raise_exception=True)
def model_version_list(request: HttpRequest) -> HttpResponse:
    return render(
        request, "model_versions/list.html", {"rows": model_selectors.model_version_lineage()}
    )


@require_GET
@permission_required("annotations.view_modelversion", raise_exception=True)
@vary_on_headers("HX-Request")
def model_version_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    version = access_model_version_for_user(request.user, pk)
    context = {
        "version": version,
        **model_selectors.model_version_detail(version),
        "can_promote": request.user.has_perm("annotations.promote_modelversion"),
        "can_see_evaluations": request.user.has_perm("annotations.view_modelevaluation"),
        "evaluate_form": EvaluateForm(),
    }
    partial = request.htmx and context["can_see_evaluations"]
    template = "model_versions/detail.html#evaluations" if partial else "model_versions/detail.html"
    return render(request, template, context)


@require_POST
@permission_required("annotations.promote_modelversion", raise_exception=True)
def model_version_promote_view(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_model_version_for_user(request.user, pk, write=True)
    version = model_version_promote(version=version, actor=request.user)
    messages.success(
        request, f"{version} now serves new {version.get_variant_display()} generations."
    )
    return redirect("model_version_detail", pk=version.pk)


@require_POST
@permission_required("annotations.promote_modelversion", raise_exception=True)
def model_version_retire_view(request: HttpRequest, pk: int) -> HttpResponse:
    version = access_model_version_for_user(request.user, pk, write=True)
    try:
        version = model_version_retire(version=version, actor=request.user)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{version} is retired: new generation requests refuse it.")
    return redirect("model_version_detail", pk=version.pk)


@require_POST
@permission_required("annotations.promote_modelversion", raise_exception=True)
def model_version_evaluate(request: HttpRequest, pk: int) -> HttpResponse:
    """Evaluate the version (and its parent) on a frozen snapshot the admin picks."""
    version = access_model_version_for_user(request.user, pk, write=True)
    form = EvaluateForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(e) for e in form.errors["snapshot"]))
        return redirect("model_version_detail", pk=version.pk)
    snapshot = form.cleaned_data["snapshot"]
    try:
        scheduled = evaluation_schedule(model_version=version, snapshot=snapshot)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        names = " and ".join(str(e.model_version) for e in scheduled)
        messages.success(request, f"Evaluating {names} on {snapshot}; progress shows below.")
    return redirect("model_version_detail", pk=version.pk)
