"""Audit pages: hallucination and cultural-error rates with their intervals, version comparison,
blind spots, expert agreement, and the drill-down to flagged spans.

Thin: parse the filters, authorise, call one selector, render the page (or its results partial for
htmx) or export the table (``?format=csv|json``, for those who may export). Experts hold no audit
permission: the figures pool other experts' reviews, and reviews are blind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse, HttpResponseBadRequest, QueryDict
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from annotations.audit import exports as audit_exports
from annotations.audit import selectors as audit_selectors
from annotations.audit.filters import DIMENSION_LABELS, AuditFilters
from annotations.audit.forms import AuditCompareForm, AuditFilterForm
from annotations.audit.selectors import RateRow
from annotations.core.http import HtmxHttpRequest
from annotations.generations.permissions import access_model_version_for_user
from annotations.reviews.models import ErrorCategory, Flag

# Codes → the labels people read, for the spans' and agreement rows.
_LABELS = {
    "kind": dict(ErrorCategory.Kind.choices),
    "aspect": dict(ErrorCategory.Aspect.choices),
    "target": dict(Flag.Target.choices),
    "severity": dict(Flag.Severity.choices),
}

SPANS_PER_PAGE = 50
# An export of the drill-down stops here (and says so); the page itself pages through all.
MAX_EXPORTED_SPANS = 10_000


class _BadRequest(Exception):
    pass


def _export_format(request: HtmxHttpRequest) -> str:
    """The requested export format ('' for the page); exporting needs its own permission."""
    fmt = request.GET.get("format", "")
    if fmt and fmt not in audit_exports.FORMATS:
        raise _BadRequest("format must be csv or json.")
    if fmt and not request.user.has_perm("annotations.export_audit"):
        raise PermissionDenied("Your role cannot export audit tables.")
    return fmt


def _page(
    request: HtmxHttpRequest,
    template: str,
    form: AuditFilterForm,
    compute: Callable[[], dict[str, Any]],
    exports: dict[str, Callable[[dict[str, Any]], tuple[list[dict[str, Any]], dict[str, Any]]]],
) -> HttpResponse:
    """The shared shape of every audit page: validate the filters, compute, then either export the
    chosen table or render the page (its ``results`` partial for htmx)."""
    try:
        fmt = _export_format(request)
    except _BadRequest as exc:
        return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")
    valid = form.is_valid()
    if fmt:
        if not valid:
            return HttpResponseBadRequest(
                "\n".join(_error_lines(form)), content_type="text/plain; charset=utf-8"
            )
        table = request.GET.get("table") or next(iter(exports))
        if table not in exports:
            return HttpResponseBadRequest(
                f"table must be one of: {', '.join(exports)}.",
                content_type="text/plain; charset=utf-8",
            )
        rows, extra = exports[table](compute())
        return audit_exports.export_response(
            fmt, table=table, filters=form.filters, rows=rows, extra=extra
        )
    context: dict[str, Any] = {
        "form": form,
        "errors": [] if valid else _error_lines(form),
        "query": _query(request.GET),
        "can_export": request.user.has_perm("annotations.export_audit"),
        "definitions": audit_exports.DEFINITIONS,
    }
    if valid:
        context.update(compute())
    name = f"{template}#results" if request.htmx else template
    return render(request, name, context, status=200 if valid else 400)


def _error_lines(form: AuditFilterForm) -> list[str]:
    lines: list[str] = []
    for field, errors in form.errors.items():
        label = form.fields[field].label if field in form.fields else ""
        lines.extend(f"{label}: {error}" if label else str(error) for error in errors)
    return lines


def _query(query: QueryDict) -> str:
    """The page's own query (filters, grouping, versions) for the export links and paging."""
    keep = [
        (key, value)
        for key, values in query.lists()
        if key not in {"format", "table", "page"}
        for value in values
        # An empty group_by is meaningful: no grouping (one overall row).
        if value or key == "group_by"
    ]
    return urlencode(keep)


def _labelled(row: Any, *keys: str) -> dict[str, str]:
    return {key: _LABELS[key].get(getattr(row, key), getattr(row, key)) for key in keys}


def _spans_link(filters: AuditFilters, cell: dict[str, str]) -> str:
    return urlencode(filters.narrowed(cell).to_query())


def _linked(
    rows: Sequence[RateRow], filters: AuditFilters, group_by: Sequence[str]
) -> list[dict[str, Any]]:
    """Each row with its dimensions' (value, label) in column order and its drill-down query."""
    return [
        {
            "row": row,
            "dims": [(row.cell.get(key, ""), row.labels.get(key, "")) for key in group_by],
            "spans_query": _spans_link(filters, row.cell),
        }
        for row in rows
    ]


@require_GET
@permission_required("annotations.view_audit", raise_exception=True)
@vary_on_headers("HX-Request")
def audit_dashboard(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET, with_group_by=True)

    def compute() -> dict[str, Any]:
        rows = audit_selectors.audit_rates(form.filters, form.grouping)
        # Without grouping the one row is the overall row: no second computation of it.
        overall = rows[0] if not form.grouping else audit_selectors.audit_overall(form.filters)
        return {
            "rows": _linked(rows, form.filters, form.grouping),
            "rate_rows": rows,
            "overall": overall,
            "group_by": [(key, DIMENSION_LABELS[key]) for key in form.grouping],
            "chart": audit_exports.rate_chart(rows, form.grouping),
            "overall_query": _spans_link(form.filters, {}),
        }

    def rates(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rows = audit_exports.rate_rows(data["rate_rows"], form.grouping, data["overall"])
        return rows, {"group_by": list(form.grouping)}

    return _page(request, "audit/dashboard.html", form, compute, {"rates": rates})


@require_GET
@permission_required("annotations.view_audit", raise_exception=True)
@vary_on_headers("HX-Request")
def audit_compare(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditCompareForm(request.GET)

    def compute() -> dict[str, Any]:
        if form.version_ids is None:
            return {"comparison": None, "lineage": []}
        a, b = (access_model_version_for_user(request.user, pk) for pk in form.version_ids)
        comparison, lineage = audit_selectors.audit_compare_with_lineage(a, b, form.filters)
        return {
            "comparison": comparison,
            "lineage": lineage,
            "lineage_chart": audit_exports.rate_chart([point.rate for point in lineage], ())
            | {"labels": [point.version.name for point in lineage]},
        }

    def comparison(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        found = data["comparison"]
        return (audit_exports.comparison_rows(found) if found else []), {}

    def lineage(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return audit_exports.lineage_rows(data["lineage"]), {}

    return _page(
        request,
        "audit/compare.html",
        form,
        compute,
        {"comparison": comparison, "lineage": lineage},
    )


@require_GET
@permission_required("annotations.view_audit", raise_exception=True)
@vary_on_headers("HX-Request")
def audit_blind_spots(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)

    def compute() -> dict[str, Any]:
        report = audit_selectors.audit_blind_spots(form.filters)
        return {
            "report": report,
            "regions": [
                {"row": row, "spans_query": _spans_link(form.filters, {"region": row.region})}
                for row in report.regions
            ],
            "cultures": [
                {"row": row, "spans_query": _spans_link(form.filters, {"culture": row.culture})}
                for row in report.cultures
            ],
            "chart": audit_exports.rate_chart([row.rate for row in report.regions], ())
            | {"labels": [row.label for row in report.regions]},
        }

    def blind_spots(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        report = data["report"]
        threshold = {"small_sample_threshold": report.small_sample_threshold}
        return audit_exports.blind_spot_rows(report), threshold

    def categories(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return audit_exports.cultural_category_rows(data["report"]), {}

    return _page(
        request,
        "audit/blind_spots.html",
        form,
        compute,
        {"blind_spots": blind_spots, "cultural_categories": categories},
    )


@require_GET
@permission_required("annotations.view_audit", raise_exception=True)
@vary_on_headers("HX-Request")
def audit_agreement(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)

    def compute() -> dict[str, Any]:
        rows = audit_selectors.audit_agreement(form.filters)
        return {
            "rows": [
                {
                    "row": row,
                    "labels": _labelled(row, "kind", "aspect"),
                    "spans_query": _spans_link(form.filters, {"category": row.category}),
                }
                for row in rows
            ],
            "agreement_rows": rows,
        }

    def agreement(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return audit_exports.agreement_rows(data["agreement_rows"]), {}

    return _page(request, "audit/agreement.html", form, compute, {"agreement": agreement})


@require_GET
@permission_required("annotations.view_audit", raise_exception=True)
@vary_on_headers("HX-Request")
def audit_spans(request: HtmxHttpRequest) -> HttpResponse:
    form = AuditFilterForm(request.GET)
    try:
        number = max(1, int(request.GET.get("page", "1")))
    except ValueError:
        number = 1

    def compute() -> dict[str, Any]:
        page = audit_selectors.audit_spans(form.filters, page=number, per_page=SPANS_PER_PAGE)
        return {
            "page": page,
            "spans": [
                {
                    "row": row,
                    "labels": _labelled(row, "kind", "aspect", "target", "severity"),
                    "link": audit_exports.review_link(row.review_id, row.audio_start_seconds),
                }
                for row in page.rows
            ],
        }

    def spans(data: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        # One page of up to MAX_EXPORTED_SPANS rows: one count and one query.
        page = audit_selectors.audit_spans(
            form.filters, per_page=MAX_EXPORTED_SPANS, max_per_page=MAX_EXPORTED_SPANS
        )
        rows = audit_exports.span_rows(page.rows)
        return rows, {"total_spans": page.total, "truncated": page.total > len(rows)}

    return _page(request, "audit/spans.html", form, compute, {"spans": spans})
