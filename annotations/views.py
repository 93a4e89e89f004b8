"""Pages. Thin: parse, authorise, call one selector or service, render (a partial for htmx)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required, permission_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers
from django_htmx.middleware import HtmxDetails

from annotations import selectors
from annotations.models import Culture, Genre, Song


class HtmxHttpRequest(HttpRequest):
    """What HtmxMiddleware adds to every request, for the type checker."""

    htmx: HtmxDetails


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"summary": selectors.home_summary(request.user)})


@require_GET
@permission_required("annotations.view_song", raise_exception=True)
@vary_on_headers("HX-Request")
def song_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = {
        "search": request.GET.get("q", "").strip()[:200],
        "genre": request.GET.get("genre", "").strip()[:80],
        "culture": request.GET.get("culture", "").strip()[:80],
        "status": request.GET.get("status", "").strip()[:16],
        "sort": request.GET.get("sort", "title").strip()[:16],
    }
    page = selectors.song_list(
        search=filters["search"],
        genre=filters["genre"],
        culture=filters["culture"],
        status=filters["status"],
        sort=filters["sort"],
        after=request.GET.get("after", "")[:200],
    )
    template = "songs/list.html#results" if request.htmx else "songs/list.html"
    return render(
        request,
        template,
        {
            "page": page,
            "filters": filters,
            "statuses": Song.Status.choices,
            "sorts": selectors.SONG_SORT_LABELS.items(),
            "genres": Genre.objects.order_by("name"),
            "cultures": Culture.objects.order_by("name"),
        },
    )


@require_GET
@permission_required("annotations.view_errorcategory", raise_exception=True)
def taxonomy(request: HttpRequest) -> HttpResponse:
    return render(request, "taxonomy.html", {"groups": selectors.taxonomy_by_kind()})


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: the process is up and the database answers. Reveals nothing else."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
