"""The audit pages: who may open and export them, what the filters do, what the tables and exports
say (hand-computed on a small fixture), and that people's strings stay text.

The fixture: two versions (mf-grpo's parent is mf-base), two songs (Hindustani / South Asia and
Flamenco / Iberia), three outputs, each answer exactly 20 words, reviewed and submitted by two
experts; a draft with a critical flag that must not count anywhere.

    g1 mf-base  Hindustani  r1 ravi:  f1 instrument-not-present major  [10, 20) at 12.5 s
                                      f2 misattributed-tradition minor [40, 50)
                            r2 lucia: f3 instrument-not-present minor  [15, 25)  (overlaps f1)
    g2 mf-base  Flamenco    r3 ravi:  no flags;  draft of lucia: critical flag (ignored)
    g3 mf-grpo  Hindustani  r4 lucia: f4 misattributed-tradition critical [0, 5) at 30 s

By version: mf-base 2 outputs, 2 experts, 1 flagged → 0.500, Wilson [0.0945, 0.9055]; flags per 100
words: g1 (2/20 + 1/20)/2 × 100 = 7.5, g2 0 → 3.75. mf-grpo 1 output, 1 flagged → 1.000
[0.2065, 1.000], 5.0 per 100 words. Overall 2 of 3 → 0.667 [0.2077, 0.9385].
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from html import unescape
from typing import Any
from urllib.parse import urlencode

import pytest
from django.urls import reverse
from django.utils import timezone

from annotations.audit.services import audit_refresh_all
from annotations.reviews.models import ErrorCategory, Review
from modeling.rewards.hallucination import count_words
from tests import factories
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

ANSWER = (
    "A sitar carries the raga over tabla and a tanpura drone, slow and calm, "
    "then the tabla doubles its pace."
)
PAGES = ("audit_dashboard", "audit_compare", "audit_blind_spots", "audit_agreement", "audit_spans")
QUOTE = '=HYPERLINK("http://x") <b>sitar</b>'
CULTURE_NAME = "Flamenco <i>cante</i>"


@dataclass
class Audit:
    base: Any
    grpo: Any
    g1: Any
    g2: Any
    g3: Any
    r1: Any
    r4: Any
    f1: Any


def _submitted(generation: Any, expert: Any) -> Review:
    return factories.ReviewFactory(  # type: ignore[no-any-return]
        generation=generation,
        expert=expert,
        status=Review.Status.SUBMITTED,
        submitted_at=timezone.now(),
        verdict=Review.Verdict.ACCEPT,
    )


def _flag(review: Review, code: str, severity: str, start: int, end: int, **kwargs: Any) -> Any:
    return factories.FlagFactory(
        review=review,
        category=ErrorCategory.objects.get(code=code),
        severity=severity,
        start_char=start,
        end_char=end,
        quoted_text=kwargs.pop("quoted_text", ANSWER[start:end]),
        **kwargs,
    )


@pytest.fixture
def audit() -> Audit:
    assert count_words(ANSWER) == 20
    hindustani = factories.CultureFactory(slug="hindustani", name="Hindustani", region="South Asia")
    flamenco = factories.CultureFactory(slug="flamenco", name=CULTURE_NAME, region="Iberia")
    raga = factories.SongFactory(title="Raga")
    raga.cultures.add(hindustani)
    bulerias = factories.SongFactory(title="Bulerías")
    bulerias.cultures.add(flamenco)
    base = factories.ModelVersionFactory(name="mf-base")
    grpo = factories.ModelVersionFactory(name="mf-grpo", parent=base)
    g1, g2, g3 = (
        factories.GenerationFactory(model_version=version, song=song, answer_text=ANSWER)
        for version, song in ((base, raga), (base, bulerias), (grpo, raga))
    )
    ravi, lucia = factories.expert(username="ravi"), factories.expert(username="lucia")
    r1, r2, _r3, r4 = (
        _submitted(g1, ravi),
        _submitted(g1, lucia),
        _submitted(g2, ravi),
        _submitted(g3, lucia),
    )
    f1 = _flag(
        r1,
        "instrument-not-present",
        "major",
        10,
        20,
        quoted_text=QUOTE,
        audio_start_seconds=12.5,
        audio_end_seconds=15.0,
    )
    _flag(r1, "misattributed-tradition", "minor", 40, 50)
    _flag(r2, "instrument-not-present", "minor", 15, 25)
    _flag(r4, "misattributed-tradition", "critical", 0, 5, audio_start_seconds=30.0)
    draft = factories.ReviewFactory(generation=g2, expert=lucia)
    _flag(draft, "instrument-not-present", "critical", 0, 5)
    audit_refresh_all()
    return Audit(base=base, grpo=grpo, g1=g1, g2=g2, g3=g3, r1=r1, r4=r4, f1=f1)


def _get(user: Any, name: str, **query: Any) -> Any:
    return client_for(user).get(reverse(name) + "?" + urlencode(query, doseq=True))


def _row(html: str, **attrs: Any) -> str:
    """The <tr> carrying these data-* attributes (asserting there is exactly one)."""
    selector = "".join(
        rf'(?=[^>]*\bdata-{k.replace("_", "-")}="{re.escape(str(v))}")' for k, v in attrs.items()
    )
    found = re.findall(rf"<tr{selector}[^>]*>.*?</tr>", html, flags=re.S)
    assert len(found) == 1, (attrs, found)
    return str(found[0])


def _cells(row: str) -> dict[str, str]:
    """data-col → the cell's text as a person reads it (no tags, entities decoded, spaces squeezed)."""
    cells = re.findall(r'<td[^>]*data-col="([a-z_0-9]+)"[^>]*>(.*?)</td>', row, flags=re.S)
    return {col: " ".join(unescape(re.sub(r"<[^>]+>", "", text)).split()) for col, text in cells}


def _csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    text = response.content.decode()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    return comments, list(csv.DictReader(io.StringIO(body)))


# --- Who may open and export ----------------------------------------------------------------------


@pytest.mark.parametrize("name", PAGES)
def test_auditors_and_admins_open_every_audit_page_and_experts_are_refused(
    name: str, role_users: dict[str, Any], audit: Audit
) -> None:
    assert _get(role_users["auditor"], name).status_code == 200
    assert _get(role_users["admin"], name).status_code == 200
    refused = _get(role_users["expert"], name)
    assert refused.status_code == 403
    assert b"Your account's role cannot open this page" in refused.content
    anonymous = _get(None, name)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("login") + "?next=")


@pytest.mark.parametrize("name", PAGES)
def test_only_auditors_export(name: str, role_users: dict[str, Any], audit: Audit) -> None:
    assert _get(role_users["auditor"], name, format="csv").status_code == 200
    # Admins read the figures but hold no export permission; experts hold neither.
    assert _get(role_users["admin"], name, format="csv").status_code == 403
    assert _get(role_users["expert"], name, format="json").status_code == 403
    assert _get(None, name, format="json").status_code == 302


def test_the_export_links_show_only_to_those_who_may_export(
    auditor_user: Any, admin_user: Any, audit: Audit
) -> None:
    assert b'data-export="csv"' in _get(auditor_user, "audit_dashboard").content
    assert b'data-export="csv"' not in _get(admin_user, "audit_dashboard").content


def test_the_navigation_offers_the_audit_to_auditors_and_admins_only(
    role_users: dict[str, Any],
) -> None:
    link = f'href="{reverse("audit_dashboard")}" data-shortcut="g x"'.encode()
    assert link in client_for(role_users["auditor"]).get(reverse("home")).content
    assert link in client_for(role_users["admin"]).get(reverse("home")).content
    assert link not in client_for(role_users["expert"]).get(reverse("home")).content


# --- The dashboard ---------------------------------------------------------------------------------


def test_the_dashboard_shows_each_versions_rates_with_intervals_and_counts(
    auditor_user: Any, audit: Audit
) -> None:
    html = _get(auditor_user, "audit_dashboard").content.decode()
    base = _cells(_row(html, cell=audit.base.pk))
    assert base == {
        "n_generations": "2",
        "n_experts": "2",
        "n_flagged": "1",
        "share_flagged": "0.500 [0.095, 0.905]",
        "n_flags": "3",
        "per_100_words": "3.75 [0.00, 7.50]",
    }
    assert "mf-base" in _row(html, cell=audit.base.pk)
    grpo = _cells(_row(html, cell=audit.grpo.pk))
    assert grpo["share_flagged"] == "1.000 [0.207, 1.000]"
    assert grpo["per_100_words"] == "5.00 [5.00, 5.00]"
    assert (grpo["n_generations"], grpo["n_experts"], grpo["n_flagged"]) == ("1", "1", "1")
    overall = " ".join(re.sub(r"<[^>]+>", "", html.split('data-testid="overall"')[1]).split())
    assert overall.startswith(
        ">3 generations reviewed by 2 experts; share flagged 0.667 [0.208, 0.939]"
    )
    # The chart's data carries the same figures and intervals.
    chart = json.loads(re.search(r'id="audit-chart-data"[^>]*>(.*?)</script>', html, re.S)[1])
    assert chart["labels"] == ["mf-base", "mf-grpo"]
    assert chart["share"] == [0.5, 1.0]
    assert chart["share_interval"][0] == pytest.approx([0.094531, 0.905469], abs=1e-6)
    assert chart["n"] == [2, 1]


def test_the_dashboard_writes_the_definitions(auditor_user: Any, audit: Audit) -> None:
    html = _get(auditor_user, "audit_dashboard").content.decode()
    assert "Unit: a generation with at least one submitted review (in the filter)." in html
    assert "Wilson 95 % interval (z = 1.959964)" in html
    assert "2,000 resamples, fixed seed" in html


def test_filtering_by_culture_keeps_only_that_cultures_outputs(
    auditor_user: Any, audit: Audit
) -> None:
    html = _get(auditor_user, "audit_dashboard", culture="flamenco").content.decode()
    base = _cells(_row(html, cell=audit.base.pk))
    assert (base["n_generations"], base["n_flagged"], base["n_flags"]) == ("1", "0", "0")
    assert base["share_flagged"] == "0.000 [0.000, 0.793]"
    assert f'data-cell="{audit.grpo.pk}"' not in html  # mf-grpo has no Flamenco output
    assert 'value="flamenco" selected' in html  # the form shows the filter it applied


def test_a_flag_filter_changes_what_counts_as_flagged_but_not_the_units(
    auditor_user: Any, audit: Audit
) -> None:
    html = _get(auditor_user, "audit_dashboard", kind="cultural").content.decode()
    base = _cells(_row(html, cell=audit.base.pk))
    # g1's only cultural flag is minor: not flagged; both outputs are still units.
    assert (base["n_generations"], base["n_flagged"], base["n_flags"]) == ("2", "0", "1")
    grpo = _cells(_row(html, cell=audit.grpo.pk))
    assert (grpo["n_generations"], grpo["n_flagged"]) == ("1", "1")


def test_grouping_by_version_and_kind_gives_a_row_per_pair(auditor_user: Any, audit: Audit) -> None:
    html = _get(
        auditor_user, "audit_dashboard", group_by=["model_version", "kind"]
    ).content.decode()
    shares = {
        (version, kind): _cells(_row(html, cell=f"{version.pk}|{kind}"))["share_flagged"]
        for version in (audit.base, audit.grpo)
        for kind in ("hallucination", "cultural")
    }
    assert shares == {
        (audit.base, "hallucination"): "0.500 [0.095, 0.905]",
        (audit.base, "cultural"): "0.000 [0.000, 0.658]",
        (audit.grpo, "hallucination"): "0.000 [0.000, 0.793]",
        (audit.grpo, "cultural"): "1.000 [0.207, 1.000]",
    }
    assert "Rates by model version × kind" in html


def test_a_date_range_after_every_review_leaves_no_rows(auditor_user: Any, audit: Audit) -> None:
    tomorrow = (timezone.now() + timezone.timedelta(days=1)).date().isoformat()
    html = _get(auditor_user, "audit_dashboard", date_from=tomorrow).content.decode()
    assert 'id="no-rates"' in html


def test_an_unknown_culture_is_refused_readably(auditor_user: Any, audit: Audit) -> None:
    response = _get(auditor_user, "audit_dashboard", culture="atlantis")
    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="audit-errors"' in html
    assert "atlantis" in html
    assert 'id="audit-rates"' not in html
    export = _get(auditor_user, "audit_dashboard", culture="atlantis", format="csv")
    assert export.status_code == 400
    assert "atlantis" in export.content.decode()


def test_an_unknown_export_format_or_table_is_refused(auditor_user: Any, audit: Audit) -> None:
    assert _get(auditor_user, "audit_dashboard", format="xlsx").status_code == 400
    assert _get(auditor_user, "audit_dashboard", format="csv", table="nope").status_code == 400


def test_htmx_gets_the_results_partial_and_the_page_varies_on_it(
    auditor_user: Any, audit: Audit
) -> None:
    client = client_for(auditor_user)
    partial = client.get(
        reverse("audit_dashboard"), {"culture": "hindustani"}, HTTP_HX_REQUEST="true"
    )
    assert partial.status_code == 200
    html = partial.content.decode()
    assert html.lstrip().startswith('<div id="audit-results">')
    assert "<html" not in html
    assert "HX-Request" in partial["Vary"]
    refused = client.get(
        reverse("audit_dashboard"), {"culture": "atlantis"}, HTTP_HX_REQUEST="true"
    )
    assert refused.status_code == 400
    assert refused.content.decode().lstrip().startswith('<div id="audit-results">')


# --- Exports ----------------------------------------------------------------------------------------


def test_the_csv_export_records_the_filters_and_the_rows(auditor_user: Any, audit: Audit) -> None:
    response = _get(auditor_user, "audit_dashboard", culture="hindustani", format="csv")
    assert response["Content-Type"].startswith("text/csv")
    assert 'filename="audit-rates.csv"' in response["Content-Disposition"]
    comments, rows = _csv(response)
    assert comments[0] == "# table: rates"
    assert json.loads(comments[1].removeprefix("# filters: ")) == {"culture": ["hindustani"]}
    assert '# group_by: ["model_version"]' in comments
    assert any("Wilson 95 % interval (z = 1.959964)" in line for line in comments)
    by_version = {row["model_version_label"]: row for row in rows}
    assert set(by_version) == {"mf-base", "mf-grpo", "All (the whole filter)"}
    base = by_version["mf-base"]
    assert base["model_version"] == str(audit.base.pk)
    assert (base["n_generations"], base["n_experts"], base["n_flagged"]) == ("1", "2", "1")
    assert float(base["share_flagged"]) == 1.0
    assert float(base["share_low"]) == pytest.approx(0.2065493, abs=1e-6)
    assert float(base["per_100_words"]) == pytest.approx(7.5)
    overall = by_version["All (the whole filter)"]
    assert (overall["n_generations"], overall["n_flagged"]) == ("2", "2")
    assert float(overall["share_low"]) == pytest.approx(0.3423802, abs=1e-6)


def test_the_json_export_records_the_filters_grouping_and_rows(
    auditor_user: Any, audit: Audit
) -> None:
    response = _get(
        auditor_user, "audit_dashboard", group_by=["model_version", "kind"], format="json"
    )
    assert response["Content-Type"].startswith("application/json")
    data = json.loads(response.content)
    assert data["table"] == "rates"
    assert data["filters"] == {}
    assert data["group_by"] == ["model_version", "kind"]
    rows = {(row["model_version_label"], row["kind"]): row for row in data["rows"]}
    cultural = rows[("mf-grpo", "cultural")]
    assert cultural["n_flagged"] == 1 and cultural["share_flagged"] == 1.0
    assert cultural["share_low"] == pytest.approx(0.2065493, abs=1e-6)
    assert rows[("mf-base", "hallucination")]["share_high"] == pytest.approx(0.9054688, abs=1e-6)
    assert data["rows"][-1]["model_version_label"] == "All (the whole filter)"
    assert data["rows"][-1]["n_generations"] == 3


def test_every_pages_tables_export_as_csv_and_json(auditor_user: Any, audit: Audit) -> None:
    tables = {
        "audit_dashboard": ("rates",),
        "audit_compare": ("comparison", "lineage"),
        "audit_blind_spots": ("blind_spots", "cultural_categories"),
        "audit_agreement": ("agreement",),
        "audit_spans": ("spans",),
    }
    versions = {"version_a": audit.base.pk, "version_b": audit.grpo.pk}
    for name, names in tables.items():
        html = _get(auditor_user, name, **versions).content.decode()
        for table in names:
            assert f'data-exports="{table}"' in html, (name, table)
            # Every flag is on the caption: the filter keeps them all, and must be recorded.
            query = {**versions, "target": "caption", "table": table}
            data = json.loads(_get(auditor_user, name, format="json", **query).content)
            assert data["table"] == table
            assert list(data["filters"]) == ["target"]
            assert data["rows"], (name, table)
            comments, rows = _csv(_get(auditor_user, name, format="csv", **query))
            assert comments[0] == f"# table: {table}"
            assert comments[1].startswith('# filters: {"target"')
            assert len(rows) == len(data["rows"])


# --- Drill-down -------------------------------------------------------------------------------------


def test_a_rows_spans_link_lists_the_flags_behind_it(auditor_user: Any, audit: Audit) -> None:
    html = _get(auditor_user, "audit_dashboard", kind="cultural").content.decode()
    link = re.search(r'href="([^"]+)" data-drill-down', _row(html, cell=audit.grpo.pk))[1]
    spans = client_for(auditor_user).get(link.replace("&amp;", "&")).content.decode()
    assert "1 flagged span<" in spans
    row = _cells(_row(spans, review=audit.r4.pk))
    assert row["severity"] == "Critical" and row["expert_count"] == "1"
    assert (
        row["category"]
        == "Misattributed tradition or region Cultural error · Mood & cultural context"
    )
    assert f'href="/reviews/{audit.r4.pk}/#t=30"' in spans


def test_the_spans_list_links_each_span_to_its_review_at_the_flagged_second(
    auditor_user: Any, audit: Audit
) -> None:
    html = _get(auditor_user, "audit_spans", model_version=audit.base.pk).content.decode()
    assert "3 flagged spans<" in html
    row = _row(html, flag=audit.f1.pk)
    assert f'href="/reviews/{audit.r1.pk}/#t=12.5"' in row
    # f1 and lucia's f3 overlap with the same category: two experts stand behind the span.
    assert _cells(row)["expert_count"] == "2"


def test_the_spans_list_pages_through_every_span_keeping_the_filters(
    auditor_user: Any, audit: Audit, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("annotations.audit.views.SPANS_PER_PAGE", 2)
    first = _get(auditor_user, "audit_spans", target="caption").content.decode()
    assert first.count("data-flag=") == 2
    older = re.search(r'href="([^"]+)" rel="next"', first)[1].replace("&amp;", "&")
    assert older == "?target=caption&page=2"
    second = client_for(auditor_user).get(reverse("audit_spans") + older).content.decode()
    assert second.count("data-flag=") == 2
    assert 'rel="next"' not in second and "Page 2 of 2" in second
    shown = set(re.findall(r'data-flag="(\d+)"', first + second))
    assert len(shown) == 4


def test_a_span_without_audio_time_links_to_its_review(auditor_user: Any, audit: Audit) -> None:
    html = _get(auditor_user, "audit_spans", category="misattributed-tradition", severity="minor")
    assert f'href="/reviews/{audit.r1.pk}/"' in html.content.decode()


def test_an_auditor_opens_a_submitted_review_from_the_drill_down(
    auditor_user: Any, audit: Audit
) -> None:
    response = client_for(auditor_user).get(f"/reviews/{audit.r1.pk}/")
    assert response.status_code == 200
    assert b'data-read-only="true"' in response.content


def test_the_spans_export_has_every_span_with_its_review_link(
    auditor_user: Any, audit: Audit
) -> None:
    data = json.loads(_get(auditor_user, "audit_spans", format="json").content)
    assert data["total_spans"] == 4 and data["truncated"] is False
    first = next(row for row in data["rows"] if row["flag_id"] == audit.f1.pk)
    assert first["review_url"] == f"/reviews/{audit.r1.pk}/#t=12.5"
    assert first["quoted_text"] == QUOTE


# --- The other pages --------------------------------------------------------------------------------


def test_the_comparison_pairs_the_versions_on_their_shared_song(
    auditor_user: Any, audit: Audit
) -> None:
    html = _get(
        auditor_user, "audit_compare", version_a=audit.base.pk, version_b=audit.grpo.pk
    ).content.decode()
    assert _cells(_row(html, version="a"))["share_flagged"] == "0.500 [0.095, 0.905]"
    assert _cells(_row(html, version="b"))["share_flagged"] == "1.000 [0.207, 1.000]"
    facts = dict(re.findall(r'<dd data-col="([a-z]+)">(.*?)</dd>', html, flags=re.S))
    text = {k: " ".join(re.sub(r"<[^>]+>", "", v).split()) for k, v in facts.items()}
    # One shared song (Raga), flagged for both: a paired difference of 0.
    assert text["method"].startswith("paired on 1 shared song")
    assert text["difference"].startswith("0.000 [0.000, 0.000]")
    assert 'data-significant="false"' in html
    assert text["mcnemar"].startswith("p = 1.0000 on 1 pair")
    assert text["unpaired"].startswith("-0.500")
    # mf-grpo's lineage: its parent, then itself.
    assert "mf-base" in _row(html, depth=0) and "mf-grpo" in _row(html, depth=1)


def test_comparing_a_version_with_itself_is_refused(auditor_user: Any, audit: Audit) -> None:
    response = _get(auditor_user, "audit_compare", version_a=audit.base.pk, version_b=audit.base.pk)
    assert response.status_code == 400
    assert "Choose a different version" in response.content.decode()


def test_the_blind_spots_set_each_region_against_the_overall_rate(
    auditor_user: Any, audit: Audit
) -> None:
    html = _get(auditor_user, "audit_blind_spots").content.decode()
    south_asia = _row(html, level="region", key="South Asia")
    assert _cells(south_asia)["share_flagged"] == "1.000 [0.342, 1.000]"
    assert _cells(south_asia)["difference"] == "0.333"
    iberia = _row(html, level="region", key="Iberia")
    assert _cells(iberia)["n_generations"] == "1"
    assert "data-smallest" in iberia  # the smallest sample among the regions
    assert 'data-relation="in line"' in iberia
    categories = _row(html, region="South Asia", category="misattributed-tradition")
    assert ">2<" in categories


def test_the_agreement_marks_contested_categories(auditor_user: Any, audit: Audit) -> None:
    html = _get(auditor_user, "audit_agreement").content.decode()
    agreed = _cells(_row(html, category="instrument-not-present"))
    assert (agreed["n_flags"], agreed["n_agreed"], agreed["agreement"]) == ("2", "2", "1.000")
    assert agreed["k_of_n"] == "2 of 2: 1"
    contested = _row(html, category="misattributed-tradition")
    assert "data-contested" in contested
    assert _cells(contested)["agreement"] == "0.000"


# --- People's strings stay text ---------------------------------------------------------------------


def test_quoted_spans_and_names_are_escaped_on_the_pages(auditor_user: Any, audit: Audit) -> None:
    spans = _get(auditor_user, "audit_spans").content.decode()
    assert "&lt;b&gt;sitar&lt;/b&gt;" in spans
    assert "<b>sitar</b>" not in spans
    blind = _get(auditor_user, "audit_blind_spots").content.decode()
    assert "Flamenco &lt;i&gt;cante&lt;/i&gt;" in blind
    assert "<i>cante</i>" not in blind
    dashboard = _get(auditor_user, "audit_dashboard", group_by="culture").content.decode()
    assert "<i>cante</i>" not in dashboard
    # The chart labels travel in a json_script, which escapes markup too.
    assert "\\u003Ci\\u003Ecante" in dashboard


def test_exports_keep_strings_verbatim_in_json_and_inert_in_csv(
    auditor_user: Any, audit: Audit
) -> None:
    data = json.loads(_get(auditor_user, "audit_spans", format="json").content)
    assert QUOTE in {row["quoted_text"] for row in data["rows"]}
    _comments, rows = _csv(_get(auditor_user, "audit_spans", format="csv"))
    # A spreadsheet would run a cell starting with "=": the CSV quotes it as text.
    assert "'" + QUOTE in {row["quoted_text"] for row in rows}
