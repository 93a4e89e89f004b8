"""The expert review workspace: the queue, the review page and the htmx endpoints it saves through.

Thin: parse, authorise (``access_review_for_user``), call one service, render a partial of
``reviews/detail.html``. Every answer to a mutating request carries the review's version as an
out-of-band swap, because the next save must quote it (optimistic concurrency, see
``Review.version``):

- success: the new version, from the review the service returned;
- ``StaleReview`` (another tab saved first): 409, a visible alert and the whole workspace
  re-rendered from the saved review, with the saved version, so the page shows what is stored;
- ``ValidationFailed``: 400 and the message beside the form, echoing the version the page sent.
  The stored version is *not* sent then: a service may validate before it compares versions, and a
  stale page handed the newest version would overwrite the other tab's work silently.

Without JavaScript the forms still post: success redirects back to the page, failures render it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect, reswap, retarget

from annotations.core.errors import ReviewIncomplete, StaleReview, ValidationFailed
from annotations.core.http import HtmxHttpRequest
from annotations.generations.models import GenerationHint
from annotations.reviews import rules as review_rules
from annotations.reviews import selectors as review_selectors
from annotations.reviews import services as review_services
from annotations.reviews.models import Flag, Review
from annotations.reviews.permissions import access_review_for_user

DETAIL = "reviews/detail.html"
STALE_MESSAGE = (
    "This review was changed in another tab or window; your last change was not saved. "
    "Below is the saved version."
)


# --- Pages -------------------------------------------------------------------------------------


@require_GET
@permission_required("annotations.review_generations", raise_exception=True)
def review_queue(request: HtmxHttpRequest) -> HttpResponse:
    queue = review_selectors.review_queue(expert=request.user)
    return render(request, "reviews/queue.html", {"queue": queue})


@require_POST
@permission_required("annotations.review_generations", raise_exception=True)
def review_next(request: HtmxHttpRequest) -> HttpResponse:
    """Claim the next task and open it; back to the queue, saying so, when nothing is left."""
    review = review_services.review_next(expert=request.user)
    if review is None:
        messages.info(request, "Nothing left to review for now: every task is taken or done.")
        url = reverse("review_queue")
    else:
        url = reverse("review_detail", args=[review.pk])
    # htmx follows a plain 302 inside the XHR and would swap the whole page into the target.
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@vary_on_headers("HX-Request")
def review_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    review = access_review_for_user(request.user, pk)
    context = _workspace(review)
    template = f"{DETAIL}#workspace" if request.htmx else DETAIL
    return render(request, template, context)


# --- Saving ------------------------------------------------------------------------------------


@require_POST
def review_draft(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Autosave: the whole review form, every time (absent fields are saved as empty)."""
    review = access_review_for_user(request.user, pk, write=True)
    return _mutate(
        request,
        review,
        lambda version: review_services.review_save_draft(
            review=review, expert=request.user, data=request.POST, version=version
        ),
        partials=("saved", "problems"),
        error_target="#review-form-error",
        # Autosave is the hottest path: the status, problems and version need no page context.
        context=lambda saved: {
            "review": saved,
            "version": saved.version,
            "problems": review_rules.review_problems(saved),
        },
    )


@require_POST
def review_flag_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    review = access_review_for_user(request.user, pk, write=True)
    return _mutate(
        request,
        review,
        lambda version: review_services.flag_save(
            review=review, expert=request.user, data=request.POST, version=version
        )[1],
        partials=("flag-list", "hint-list", "problems"),
        error_target="#flag-form-error",
        context=_flag_panel,
    )


@require_POST
def review_flag_update(request: HtmxHttpRequest, pk: int, flag_pk: int) -> HttpResponse:
    review = access_review_for_user(request.user, pk, write=True)
    flag = _flag_of(review, flag_pk)
    return _mutate(
        request,
        review,
        lambda version: review_services.flag_save(
            review=review, expert=request.user, data=request.POST, version=version, flag=flag
        )[1],
        partials=("flag-list", "hint-list", "problems"),
        error_target="#flag-form-error",
        context=_flag_panel,
    )


@require_POST
def review_flag_delete(request: HtmxHttpRequest, pk: int, flag_pk: int) -> HttpResponse:
    review = access_review_for_user(request.user, pk, write=True)
    flag = _flag_of(review, flag_pk)
    return _mutate(
        request,
        review,
        lambda version: review_services.flag_delete(
            review=review, expert=request.user, flag=flag, version=version
        ),
        partials=("flag-list", "hint-list", "problems"),
        error_target="#flag-list-error",
        context=_flag_panel,
    )


@require_POST
def review_hint_dismiss(request: HtmxHttpRequest, pk: int, hint_pk: int) -> HttpResponse:
    review = access_review_for_user(request.user, pk, write=True)
    hint = GenerationHint.objects.filter(pk=hint_pk, generation_id=review.generation_id).first()
    if hint is None:
        raise Http404("No such hint.")
    return _mutate(
        request,
        review,
        lambda version: review_services.review_hint_dismiss(
            review=review,
            expert=request.user,
            hint=hint,
            version=version,
            undo=request.POST.get("undo") == "1",
        ),
        partials=("hint-list", "problems"),
        error_target="#flag-list-error",
        context=_flag_panel,
    )


@require_POST
def review_skip(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    review = access_review_for_user(request.user, pk, write=True)
    return _mutate(
        request,
        review,
        lambda version: review_services.review_skip(
            review=review,
            expert=request.user,
            reason=request.POST.get("skip_reason", ""),
            note=request.POST.get("skip_note", ""),
            version=version,
        ),
        partials=(),
        error_target="#skip-error",
        done=("Skipped. The task goes back to the pool for another expert.", "review_queue"),
    )


@require_POST
def review_submit(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    review = access_review_for_user(request.user, pk, write=True)
    return _mutate(
        request,
        review,
        lambda version: review_services.review_submit(
            review=review, expert=request.user, version=version
        ),
        partials=(),
        error_target="#review-problems",
        done=("Review submitted. Thank you.", "review_queue"),
    )


# --- Helpers -----------------------------------------------------------------------------------


def _workspace(review: Review, **extra: Any) -> dict[str, Any]:
    return {**review_selectors.review_workspace(review=review), **extra}


def _flag_panel(review: Review) -> dict[str, Any]:
    # Flag and hint saves re-render only the flags, hints and problems: not the whole page.
    return review_selectors.review_flag_panel(review=review)


def _flag_of(review: Review, flag_pk: int) -> Flag:
    # Scoped through the review the user may write: a flag of another review is "not found".
    flag = review.flags.select_related("category").filter(pk=flag_pk).first()
    if flag is None:
        raise Http404("No such flag.")
    return flag


def _posted_version(request: HtmxHttpRequest) -> int:
    try:
        return int(request.POST.get("version", ""))
    except ValueError:
        raise ValidationFailed(
            "The form did not say which version of the review it edits: reload the page."
        ) from None


def _render(request: HtmxHttpRequest, names: Iterable[str], context: dict[str, Any]) -> str:
    """The first partial is the swap target; the rest go out of band (``oob`` in the template)."""
    return "".join(
        render_to_string(f"{DETAIL}#{name}", {**context, "oob": i > 0}, request)
        for i, name in enumerate(names)
    )


def _mutate(
    request: HtmxHttpRequest,
    review: Review,
    call: Callable[[int], Review],
    *,
    partials: Iterable[str],
    error_target: str,
    done: tuple[str, str] | None = None,
    context: Callable[[Review], dict[str, Any]] | None = None,
) -> HttpResponse:
    """Run one service call with the posted version and answer in the one shape every save has.

    ``partials`` are the pieces of the page the change can alter (the first is the swap target,
    the others go out of band); ``done`` (message, url name) leaves the page after success;
    ``context`` builds what the partials need from the saved review (default: the whole page's).
    """
    try:
        version = _posted_version(request)
        saved = call(version)
    except StaleReview as exc:
        return _stale(request, exc.review)
    except ValidationFailed as exc:
        return _invalid(request, review, exc, error_target)
    if done is not None:
        message, url_name = done
        messages.success(request, message)
        url = reverse(url_name)
        return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    if not request.htmx:
        return redirect("review_detail", pk=saved.pk)
    values = context(saved) if context is not None else _workspace(saved)
    return HttpResponse(_render(request, (*partials, "version"), {**values, "saved_now": True}))


def _stale(request: HtmxHttpRequest, current: Review) -> HttpResponse:
    context = _workspace(current, alert=STALE_MESSAGE)
    if not request.htmx:
        return render(request, DETAIL, context, status=409)
    response = HttpResponse(_render(request, ("workspace", "version"), context), status=409)
    return reswap(retarget(response, "#review-workspace"), "outerHTML")


def _invalid(
    request: HtmxHttpRequest, review: Review, exc: ValidationFailed, target: str
) -> HttpResponse:
    problems = exc.problems if isinstance(exc, ReviewIncomplete) else []
    if not request.htmx:
        extra: dict[str, Any] = {"form_error": exc.message}
        if problems:
            extra["problems"] = problems
        return render(request, DETAIL, _workspace(review, **extra), status=400)
    context = {
        "review": review,
        "message": exc.message,
        "problems": problems,
        # Echo what the page sent (see the module docstring): never a newer version on a refusal.
        "version": request.POST.get("version", ""),
    }
    names = ("problems-body",) if isinstance(exc, ReviewIncomplete) else ("error",)
    response = HttpResponse(_render(request, (*names, "version"), context), status=400)
    return reswap(retarget(response, target), "innerHTML")


@require_GET
@permission_required("annotations.view_errorcategory", raise_exception=True)
def taxonomy(request: HtmxHttpRequest) -> HttpResponse:
    return render(request, "taxonomy.html", {"groups": review_selectors.taxonomy_by_kind()})
