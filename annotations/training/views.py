"""Training pages: the runs, the launch form, a run's live page (charts, progress, cancel), and its
metrics as JSON for the charts' polling.

Thin: parse, authorise, call one service or selector, render.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotations.core.errors import ValidationFailed
from annotations.core.http import HtmxHttpRequest
from annotations.training import selectors as training_selectors
from annotations.training.forms import TrainingRunForm
from annotations.training.permissions import access_training_run_for_user
from annotations.training.services.creation import training_run_cancel, training_run_create


@require_GET
@permission_required("annotations.view_trainingrun", raise_exception=True)
@vary_on_headers("HX-Request")
def training_run_list(request: HtmxHttpRequest) -> HttpResponse:
    context = {
        "runs": training_selectors.training_run_list()[:200],
        "polling": training_selectors.any_run_active(),
        "can_launch": request.user.has_perm("annotations.run_training"),
    }
    template = "training/list.html#runs" if request.htmx else "training/list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@permission_required("annotations.run_training", raise_exception=True)
@vary_on_headers("HX-Request")
def training_run_new(request: HtmxHttpRequest) -> HttpResponse:
    if request.method == "GET" and request.htmx:
        # The stage or preset changed: redraw the hyperparameter table with its preset values.
        form = TrainingRunForm(request.GET)
        return render(request, "training/new.html#hyperparameters", {"form": form})
    form = TrainingRunForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            run = training_run_create(
                stage=data["stage"],
                base_version=data["base_version"],
                snapshot=data["snapshot"],
                reward_profile=data["reward_profile"],
                preset=data["preset"],
                use_lora=data["use_lora"],
                overrides=data["overrides"],
                actor=request.user,
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Queued {run} on the training workers.")
            return redirect("training_run_detail", pk=run.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "training/new.html", {"form": form}, status=status)


@require_GET
@vary_on_headers("HX-Request")
def training_run_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    run = access_training_run_for_user(request.user, pk)
    context = {
        "run": run,
        "version": getattr(run, "produced_version", None),  # selected with the run
        "active": run.status in training_selectors.ACTIVE,
        "can_cancel": request.user.has_perm("annotations.run_training"),
        "config": training_selectors.config_rows(run),
        "charts": training_selectors.chart_specs(),
    }
    template = "training/detail.html#status" if request.htmx else "training/detail.html"
    return render(request, template, context)


@require_GET
def training_run_metrics(request: HttpRequest, pk: int) -> JsonResponse:
    run = access_training_run_for_user(request.user, pk)
    try:
        after = int(request.GET["after"]) if request.GET.get("after") else None
    except ValueError:
        return JsonResponse({"error": "after must be a step number."}, status=400)
    return JsonResponse(training_selectors.training_run_metrics(run, after=after))


@require_POST
def training_run_cancel_view(request: HttpRequest, pk: int) -> HttpResponse:
    run = access_training_run_for_user(request.user, pk, write=True)
    try:
        run = training_run_cancel(run=run, actor=request.user)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        if run.status == run.Status.CANCELLED:
            messages.success(request, f"Cancelled {run} before it started.")
        else:
            messages.success(
                request, f"Cancelling {run}: it saves a checkpoint at its next step and stops."
            )
    return redirect("training_run_detail", pk=run.pk)
