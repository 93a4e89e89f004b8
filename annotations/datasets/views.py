"""Dataset snapshot pages: the list, the new-snapshot form, a snapshot (polled while it builds).

Thin: parse, authorise, call one selector or service, render. Auditors read; admins curate.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotations.core.errors import ValidationFailed
from annotations.core.http import HtmxHttpRequest
from annotations.datasets import selectors as dataset_selectors
from annotations.datasets.forms import DatasetSnapshotForm
from annotations.datasets.permissions import access_dataset_snapshot_for_user
from annotations.datasets.services import snapshot_create, snapshot_retry


@require_GET
@permission_required("annotations.view_datasetsnapshot", raise_exception=True)
def dataset_snapshot_list(request: HttpRequest) -> HttpResponse:
    context = {
        "snapshots": dataset_selectors.snapshot_list(),
        "can_curate": request.user.has_perm("annotations.curate_datasets"),
    }
    return render(request, "datasets/list.html", context)


@require_http_methods(["GET", "POST"])
@permission_required("annotations.curate_datasets", raise_exception=True)
def dataset_snapshot_new(request: HttpRequest) -> HttpResponse:
    form = DatasetSnapshotForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            snapshot = snapshot_create(
                name=data["name"],
                description=data["description"],
                filters=form.filters(),
                eval_fraction=data["eval_fraction"],
                split_seed=data["split_seed"],
                actor=request.user,
            )
        except ValidationFailed as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Building {snapshot.name}; this page updates when done.")
            return redirect("dataset_snapshot_detail", pk=snapshot.pk)
    status = 400 if request.method == "POST" else 200
    return render(request, "datasets/new.html", {"form": form}, status=status)


@require_GET
@permission_required("annotations.view_datasetsnapshot", raise_exception=True)
@vary_on_headers("HX-Request")
def dataset_snapshot_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    snapshot = access_dataset_snapshot_for_user(request.user, pk)
    context = {
        **dataset_selectors.snapshot_page(snapshot),
        "can_curate": request.user.has_perm("annotations.curate_datasets"),
    }
    template = "datasets/detail.html#body" if request.htmx else "datasets/detail.html"
    return render(request, template, context)


@require_POST
@permission_required("annotations.curate_datasets", raise_exception=True)
def dataset_snapshot_retry(request: HttpRequest, pk: int) -> HttpResponse:
    snapshot = access_dataset_snapshot_for_user(request.user, pk, write=True)
    try:
        snapshot_retry(snapshot=snapshot, actor=request.user)
    except ValidationFailed as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"Building {snapshot.name} again.")
    return redirect("dataset_snapshot_detail", pk=snapshot.pk)
