"""The home page and the health check. Thin: parse, authorise, call one selector or service, render (a partial for htmx)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from annotations.home import selectors


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"summary": selectors.home_summary(request.user)})


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: the process is up and the database answers. Reveals nothing else."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
