"""The audit's figures on small fixtures, every one computed by hand in the comments."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from annotations.audit.filters import AuditFilterError, AuditFilters, parse_group_by
from annotations.audit.models import (
    AuditFlagFact,
    AuditGenerationCategoryFact,
    AuditGenerationFact,
    AuditReviewFact,
)
from annotations.audit.selectors import (
    audit_agreement,
    audit_blind_spots,
    audit_compare,
    audit_lineage_trend,
    audit_overall,
    audit_rates,
    audit_spans,
    filter_choices,
)
from annotations.audit.services import audit_refresh_all, audit_refresh_reviews
from annotations.audit.stats import bootstrap_mean_ci, mcnemar_exact, newcombe, wilson
from annotations.generations.models import Generation
from annotations.reviews.models import ErrorCategory, Flag, Review
from annotations.songs.models import Culture, Genre
from tests import factories

pytestmark = pytest.mark.django_db

FEBRUARY = datetime(2026, 2, 15, 12, tzinfo=UTC)
JANUARY = datetime(2026, 1, 10, 12, tzinfo=UTC)


def _generation(version: Any, song: Any, *, think: int = 0, answer: int = 50) -> Generation:
    return factories.GenerationFactory(  # type: ignore[no-any-return]
        model_version=version,
        song=song,
        think_text="thought " * think,
        answer_text="word " * answer,
    )


@dataclass
class F:
    """A flag to create: category code, severity, target, span and audio start."""

    category: str = "instrument-not-present"
    severity: str = "major"
    target: str = "caption"
    start: int = 0
    end: int = 4
    audio: float | None = None


def _review(
    generation: Generation,
    expert: Any,
    flags: list[F] = (),  # type: ignore[assignment]
    *,
    status: str = Review.Status.SUBMITTED,
    submitted_at: datetime = FEBRUARY,
) -> Review:
    review = factories.ReviewFactory(
        generation=generation,
        expert=expert,
        status=status,
        submitted_at=submitted_at if status == Review.Status.SUBMITTED else None,
        skip_reason="other" if status == Review.Status.SKIPPED else "",
    )
    for flag in flags:
        Flag.objects.create(
            review=review,
            category=ErrorCategory.objects.get(code=flag.category),
            severity=flag.severity,
            target=flag.target,
            start_char=flag.start,
            end_char=flag.end,
            quoted_text=f"text {flag.start}-{flag.end}",
            audio_start_seconds=flag.audio,
        )
    return review  # type: ignore[no-any-return]


@dataclass
class World:
    v1: Any
    v2: Any
    s1: Any
    s2: Any
    s3: Any
    g1: Generation
    g2: Generation
    g3: Generation
    g4: Generation
    experts: list[Any]


@pytest.fixture
def world() -> World:
    """Four units on two versions and three songs; drafts and skips that must not count.

    g1 (v1, s1: rock, Yoruba / West Africa; 50 answer words): e1 flags a major instrument and a
        minor key error (2 / 50 × 100 = 4), e2 flags nothing (0): rate 2, flagged.
    g2 (v1, s2: rock + pop, Hindustani / South Asia; 100 + 100 words): e1 one minor cultural flag:
        rate 1 / 200 × 100 = 0.5, not flagged.
    g3 (v2, s1; 50 + 50 words; reviewed in January): e3 one critical reasoning flag: rate 1, flagged.
    g4 (v2, s3: pop, no culture; 25 answer words): e2, no flags: rate 0.
    """
    rock = factories.GenreFactory(slug="rock", name="Rock")
    pop = factories.GenreFactory(slug="pop", name="Pop")
    yoruba = factories.CultureFactory(slug="yoruba", name="Yoruba", region="West Africa")
    hindustani = factories.CultureFactory(slug="hindustani", name="Hindustani", region="South Asia")
    s1, s2, s3 = factories.SongFactory(), factories.SongFactory(), factories.SongFactory()
    s1.genres.set([rock])
    s1.cultures.set([yoruba])
    s2.genres.set([rock, pop])
    s2.cultures.set([hindustani])
    s3.genres.set([pop])
    v1 = factories.ModelVersionFactory(name="flamingo-a")
    v2 = factories.ModelVersionFactory(name="flamingo-b", parent=v1)
    e1, e2, e3 = factories.expert(), factories.expert(), factories.expert()
    g1 = _generation(v1, s1, answer=50)
    g2 = _generation(v1, s2, think=100, answer=100)
    g3 = _generation(v2, s1, think=50, answer=50)
    g4 = _generation(v2, s3, answer=25)
    _review(g1, e1, [F(), F("wrong-key-mode", "minor", start=10, end=14)])
    _review(g1, e2)
    _review(g2, e1, [F("misattributed-tradition", "minor")])
    _review(g3, e3, [F("reasoning-unsupported", "critical", "reasoning")], submitted_at=JANUARY)
    _review(g4, e2)
    # Not counted: a draft with a critical flag, a skip, on a fifth output and on g4.
    g5 = _generation(v1, s3)
    _review(g5, e1, [F(severity="critical")], status=Review.Status.DRAFT)
    _review(g4, e3, [F(severity="critical")], status=Review.Status.DRAFT)
    _review(g5, e3, status=Review.Status.SKIPPED)
    audit_refresh_all()
    return World(v1, v2, s1, s2, s3, g1, g2, g3, g4, [e1, e2, e3])


def _by(rows: list[Any], dim: str) -> dict[str, Any]:
    return {row.cell[dim]: row for row in rows}


# --- rates -------------------------------------------------------------------------------------------


def test_overall_counts_units_experts_flagged_and_flags_of_submitted_reviews_only(
    world: World,
) -> None:
    row = audit_overall(AuditFilters())
    assert (row.n_generations, row.n_experts, row.n_flagged, row.n_flags) == (4, 3, 2, 4)
    assert row.share_flagged == 0.5
    assert (row.share_low, row.share_high) == wilson(2, 4)
    assert [round(row.share_low, 4), round(row.share_high, 4)] == [0.15, 0.85]
    # Per-generation rates 2, 0.5, 1, 0: mean 0.875.
    assert row.per_100_words == pytest.approx(0.875)
    assert row.n_word_generations == 4
    assert (row.per_100_words_low, row.per_100_words_high) == pytest.approx(
        tuple(bootstrap_mean_ci([2.0, 0.5, 1.0], zeros=1))
    )


def test_rates_by_version(world: World) -> None:
    rows = audit_rates(AuditFilters(), ("model_version",))
    assert [r.labels["model_version"] for r in rows] == ["flamingo-a", "flamingo-b"]
    a, b = rows
    assert a.cell == {"model_version": str(world.v1.pk)}
    # v1: g1 (flagged, rate 2) and g2 (rate 0.5), by e1 and e2, 3 flags.
    assert (a.n_generations, a.n_experts, a.n_flagged, a.n_flags) == (2, 2, 1, 3)
    assert a.per_100_words == pytest.approx(1.25)
    # v2: g3 (flagged, rate 1) and g4 (rate 0), by e3 and e2.
    assert (b.n_generations, b.n_experts, b.n_flagged, b.n_flags) == (2, 2, 1, 1)
    assert b.per_100_words == pytest.approx(0.5)
    assert (b.per_100_words_low, b.per_100_words_high) == pytest.approx(
        tuple(bootstrap_mean_ci([1.0], zeros=1))
    )


def test_a_song_in_two_genres_counts_in_both(world: World) -> None:
    rows = _by(audit_rates(AuditFilters(), ("genre",)), "genre")
    assert set(rows) == {"rock", "pop"}
    # rock: s1 and s2 → g1, g2, g3; pop: s2 and s3 → g2, g4.
    assert (rows["rock"].n_generations, rows["rock"].n_experts, rows["rock"].n_flagged) == (3, 3, 2)
    assert rows["rock"].per_100_words == pytest.approx(3.5 / 3)
    assert (rows["pop"].n_generations, rows["pop"].n_experts, rows["pop"].n_flagged) == (2, 2, 0)
    assert rows["pop"].per_100_words == pytest.approx(0.25)
    assert rows["pop"].share_flagged == 0 and rows["pop"].share_low == 0


def test_rates_by_region_and_culture(world: World) -> None:
    regions = _by(audit_rates(AuditFilters(), ("region",)), "region")
    assert {k: (r.n_generations, r.n_flagged) for k, r in regions.items()} == {
        "West Africa": (2, 2),
        "South Asia": (1, 0),
    }
    cultures = _by(audit_rates(AuditFilters(), ("culture", "region")), "culture")
    assert cultures["yoruba"].labels == {"culture": "Yoruba", "region": "West Africa"}
    assert cultures["hindustani"].n_generations == 1


def test_a_flag_level_dimension_shares_its_cells_denominator(world: World) -> None:
    rows = _by(audit_rates(AuditFilters(), ("category",)), "category")
    assert len(rows) == ErrorCategory.objects.filter(is_active=True).count()
    assert all(r.n_generations == 4 and r.n_experts == 3 for r in rows.values())
    instrument = rows["instrument-not-present"]
    # g1 only: e1's one flag / 50 × 100 = 2, e2's 0 → 1; over 4 units 0.25.
    assert (instrument.n_flagged, instrument.n_flags) == (1, 1)
    assert instrument.per_100_words == pytest.approx(0.25)
    key = rows["wrong-key-mode"]  # minor: counted per word, never "flagged"
    assert (key.n_flagged, key.n_flags, key.per_100_words) == (0, 1, pytest.approx(0.25))
    assert rows["misattributed-tradition"].per_100_words == pytest.approx(0.5 / 4)
    assert rows["reasoning-unsupported"].n_flagged == 1
    never = rows["genre-mislabel"]
    assert (never.n_flagged, never.share_flagged, never.per_100_words) == (0, 0.0, 0.0)
    assert (never.per_100_words_low, never.per_100_words_high) == (0.0, 0.0)


def test_by_target_words_are_those_of_the_flagged_part(world: World) -> None:
    rows = _by(audit_rates(AuditFilters(), ("target",)), "target")
    caption, reasoning = rows["caption"], rows["reasoning"]
    # Caption: g1 2 flags / 50 words (4, and e2's 0 → 2), g2 1 / 100 (1), g3 and g4 0: mean 0.75.
    assert caption.n_word_generations == 4
    assert caption.per_100_words == pytest.approx(0.75)
    assert (caption.n_flagged, caption.labels["target"]) == (1, "Caption / answer")
    # Reasoning: only g2 and g3 have a trace; g3's flag / 50 think words = 2, g2 0: mean 1.
    assert reasoning.n_word_generations == 2
    assert reasoning.per_100_words == pytest.approx(1.0)
    assert reasoning.n_flagged == 1 and reasoning.n_generations == 4


def test_filtering_by_target_counts_that_part_only(world: World) -> None:
    row = audit_overall(AuditFilters(target="reasoning"))
    assert (row.n_generations, row.n_flagged, row.n_word_generations) == (4, 1, 2)
    assert row.per_100_words == pytest.approx(1.0)


def test_rates_by_version_and_category(world: World) -> None:
    rows = audit_rates(AuditFilters(), ("model_version", "category"))
    cell = next(
        r
        for r in rows
        if r.cell == {"model_version": str(world.v2.pk), "category": "reasoning-unsupported"}
    )
    # g3's critical flag: 1 / 100 words × 100 = 1; g4 0 → 0.5.
    assert (cell.n_generations, cell.n_flagged, cell.per_100_words) == (2, 1, pytest.approx(0.5))
    assert cell.labels == {
        "model_version": "flamingo-b",
        "category": "Reasoning step not supported by the audio",
    }


def test_filters_restrict_generations_reviews_and_flags(world: World) -> None:
    pop = audit_overall(AuditFilters(genres=("pop",)))
    assert (pop.n_generations, pop.n_flagged) == (2, 0)
    yoruba = audit_overall(AuditFilters(cultures=("yoruba",)))
    assert (yoruba.n_generations, yoruba.n_flagged) == (2, 2)
    south_asia = audit_overall(AuditFilters(regions=("South Asia",)))
    assert south_asia.n_generations == 1
    # g3's only review was submitted in January.
    february = audit_overall(AuditFilters(date_from=date(2026, 2, 1)))
    assert (february.n_generations, february.n_experts, february.n_flagged) == (3, 2, 1)
    january = audit_overall(AuditFilters(date_to=date(2026, 1, 10)))
    assert (january.n_generations, january.n_flagged) == (1, 1)
    # Only major flags: g1's instrument flag (rate 1 for g1), g3's critical one is not counted.
    major = audit_overall(AuditFilters(severities=("major",)))
    assert (major.n_flagged, major.n_flags, major.per_100_words) == (1, 1, pytest.approx(0.25))
    cultural = audit_overall(AuditFilters(kinds=("cultural",)))
    assert (cultural.n_generations, cultural.n_flagged, cultural.n_flags) == (4, 0, 1)
    harmony = audit_overall(AuditFilters(aspects=("harmony",)))
    assert harmony.n_flags == 1  # the key error
    versions = audit_overall(AuditFilters(model_versions=(world.v2.pk,)))
    assert versions.n_generations == 2


def test_grouping_by_a_filtered_dimension_shows_the_chosen_values_only(world: World) -> None:
    rows = audit_rates(AuditFilters(genres=("rock",)), ("genre",))
    assert [r.cell["genre"] for r in rows] == ["rock"]
    categories = audit_rates(AuditFilters(categories=("wrong-key-mode",)), ("category",))
    assert [r.cell["category"] for r in categories] == ["wrong-key-mode"]


def test_no_review_gives_an_empty_cell_without_figures() -> None:
    row = audit_overall(AuditFilters())
    assert (row.n_generations, row.share_flagged, row.per_100_words) == (0, None, None)
    assert audit_rates(AuditFilters(), ("model_version",)) == []


def test_rates_take_a_fixed_number_of_queries(world: World, django_assert_num_queries: Any) -> None:
    # Taxonomy, experts per cell, one statement for units, flagged units and per-generation rates
    # (each of the two after reading the version of the audit's inputs it is cached under), three
    # label lookups; around them a savepoint with the planner settings (jit, work_mem).
    with django_assert_num_queries(12):
        audit_rates(AuditFilters(), ("model_version", "genre", "category"))


# --- filters -----------------------------------------------------------------------------------------


def test_filters_parse_from_the_query_string_and_back(world: World) -> None:
    query = QueryDict(
        f"model_version={world.v1.pk}&model_version={world.v2.pk}&genre=rock&culture=yoruba"
        "&region=West+Africa&category=wrong-key-mode&kind=hallucination&aspect=harmony"
        "&target=caption&severity=major&severity=critical&date_from=2026-01-01&date_to=2026-02-28"
        "&culture="
    )
    filters = AuditFilters.from_query(query)
    assert filters == AuditFilters(
        model_versions=(world.v1.pk, world.v2.pk),
        categories=("wrong-key-mode",),
        kinds=("hallucination",),
        genres=("rock",),
        cultures=("yoruba",),
        regions=("West Africa",),
        aspects=("harmony",),
        target="caption",
        severities=("major", "critical"),
        date_from=date(2026, 1, 1),
        date_to=date(2026, 2, 28),
    )
    again = QueryDict(mutable=True)
    for key, value in filters.to_query():
        again.appendlist(key, value)
    assert AuditFilters.from_query(again) == filters
    assert filters.describe()["model_version"] == [
        f"flamingo-a (#{world.v1.pk})",
        f"flamingo-b (#{world.v2.pk})",
    ]
    assert AuditFilters.from_query(QueryDict("")).is_empty


@pytest.mark.parametrize(
    ("query", "key", "message"),
    [
        ("model_version=abc", "model_version", "Model version “abc” is not a version id."),
        ("model_version=999999", "model_version", "Unknown model version “999999”."),
        ("culture=atlantis", "culture", "Unknown culture “atlantis”."),
        ("genre=polka", "genre", "Unknown genre “polka”."),
        ("region=Moon", "region", "Unknown region “Moon”."),
        ("category=nope", "category", "Unknown error category “nope”."),
        ("severity=fatal", "severity", "Unknown severity “fatal”."),
        ("target=lyrics", "target", "Unknown target “lyrics”: use “caption” (the answer) or "),
        ("target=caption&target=reasoning", "target", "Choose one target"),
        ("date_from=2026-13-01", "date_from", "“2026-13-01” is not a date: use YYYY-MM-DD."),
        ("date_from=yesterday", "date_from", "“yesterday” is not a date"),
        ("date_from=2026-03-01&date_to=2026-02-01", "date_to", "The end date is before the start"),
    ],
)
def test_bad_filters_are_refused_with_a_message_per_key(
    world: World, query: str, key: str, message: str
) -> None:
    with pytest.raises(AuditFilterError) as raised:
        AuditFilters.from_query(QueryDict(query))
    assert list(raised.value.errors) == [key]
    assert raised.value.errors[key].startswith(message)
    assert message in raised.value.message


def test_group_by_defaults_to_version_and_refuses_unknown_dimensions() -> None:
    assert parse_group_by(QueryDict("")) == ("model_version",)
    assert parse_group_by(QueryDict("group_by=")) == ()
    assert parse_group_by(QueryDict("group_by=culture&group_by=category&group_by=culture")) == (
        "culture",
        "category",
    )
    with pytest.raises(AuditFilterError, match="Cannot group by “mood”"):
        parse_group_by(QueryDict("group_by=mood"))


def test_narrowing_to_a_cell_fixes_its_dimensions(world: World) -> None:
    narrowed = AuditFilters(genres=("rock", "pop"), target="caption").narrowed(
        {"genre": "pop", "model_version": str(world.v1.pk), "target": "reasoning"}
    )
    assert narrowed.genres == ("pop",)
    assert narrowed.model_versions == (world.v1.pk,)
    assert narrowed.target == "reasoning"


def test_filter_choices_list_every_value(world: World) -> None:
    choices = filter_choices()
    assert choices["model_version"] == [
        (str(world.v1.pk), "flamingo-a"),
        (str(world.v2.pk), "flamingo-b"),
    ]
    assert ("yoruba", "Yoruba (West Africa)") in choices["culture"]
    assert choices["region"] == [("South Asia", "South Asia"), ("West Africa", "West Africa")]
    assert ("reasoning", "Reasoning trace") in choices["target"]


# --- version comparison and lineage ------------------------------------------------------------------


def _one_output(version: Any, song: Any, flagged: bool, expert: Any) -> Generation:
    generation = _generation(version, song)
    _review(generation, expert, [F()] if flagged else [])
    return generation


def test_versions_on_shared_songs_are_compared_pairwise_with_mcnemar() -> None:
    a = factories.ModelVersionFactory(name="a")
    b = factories.ModelVersionFactory(name="b")
    expert = factories.expert()
    songs = [factories.SongFactory() for _ in range(5)]
    # Flagged: A on songs 0, 1, 2; B on song 2; song 4 reviewed for A only.
    for index, song in enumerate(songs[:4]):
        _one_output(a, song, index in (0, 1, 2), expert)
        _one_output(b, song, index == 2, expert)
    _one_output(a, songs[4], False, expert)
    audit_refresh_all()

    result = audit_compare(a, b, AuditFilters())
    assert (result.method, result.shared_songs) == ("paired", 4)
    # Per-song differences 1, 1, 0, 0.
    assert result.difference == 0.5
    assert (result.low, result.high) == bootstrap_mean_ci([1.0, 1.0, 0.0, 0.0])
    assert result.low == 0.0 and not result.significant  # 0 of 4 songs differing has p 1/16
    assert (result.a_paired, result.b_paired) == (0.75, 0.25)
    assert result.mcnemar is not None
    assert (result.mcnemar.b, result.mcnemar.c, result.mcnemar.n_pairs) == (2, 0, 4)
    assert result.mcnemar.p_value == mcnemar_exact(2, 0) == 0.5
    # Unpaired on all units: 3 of 5 against 1 of 4.
    assert (result.a.n_generations, result.a.n_flagged) == (5, 3)
    difference, interval = newcombe(3, 5, 1, 4)
    assert result.unpaired_difference == pytest.approx(difference)
    assert (result.unpaired_low, result.unpaired_high) == pytest.approx(tuple(interval))


def test_a_consistent_difference_over_many_songs_is_significant() -> None:
    a = factories.ModelVersionFactory(name="a")
    b = factories.ModelVersionFactory(name="b")
    expert = factories.expert()
    for index in range(12):
        song = factories.SongFactory()
        _one_output(a, song, True, expert)
        _one_output(b, song, index == 0, expert)
    audit_refresh_all()
    result = audit_compare(a, b, AuditFilters())
    assert result.difference == pytest.approx(11 / 12)
    assert result.significant and result.low > 0
    assert result.mcnemar is not None and result.mcnemar.p_value == mcnemar_exact(11, 0)


def test_several_outputs_per_song_are_averaged_per_song_and_skip_mcnemar() -> None:
    a = factories.ModelVersionFactory(name="a")
    b = factories.ModelVersionFactory(name="b")
    expert = factories.expert()
    song = factories.SongFactory()
    _one_output(a, song, True, expert)
    _one_output(a, song, False, expert)
    _one_output(b, song, False, expert)
    audit_refresh_all()
    result = audit_compare(a, b, AuditFilters())
    assert (result.shared_songs, result.difference, result.a_paired) == (1, 0.5, 0.5)
    assert result.mcnemar is None


def test_versions_without_shared_songs_are_compared_with_newcombe() -> None:
    c = factories.ModelVersionFactory(name="c")
    d = factories.ModelVersionFactory(name="d")
    expert = factories.expert()
    _one_output(c, factories.SongFactory(), True, expert)
    _one_output(c, factories.SongFactory(), False, expert)
    for _ in range(3):
        _one_output(d, factories.SongFactory(), False, expert)
    audit_refresh_all()
    result = audit_compare(c, d, AuditFilters())
    difference, interval = newcombe(1, 2, 0, 3)
    assert (result.method, result.shared_songs, result.mcnemar) == ("unpaired", 0, None)
    assert result.difference == pytest.approx(difference) == 0.5
    assert (result.low, result.high) == pytest.approx(tuple(interval))
    assert result.significant is (interval.low > 0)


def test_a_version_without_reviews_has_no_difference() -> None:
    c = factories.ModelVersionFactory(name="c")
    d = factories.ModelVersionFactory(name="d")
    _one_output(c, factories.SongFactory(), True, factories.expert())
    audit_refresh_all()
    result = audit_compare(c, d, AuditFilters())
    assert (result.method, result.difference, result.significant) == ("", None, False)
    assert result.b.n_generations == 0


def test_lineage_trend_walks_from_the_root_to_the_version() -> None:
    root = factories.ModelVersionFactory(name="root")
    child = factories.ModelVersionFactory(name="child", parent=root)
    grandchild = factories.ModelVersionFactory(name="grandchild", parent=child)
    factories.ModelVersionFactory(name="sibling", parent=root)
    expert = factories.expert()
    songs = [factories.SongFactory() for _ in range(4)]
    for index, song in enumerate(songs):
        _one_output(root, song, True, expert)
        _one_output(child, song, index < 2, expert)
        _one_output(grandchild, song, index < 1, expert)
    audit_refresh_all()

    points = audit_lineage_trend(grandchild)
    assert [(p.version.name, p.depth) for p in points] == [
        ("root", 0),
        ("child", 1),
        ("grandchild", 2),
    ]
    assert [p.rate.share_flagged for p in points] == [1.0, 0.5, 0.25]
    assert points[0].change is None
    assert points[1].change is not None and points[1].change.difference == -0.5
    assert points[2].change is not None and points[2].change.version_b == child
    assert points[2].change.difference == -0.25


# --- blind spots -------------------------------------------------------------------------------------


def test_blind_spots_set_each_region_and_culture_against_the_overall_rate() -> None:
    version = factories.ModelVersionFactory()
    expert = factories.expert()
    west = factories.CultureFactory(slug="yoruba", name="Yoruba", region="West Africa")
    south = factories.CultureFactory(slug="carnatic", name="Carnatic", region="South Asia")
    andes = factories.CultureFactory(slug="huayno", name="Huayno", region="Andes")
    cultural = (
        ["misattributed-tradition"] * 3
        + ["western-theory-imposed"] * 2
        + ["stereotyping-language", "wrong-regional-instrument-name"]
    )
    for index in range(10):  # West Africa: all 10 flagged, with 7 cultural flags among them
        song = factories.SongFactory()
        song.cultures.set([west])
        flags = [F()] + ([F(cultural[index], "minor")] if index < len(cultural) else [])
        _review(_generation(version, song), expert, flags)
    for _ in range(10):  # South Asia: none flagged
        song = factories.SongFactory()
        song.cultures.set([south])
        _review(_generation(version, song), expert)
    song = factories.SongFactory()  # Andes: one unflagged output
    song.cultures.set([andes])
    _review(_generation(version, song), expert)
    audit_refresh_all()

    report = audit_blind_spots(AuditFilters())
    assert (report.overall.n_generations, report.overall.n_flagged) == (21, 10)
    regions = {row.region: row for row in report.regions}
    # 10/10: Wilson low 0.7225 > 10/21; 0/10: high 0.2775 < 10/21; 0/1: high 0.7935, in line.
    assert regions["West Africa"].relation == "above"
    assert regions["South Asia"].relation == "below"
    assert regions["Andes"].relation == "in line"
    assert regions["West Africa"].difference == pytest.approx(1 - 10 / 21)
    assert [r.region for r in report.regions] == ["West Africa", "Andes", "South Asia"]
    assert regions["Andes"].small_sample and regions["Andes"].smallest
    assert regions["West Africa"].small_sample and not regions["West Africa"].smallest
    assert report.small_sample_threshold == 30
    cultures = {row.culture: row for row in report.cultures}
    assert cultures["yoruba"].region == "West Africa" and cultures["yoruba"].label == "Yoruba"
    assert cultures["carnatic"].relation == "below"
    top = report.top_cultural_categories
    assert list(top) == ["West Africa"]
    assert [(c.code, c.n_flags, c.n_generations) for c in top["West Africa"]] == [
        ("misattributed-tradition", 3, 3),
        ("western-theory-imposed", 2, 2),
        ("stereotyping-language", 1, 1),  # tied with wrong-regional-instrument-name: by code
    ]


# --- agreement ---------------------------------------------------------------------------------------


@pytest.fixture
def agreement_world() -> dict[str, Any]:
    """One output with three reviewers, and one with a single reviewer (left out of agreement).

    e1: instrument [10, 20), key [30, 40); e2: instrument [15, 25) (overlaps e1), key [40, 45)
    (touches e1's at 40, shares no character); e3: instrument [50, 60) and, on the reasoning trace,
    instrument [10, 20) (another target).
    """
    version = factories.ModelVersionFactory(name="v")
    song = factories.SongFactory(title="Shared song", artist="Band")
    shared = _generation(version, song, think=20, answer=30)
    e1, e2, e3 = factories.expert(), factories.expert(), factories.expert()
    first = _review(
        shared,
        e1,
        [F(start=10, end=20, audio=12.5), F("wrong-key-mode", start=30, end=40)],
        submitted_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    second = _review(
        shared,
        e2,
        [F(start=15, end=25), F("wrong-key-mode", start=40, end=45)],
        submitted_at=datetime(2026, 2, 2, tzinfo=UTC),
    )
    third = _review(
        shared,
        e3,
        [F(start=50, end=60), F(target="reasoning", start=10, end=20)],
        submitted_at=datetime(2026, 2, 3, tzinfo=UTC),
    )
    alone = _review(
        _generation(version, factories.SongFactory()),
        factories.expert(),
        [F(start=0, end=4)],
        submitted_at=datetime(2026, 2, 4, tzinfo=UTC),
    )
    audit_refresh_all()
    return {"reviews": [first, second, third, alone], "generation": shared}


def test_agreement_per_category_counts_overlapping_flags_of_other_experts(
    agreement_world: dict[str, Any],
) -> None:
    rows = {row.category: row for row in audit_agreement(AuditFilters())}
    assert set(rows) == {"instrument-not-present", "wrong-key-mode"}
    instrument = rows["instrument-not-present"]
    # e1's and e2's overlap; e3's caption flag and reasoning flag match nobody: 2 of 4.
    assert (instrument.n_flags, instrument.n_agreed, instrument.agreement) == (4, 2, 0.5)
    assert not instrument.contested  # contested is strictly below one half
    assert (instrument.n_generations, instrument.n_experts) == (1, 3)
    assert instrument.k_of_n == [(2, 3, 1)]  # at most 2 of the 3 reviewers agree on a span
    key = rows["wrong-key-mode"]
    assert (key.n_flags, key.n_agreed, key.agreement, key.contested) == (2, 0, 0.0, True)
    assert key.k_of_n == [(1, 3, 1)]
    assert [row.category for row in audit_agreement(AuditFilters())] == [
        "wrong-key-mode",
        "instrument-not-present",
    ]


def test_agreement_honours_the_filters(agreement_world: dict[str, Any]) -> None:
    rows = audit_agreement(AuditFilters(target="caption", categories=("instrument-not-present",)))
    [instrument] = rows
    assert (instrument.n_flags, instrument.n_agreed) == (3, 2)
    # Without e2's review (submitted 2 February) no output has two reviews in range.
    assert audit_agreement(AuditFilters(date_from=date(2026, 2, 3))) == []


# --- drill-down --------------------------------------------------------------------------------------


def test_spans_of_a_cell_come_newest_first_with_review_audio_time_and_expert_count(
    agreement_world: dict[str, Any],
) -> None:
    first, second, third, alone = agreement_world["reviews"]
    page = audit_spans(AuditFilters(), {"category": "instrument-not-present", "target": "caption"})
    assert page.total == 4 and page.num_pages == 1 and not page.has_next
    assert [(row.review_id, row.start_char) for row in page.rows] == [
        (alone.pk, 0),
        (third.pk, 50),
        (second.pk, 15),
        (first.pk, 10),
    ]
    oldest = page.rows[-1]
    assert oldest.audio_start_seconds == 12.5
    assert oldest.expert_count == 2 and page.rows[1].expert_count == 1
    assert oldest.quoted_text == "text 10-20"
    assert (oldest.song, oldest.model_version, oldest.severity) == (
        "Band — Shared song",
        "v",
        "major",
    )
    assert (oldest.category, oldest.category_name) == (
        "instrument-not-present",
        "Instrument not present",
    )
    assert oldest.submitted_at == datetime(2026, 2, 1, tzinfo=UTC)


def test_spans_are_paginated_and_a_page_past_the_end_shows_the_last(
    agreement_world: dict[str, Any],
) -> None:
    first_page = audit_spans(AuditFilters(), per_page=2)
    assert (first_page.total, first_page.num_pages, first_page.number) == (7, 4, 1)
    assert first_page.has_next and not first_page.has_previous
    last = audit_spans(AuditFilters(), page=99, per_page=2)
    assert (last.number, len(last.rows), last.has_previous) == (4, 1, True)
    seen = [
        row.flag_id
        for number in range(1, 5)
        for row in audit_spans(AuditFilters(), page=number, per_page=2).rows
    ]
    assert len(seen) == len(set(seen)) == 7


def test_spans_of_drafts_are_never_listed(world: World) -> None:
    spans = audit_spans(AuditFilters(), {"model_version": str(world.v1.pk)})
    assert spans.total == 3  # g1's two flags and g2's; the draft's critical flag is not counted


# --- summaries (no date range) against the fact tables (a date range) --------------------------------

# Wide enough to hold every review: forces the fact tables' path without changing what counts.
EVERY_DAY = {"date_from": date(2000, 1, 1), "date_to": date(2999, 12, 31)}


def _with_more_agreement(world: World) -> None:
    """More reviews on the world's outputs, so that flags agree, on both parts, in several severities:
    e3 on g1 overlaps e1's instrument flag [0, 4) and key flag [10, 14) (critical [12, 20));
    e1 on g3 overlaps e3's reasoning flag (minor, reasoning [2, 6)) and adds a caption flag;
    e2 on g2 overlaps e1's cultural flag (major) and adds a reasoning one nobody shares."""
    e1, e2, e3 = world.experts
    _review(world.g1, e3, [F(start=1, end=3), F("wrong-key-mode", "critical", start=12, end=20)])
    _review(
        world.g3,
        e1,
        [
            F("reasoning-unsupported", "minor", "reasoning", start=2, end=6),
            F("genre-mislabel", "major", start=20, end=30),
        ],
    )
    _review(
        world.g2,
        e2,
        [
            F("misattributed-tradition", "major", start=2, end=8),
            F("reasoning-unsupported", "major", "reasoning", start=40, end=50),
        ],
        submitted_at=JANUARY,
    )
    audit_refresh_all()


FILTERS = [
    AuditFilters(),
    AuditFilters(severities=("major",)),
    AuditFilters(severities=("minor", "critical")),
    AuditFilters(target="caption"),
    AuditFilters(target="reasoning"),
    AuditFilters(kinds=("cultural",)),
    AuditFilters(categories=("instrument-not-present", "reasoning-unsupported")),
    AuditFilters(aspects=("harmony", "instrumentation")),
    AuditFilters(genres=("rock",), severities=("critical",)),
    AuditFilters(regions=("West Africa",), target="caption"),
]
GROUPINGS = [
    (),
    ("model_version", "category"),
    ("model_version", "target"),
    ("region", "kind"),
    ("genre", "aspect"),
    ("culture", "category", "target"),
    ("model_version", "genre", "kind", "aspect"),
]


def _tables_read(run: Any) -> str:
    with CaptureQueriesContext(connection) as queries:
        run()
    return " ".join(q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("more", [False, True], ids=["world", "more-agreement"])
def test_rates_read_from_the_summaries_equal_those_from_the_facts(world: World, more: bool) -> None:
    if more:
        _with_more_agreement(world)
    # Which path each takes: the summaries without a date range, the flag facts with one.
    cache.clear()
    summarised = _tables_read(lambda: audit_rates(AuditFilters(), ("model_version", "category")))
    assert AuditGenerationCategoryFact._meta.db_table in summarised
    assert f"{AuditFlagFact._meta.db_table} " not in summarised
    facts = _tables_read(
        lambda: audit_rates(AuditFilters(**EVERY_DAY), ("model_version", "category"))
    )
    assert AuditGenerationCategoryFact._meta.db_table not in facts
    assert AuditGenerationFact._meta.db_table not in facts
    assert AuditFlagFact._meta.db_table in facts

    for filters in [
        *FILTERS,
        AuditFilters(kinds=("cultural",), target="reasoning"),
        AuditFilters(model_versions=(world.v2.pk,), severities=("critical", "major")),
    ]:
        for group_by in GROUPINGS:
            summary_rows = audit_rates(filters, group_by)
            fact_rows = audit_rates(replace(filters, **EVERY_DAY), group_by)
            assert summary_rows, (filters, group_by)
            assert summary_rows == fact_rows, (filters, group_by)
    # The brief's combinations, by hand on the plain world: region × kind among cultural flags.
    cultural = audit_rates(AuditFilters(kinds=("cultural",)), ("region", "kind"))
    assert cultural == audit_rates(
        AuditFilters(kinds=("cultural",), **EVERY_DAY), ("region", "kind")
    )
    assert {(r.cell["region"], r.cell["kind"]) for r in cultural} == {
        ("West Africa", "cultural"),
        ("South Asia", "cultural"),
    }
    if not more:
        south_asia = next(r for r in cultural if r.cell["region"] == "South Asia")
        # g2 only: e1's minor cultural flag / 200 words × 100 = 0.5; minor, so not flagged.
        assert (south_asia.n_generations, south_asia.n_flags, south_asia.n_flagged) == (1, 1, 0)
        assert south_asia.per_100_words == pytest.approx(0.5)


@pytest.mark.parametrize("more", [False, True], ids=["world", "more-agreement"])
def test_comparisons_blind_spots_and_agreement_are_the_same_from_both_paths(
    world: World, more: bool
) -> None:
    if more:
        _with_more_agreement(world)
    for filters in FILTERS:
        wide = replace(filters, **EVERY_DAY)
        assert audit_compare(world.v1, world.v2, filters) == audit_compare(
            world.v1, world.v2, wide
        ), filters
        assert audit_compare(world.v2, world.v1, filters) == audit_compare(
            world.v2, world.v1, wide
        ), filters
        assert audit_blind_spots(filters) == audit_blind_spots(wide), filters
        assert audit_agreement(filters) == audit_agreement(wide), filters
        assert audit_lineage_trend(world.v2, filters) == audit_lineage_trend(world.v2, wide)
    # The figures are not empty: what is compared holds counts.
    comparison = audit_compare(world.v1, world.v2, AuditFilters())
    assert (comparison.method, comparison.shared_songs) == ("paired", 1)
    report = audit_blind_spots(AuditFilters())
    assert report.top_cultural_categories["South Asia"][0].code == "misattributed-tradition"
    agreement = {row.category: row for row in audit_agreement(AuditFilters())}
    assert agreement, "g1 has two reviews"
    if more:
        instrument = agreement["instrument-not-present"]
        # g1: e1's [0, 4) and e3's [1, 3) agree; k 2 of n 3.
        assert (instrument.n_flags, instrument.n_agreed, instrument.k_of_n) == (2, 2, [(2, 3, 1)])
        key = agreement["wrong-key-mode"]
        assert (key.n_flags, key.n_agreed, key.k_of_n) == (2, 2, [(2, 3, 1)])
        reasoning = agreement["reasoning-unsupported"]
        # g3: e3's [0, 4) and e1's [2, 6) agree; g2: e2's reasoning flag stands alone.
        assert (reasoning.n_flags, reasoning.n_agreed) == (3, 2)
        assert reasoning.k_of_n == [(1, 2, 1), (2, 2, 1)]
        tradition = agreement["misattributed-tradition"]
        assert (tradition.n_flags, tradition.n_agreed, tradition.n_experts) == (2, 2, 2)
        caption_only = {r.category: r for r in audit_agreement(AuditFilters(target="caption"))}
        assert "reasoning-unsupported" not in caption_only


# --- cached aggregates -------------------------------------------------------------------------------


def test_a_second_identical_call_is_served_from_the_cache(world: World) -> None:
    cache.clear()
    group_by = ("model_version", "genre", "category")
    with CaptureQueriesContext(connection) as first:
        rows = audit_rates(AuditFilters(), group_by)
    with CaptureQueriesContext(connection) as second:
        again = audit_rates(AuditFilters(), group_by)
    assert again == rows
    assert len(second.captured_queries) < len(first.captured_queries)
    # Neither aggregate reaches the facts or the summaries a second time.
    read = " ".join(q["sql"] for q in second.captured_queries)
    for model in (AuditReviewFact, AuditFlagFact, AuditGenerationFact, AuditGenerationCategoryFact):
        assert model._meta.db_table not in read
    with CaptureQueriesContext(connection) as third:
        audit_agreement(AuditFilters())
    with CaptureQueriesContext(connection) as fourth:
        audit_agreement(AuditFilters())
    assert len(fourth.captured_queries) < len(third.captured_queries)


def test_a_new_submitted_review_is_counted_on_the_next_call(world: World) -> None:
    cache.clear()
    before = audit_overall(AuditFilters())
    assert (before.n_generations, before.n_flagged, before.n_flags) == (4, 2, 4)
    by_version = _by(audit_rates(AuditFilters(), ("model_version",)), "model_version")
    agreement = audit_agreement(AuditFilters())
    assert audit_overall(AuditFilters()) == before  # served from the cache

    # e1 reviews g4 (25 answer words) with a major flag overlapping nobody's: rate 4, e2's 0 → 2.
    review = _review(world.g4, world.experts[0], [F(start=0, end=4)])
    audit_refresh_reviews(review_ids=[review.pk])
    after = audit_overall(AuditFilters())
    assert (after.n_generations, after.n_experts, after.n_flagged, after.n_flags) == (4, 3, 3, 5)
    # Rates 2, 0.5, 1, 2: mean 1.375.
    assert after.per_100_words == pytest.approx(1.375)
    v2 = _by(audit_rates(AuditFilters(), ("model_version",)), "model_version")[str(world.v2.pk)]
    assert (v2.n_flagged, v2.n_flags) == (2, 2)
    assert by_version[str(world.v2.pk)].n_flagged == 1
    # g4 now has two reviews: its one flag joins g1's in the agreement figures (k 1 of 2, twice).
    instrument = {r.category: r for r in agreement}["instrument-not-present"]
    assert (instrument.n_generations, instrument.n_flags, instrument.k_of_n) == (1, 1, [(1, 2, 1)])
    instrument = {r.category: r for r in audit_agreement(AuditFilters())}["instrument-not-present"]
    assert (instrument.n_generations, instrument.n_flags, instrument.k_of_n) == (2, 2, [(1, 2, 2)])
    assert audit_agreement(AuditFilters()) != agreement


def test_a_review_deleted_through_the_orm_is_not_counted_on_the_next_call(
    world: World, django_capture_on_commit_callbacks: Any
) -> None:
    cache.clear()
    assert audit_overall(AuditFilters()).n_generations == 4
    g4_review = Review.objects.get(generation=world.g4, status=Review.Status.SUBMITTED)
    with django_capture_on_commit_callbacks(execute=True):
        g4_review.delete()
    after = audit_overall(AuditFilters())
    assert (after.n_generations, after.n_flagged) == (3, 2)
    assert after == audit_overall(AuditFilters(**EVERY_DAY))


def test_a_songs_new_genre_is_counted_on_the_next_call(world: World) -> None:
    cache.clear()
    genres = _by(audit_rates(AuditFilters(), ("genre",)), "genre")
    assert (genres["rock"].n_generations, genres["rock"].n_flagged) == (3, 2)
    assert audit_overall(AuditFilters(genres=("rock",))).n_generations == 3
    assert _by(audit_rates(AuditFilters(), ("genre",)), "genre") == genres  # cached

    world.s3.genres.add(Genre.objects.get(slug="rock"))  # g4 (rate 0) becomes rock too
    genres = _by(audit_rates(AuditFilters(), ("genre",)), "genre")
    assert (genres["rock"].n_generations, genres["rock"].n_experts) == (4, 3)
    assert genres["rock"].per_100_words == pytest.approx(3.5 / 4)
    assert audit_overall(AuditFilters(genres=("rock",))).n_generations == 4

    world.s2.genres.remove(Genre.objects.get(slug="pop"))  # pop keeps g4 only
    genres = _by(audit_rates(AuditFilters(), ("genre",)), "genre")
    assert genres["pop"].n_generations == 1

    world.s1.genres.clear()  # g1 and g3 lose their genre: rock keeps g2 and g4
    assert _by(audit_rates(AuditFilters(), ("genre",)), "genre")["rock"].n_generations == 2


def test_a_songs_new_culture_or_a_cultures_new_region_is_counted_on_the_next_call(
    world: World,
) -> None:
    cache.clear()
    regions = _by(audit_rates(AuditFilters(), ("region",)), "region")
    assert set(regions) == {"West Africa", "South Asia"}
    assert set(audit_blind_spots(AuditFilters()).top_cultural_categories) == {"South Asia"}

    world.s3.cultures.add(Culture.objects.get(slug="hindustani"))  # g4 joins South Asia
    regions = _by(audit_rates(AuditFilters(), ("region",)), "region")
    assert regions["South Asia"].n_generations == 2

    hindustani = Culture.objects.get(slug="hindustani")
    hindustani.region = "North India"
    hindustani.save()
    regions = _by(audit_rates(AuditFilters(), ("region",)), "region")
    assert set(regions) == {"West Africa", "North India"}
    assert set(audit_blind_spots(AuditFilters()).top_cultural_categories) == {"North India"}
