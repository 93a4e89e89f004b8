"""Generation pages: start a run, follow runs live, read one generation parsed, decide hints.

Thin: parse, authorise (annotations.permissions), call one service or selector, render.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.forms import ModelMultipleChoiceField
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from annotations.core.errors import ValidationFailed
from annotations.core.http import HtmxHttpRequest
from annotations.generations import selectors as generation_selectors
from annotations.generations.forms import GenerationRequestForm
from annotations.generations.models import GenerationHint
from annotations.generations.permissions import access_generation_for_user
from annotations.generations.services.generations import generation_hint_decide, generation_request
from annotations.generations.services.prompts import prompt_full_text
from annotations.songs.models import Song


def _int_or_none(raw: str | None) -> int | None:
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


@require_GET
@permission_required("annotations.view_generation", raise_exception=True)
@vary_on_headers("HX-Request")
def generation_list(request: HtmxHttpRequest) -> HttpResponse:
    song_id = _int_or_none(request.GET.get("song"))
    page = generation_selectors.generation_group_page(
        song_id=song_id, page=_int_or_none(request.GET.get("page")) or 1
    )
    context = {
        "page": page,
        "song": Song.objects.filter(pk=song_id).first() if song_id else None,
        "polling": generation_selectors.any_generation_active(),
    }
    template = "generations/list.html#groups" if request.htmx else "generations/list.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@permission_required("annotations.run_generation", raise_exception=True)
def generation_new(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = GenerationRequestForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                groups = generation_request(
                    songs=list(data["songs"]),
                    model_version=data["model_version"],
                    prompt=data["prompt"],
                    samples=data["samples"],
                    decoding=data["decoding"],
                    seed=data["seed"],
                    actor=request.user,
                )
            except ValidationFailed as exc:
                form.add_error(None, exc.message)
            else:
                total = sum(group.size for group in groups)
                messages.success(
                    request, f"Queued {total} generation(s) for {len(groups)} song(s)."
                )
                return redirect(reverse("generation_list"))
        status = 400
    else:
        song_ids = [i for i in map(_int_or_none, request.GET.getlist("song")) if i]
        form = GenerationRequestForm(
            initial={"songs": song_ids, **generation_selectors.generation_form_defaults()}
        )
        status = 200
    # Only the songs asked for are offered (the song list is the place to pick among thousands).
    chosen = [_int_or_none(str(c)) for c in form["songs"].value() or []]
    songs_field = form.fields["songs"]
    assert isinstance(songs_field, ModelMultipleChoiceField)
    songs_field.queryset = Song.objects.filter(pk__in=[c for c in chosen if c])
    return render(request, "generations/new.html", {"form": form}, status=status)


@require_GET
def generation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    generation = access_generation_for_user(request.user, pk)
    context = {
        "generation": generation,
        **generation_selectors.generation_detail(generation=generation),
        "prompt_text": prompt_full_text(generation.prompt),
        "can_decide": request.user.has_perm("annotations.review_generations"),
    }
    return render(request, "generations/detail.html", context)


@require_POST
@permission_required("annotations.review_generations", raise_exception=True)
def generation_hint_decide_view(request: HtmxHttpRequest, pk: int, hint_pk: int) -> HttpResponse:
    generation = access_generation_for_user(request.user, pk)
    hint = GenerationHint.objects.filter(pk=hint_pk, generation=generation).first()
    if hint is None:
        raise Http404("No such hint.")
    try:
        hint = generation_hint_decide(
            hint=hint, status=request.POST.get("status", ""), actor=request.user
        )
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400)
    if request.htmx:
        return render(
            request,
            "generations/detail.html#hint",
            {"hint": hint, "generation": generation, "can_decide": True},
        )
    return redirect(reverse("generation_detail", args=[generation.pk]) + f"#hint-{hint.pk}")
