"""The audit tables as flat rows, for the CSV and JSON exports and the pages' charts.

Every export records the filters it was computed with (a comment line in CSV, a key in JSON) and
the definitions of its figures, so a file read months later still says what it measured.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone

from annotations.audit.filters import AuditFilters
from annotations.audit.selectors import (
    AgreementRow,
    BlindSpotReport,
    BlindSpotRow,
    LineagePoint,
    RateRow,
    SpanRow,
    VersionComparison,
)

FORMATS = ("csv", "json")

# The figures' definitions, shown on the pages and written into every export.
DEFINITIONS: dict[str, str] = {
    "unit": "Unit: a generation with at least one submitted review (in the filter).",
    "flagged": (
        "Flagged: at least one of its submitted reviews has a flag of severity major or critical "
        "(matching the category/aspect/target filters). Share flagged: Wilson 95 % interval "
        "(z = 1.959964)."
    ),
    "per_100_words": (
        "Flags per 100 words: per (generation, review) flags / words(think + answer, or the "
        "target part when filtered by reasoning vs answer) × 100, averaged over the generation's "
        "reviews, then the mean over generations; 95 % interval by percentile bootstrap over "
        "generations (2,000 resamples, fixed seed, so figures are reproducible) when fewer than "
        "1,000 generations have a non-zero rate, else the normal interval mean ± 1.96 s/√n (the "
        "bootstrap's large-sample limit; it agrees with it to a few per cent of the width there)."
    ),
    "dimensions": (
        "Dimensions: model version × error category × genre × culture/region × caption aspect "
        "(the category's aspect) × target (reasoning = the think part, answer = the caption). "
        "Genre and culture come from the song: a song in two genres counts in both. Every figure "
        "carries n generations and n distinct experts."
    ),
    "comparison": (
        "Version comparison: two versions on the songs both were reviewed on; paired difference "
        "of share flagged per song (mean of per-song differences; interval by bootstrap over "
        "songs; significant when the 95 % interval excludes 0; also McNemar exact p for paired "
        "generation-level outcomes when one output per song per version); unpaired Newcombe "
        "interval when no songs are shared. Trend across a lineage: the rate per version along "
        "the parent chain."
    ),
    "agreement": (
        "Agreement per category: for generations with k ≥ 2 submitted reviews, the share of flags "
        "of a category whose text span overlaps (character overlap on the same target) a flag of "
        "the same category by at least one other reviewer; also “k of n experts agree” counts. "
        "Contested: agreement < 0.5."
    ),
}

TABLE_DEFINITIONS: dict[str, tuple[str, ...]] = {
    "rates": ("unit", "flagged", "per_100_words", "dimensions"),
    "comparison": ("unit", "flagged", "comparison"),
    "lineage": ("unit", "flagged", "per_100_words", "comparison"),
    "blind_spots": ("unit", "flagged", "per_100_words", "dimensions"),
    "cultural_categories": ("dimensions",),
    "agreement": ("agreement",),
    "spans": ("dimensions",),
}

# A spreadsheet runs a cell that starts with one of these as a formula; user text must not.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def review_link(review_id: int, audio_start_seconds: float | None) -> str:
    """The review page, its player at the flagged second when the flag has one."""
    url = reverse("review_detail", args=[review_id])
    if audio_start_seconds is None:
        return url
    return f"{url}#t={audio_start_seconds:.3f}".rstrip("0").rstrip(".")


# --- Rows ----------------------------------------------------------------------------------------


def _rate_columns(rate: RateRow) -> dict[str, Any]:
    return {
        "n_generations": rate.n_generations,
        "n_experts": rate.n_experts,
        "n_flagged": rate.n_flagged,
        "share_flagged": rate.share_flagged,
        "share_low": rate.share_low,
        "share_high": rate.share_high,
        "n_flags": rate.n_flags,
        "n_word_generations": rate.n_word_generations,
        "per_100_words": rate.per_100_words,
        "per_100_words_low": rate.per_100_words_low,
        "per_100_words_high": rate.per_100_words_high,
    }


def rate_rows(
    rows: Sequence[RateRow], group_by: Sequence[str], overall: RateRow | None = None
) -> list[dict[str, Any]]:
    """One flat row per cell (each dimension's value and label); the overall rate last."""
    flat = []
    for row in rows:
        item: dict[str, Any] = {}
        for key in group_by:
            item[key] = row.cell.get(key, "")
            item[f"{key}_label"] = row.labels.get(key, "")
        flat.append(item | _rate_columns(row))
    if overall is not None:
        item = {}
        for i, key in enumerate(group_by):
            item[key] = ""
            item[f"{key}_label"] = "All (the whole filter)" if i == 0 else ""
        flat.append(item | _rate_columns(overall))
    return flat


def comparison_rows(comparison: VersionComparison) -> list[dict[str, Any]]:
    """One row: each version's overall rate, the difference A − B and how it was measured."""
    mcnemar = comparison.mcnemar
    return [
        {
            "version_a": comparison.version_a.name,
            "version_b": comparison.version_b.name,
            **{f"a_{k}": v for k, v in _rate_columns(comparison.a).items()},
            **{f"b_{k}": v for k, v in _rate_columns(comparison.b).items()},
            "shared_songs": comparison.shared_songs,
            "method": comparison.method,
            "difference": comparison.difference,
            "difference_low": comparison.low,
            "difference_high": comparison.high,
            "significant": comparison.significant,
            "a_paired_share": comparison.a_paired,
            "b_paired_share": comparison.b_paired,
            "mcnemar_b": mcnemar.b if mcnemar else None,
            "mcnemar_c": mcnemar.c if mcnemar else None,
            "mcnemar_pairs": mcnemar.n_pairs if mcnemar else None,
            "mcnemar_p": mcnemar.p_value if mcnemar else None,
            "unpaired_difference": comparison.unpaired_difference,
            "unpaired_low": comparison.unpaired_low,
            "unpaired_high": comparison.unpaired_high,
        }
    ]


def lineage_rows(points: Sequence[LineagePoint]) -> list[dict[str, Any]]:
    rows = []
    for point in points:
        change = point.change
        rows.append(
            {
                "depth": point.depth,
                "model_version": point.version.name,
                **_rate_columns(point.rate),
                "change_vs_parent": change.difference if change else None,
                "change_low": change.low if change else None,
                "change_high": change.high if change else None,
                "change_method": change.method if change else "",
                "change_significant": change.significant if change else None,
            }
        )
    return rows


def _blind_spot_row(row: BlindSpotRow) -> dict[str, Any]:
    return {
        "level": row.level,
        "region": row.region,
        "culture": row.culture,
        "label": row.label,
        **_rate_columns(row.rate),
        "difference_vs_overall": row.difference,
        "relation": row.relation,
        "small_sample": row.small_sample,
        "smallest_sample": row.smallest,
    }


def blind_spot_rows(report: BlindSpotReport) -> list[dict[str, Any]]:
    """Regions, then cultures, then the overall rate they are measured against."""
    rows = [_blind_spot_row(row) for row in [*report.regions, *report.cultures]]
    overall = {
        "level": "overall",
        "region": "",
        "culture": "",
        "label": "All (the whole filter)",
        **_rate_columns(report.overall),
        "difference_vs_overall": None,
        "relation": "",
        "small_sample": None,
        "smallest_sample": None,
    }
    return [*rows, overall]


def cultural_category_rows(report: BlindSpotReport) -> list[dict[str, Any]]:
    return [
        {
            "region": region,
            "rank": rank,
            "category": count.code,
            "category_name": count.name,
            "n_flags": count.n_flags,
            "n_generations": count.n_generations,
        }
        for region, counts in report.top_cultural_categories.items()
        for rank, count in enumerate(counts, start=1)
    ]


def agreement_rows(rows: Sequence[AgreementRow]) -> list[dict[str, Any]]:
    return [
        {
            "category": row.category,
            "category_name": row.name,
            "kind": row.kind,
            "aspect": row.aspect,
            "n_generations": row.n_generations,
            "n_flags": row.n_flags,
            "n_agreed": row.n_agreed,
            "agreement": row.agreement,
            "contested": row.contested,
            "k_of_n": "; ".join(f"{k} of {n}: {count}" for k, n, count in row.k_of_n),
        }
        for row in rows
    ]


def span_rows(rows: Iterable[SpanRow]) -> list[dict[str, Any]]:
    return [
        {
            "flag_id": row.flag_id,
            "review_id": row.review_id,
            "generation_id": row.generation_id,
            "model_version": row.model_version,
            "song_id": row.song_id,
            "song": row.song,
            "category": row.category,
            "category_name": row.category_name,
            "kind": row.kind,
            "aspect": row.aspect,
            "target": row.target,
            "severity": row.severity,
            "quoted_text": row.quoted_text,
            "start_char": row.start_char,
            "end_char": row.end_char,
            "audio_start_seconds": row.audio_start_seconds,
            "audio_end_seconds": row.audio_end_seconds,
            "expert_count": row.expert_count,
            "submitted_at": row.submitted_at.isoformat(),
            "review_url": review_link(row.review_id, row.audio_start_seconds),
        }
        for row in rows
    ]


def rate_chart(rows: Sequence[RateRow], group_by: Sequence[str]) -> dict[str, Any]:
    """The dashboard's bars: one per row, each with its 95 % interval drawn as a whisker."""
    return {
        "labels": [" · ".join(row.labels.get(key, "") for key in group_by) for row in rows],
        "n": [row.n_generations for row in rows],
        "share": [row.share_flagged for row in rows],
        "share_interval": [[row.share_low, row.share_high] for row in rows],
        "per_100_words": [row.per_100_words for row in rows],
        "per_100_words_interval": [[row.per_100_words_low, row.per_100_words_high] for row in rows],
    }


# --- Responses -----------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def export_response(
    fmt: str,
    *,
    table: str,
    filters: AuditFilters,
    rows: Sequence[Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> HttpResponse:
    """The table as a CSV or JSON download, with the filters and definitions recorded."""
    extra = dict(extra or {})
    record = {
        "table": table,
        "filters": filters.describe(),
        **extra,
        "generated_at": timezone.now().isoformat(timespec="seconds"),
        "definitions": [DEFINITIONS[key] for key in TABLE_DEFINITIONS.get(table, ())],
    }
    filename = f"audit-{table}.{fmt}"
    if fmt == "json":
        body = json.dumps({**record, "rows": list(rows)}, ensure_ascii=False, indent=1)
        response = HttpResponse(body, content_type="application/json; charset=utf-8")
    else:
        out = io.StringIO()
        out.write(f"# table: {table}\n")
        described = record["filters"]
        out.write(
            "# filters: "
            + (json.dumps(described, ensure_ascii=False) if described else "none (everything)")
            + "\n"
        )
        for key, value in extra.items():
            out.write(f"# {key}: {json.dumps(value, ensure_ascii=False)}\n")
        out.write(f"# generated_at: {record['generated_at']}\n")
        for definition in record["definitions"]:
            out.write(f"# {definition}\n")
        columns = list(rows[0]) if rows else []
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row[column]) for column in columns])
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
