"""The reward pages through the Django test client: a generation's breakdown (values, why,
provenance, what does not apply), distributions checked against hand-computed numbers on
PostgreSQL, and reward profiles created, edited in place, versioned once frozen, and refused with
a readable message when invalid.

The registry of reward functions is pinned to a fixed one here (the pages only read names,
versions and definitions from it), so these tests do not move when a function's version does.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

import modeling.rewards
from annotations.core.errors import ValidationFailed
from annotations.datasets.models import DatasetSnapshot
from annotations.generations.models import Generation
from annotations.reviews.models import Review
from annotations.rewards.models import RewardProfile
from annotations.rewards.selectors import reward_breakdown, reward_distributions
from annotations.rewards.services.reward_profiles import (
    reward_profile_create,
    reward_profile_is_frozen,
    reward_profile_update,
)
from annotations.rewards.services.rewards import reward_functions
from annotations.training.models import TrainingRun
from tests import factories
from tests.helpers import client_for

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
NAMES = (
    "format",
    "accuracy",
    "structured_thinking",
    "hallucination_penalty",
    "step_validity",
    "preference",
)


_REAL_REWARDS = modeling.rewards.REWARDS


@dataclass(frozen=True)
class _Reward:
    name: str
    version: int
    source: str
    definition: str


@pytest.fixture(autouse=True)
def registry(monkeypatch: pytest.MonkeyPatch) -> dict[str, _Reward]:
    fake = {
        name: _Reward(name, 1, "paper" if i < 3 else "workbench", f"Definition of {name}.")
        for i, name in enumerate(NAMES)
    }
    monkeypatch.setattr(modeling.rewards, "REWARDS", fake)
    return fake


@pytest.fixture
def enqueued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Profiles whose composites were queued for recomputation (a stand-in for the Celery task)."""
    calls: list[int] = []
    module = types.ModuleType("workers.rewards")
    module.recompute_composites = types.SimpleNamespace(  # type: ignore[attr-defined]
        delay=lambda profile_id: calls.append(profile_id)
    )
    monkeypatch.setitem(sys.modules, "workers.rewards", module)
    return calls


def _submitted_review(generation: Generation, username: str) -> Review:
    return factories.ReviewFactory(  # type: ignore[no-any-return]
        generation=generation,
        expert=factories.expert(username=username),
        status=Review.Status.SUBMITTED,
        submitted_at=timezone.now(),
    )


def _frozen(profile: RewardProfile) -> TrainingRun:
    return TrainingRun.objects.create(
        stage=TrainingRun.Stage.GRPO,
        base_version=factories.ModelVersionFactory(),
        dataset_snapshot=DatasetSnapshot.objects.create(name=f"snapshot-{profile.pk}"),
        reward_profile=profile,
    )


# --- the breakdown -------------------------------------------------------------------------------


@pytest.fixture
def scored() -> dict[str, Any]:
    """A caption output with two submitted reviews and its rewards as the recompute stores them."""
    generation = factories.GenerationFactory(think_text="Step 1: 92 BPM.")
    lena = _submitted_review(generation, "lena")
    omar = _submitted_review(generation, "omar")
    provenance = {
        "reviews": [[lena.pk, 3], [omar.pk, 2]],
        "metadata": {
            "tempo_bpm": {
                "value": 92,
                "status": "unanimous",
                "supporters": [lena.pk, omar.pk],
                "dissenters": [],
            },
            "key": {
                "value": None,
                "status": "no_agreement",
                "supporters": [lena.pk],
                "dissenters": [omar.pk],
            },
        },
    }
    factories.RewardValueFactory(
        generation=generation, function="format", value=1.0, details={"well_formed": True}
    )
    factories.RewardValueFactory(
        generation=generation,
        function="structured_thinking",
        value=0.5,
        provenance=provenance,
        details={
            "categories": [
                {"name": "BPM", "gold": "92", "claimed": "92", "credit": 1.0, "why": "within 4%"},
                {"name": "Key", "gold": "D minor", "claimed": "F major", "credit": 0.0},
            ],
            "matched": ["BPM"],
            "unmatched": ["Key"],
        },
    )
    factories.RewardValueFactory(
        generation=generation,
        function="hallucination_penalty",
        value=-0.25,
        provenance={"reviews": [[lena.pk, 3], [omar.pk, 2]]},
        details={
            "words": 40,
            "per_review": [{"review": lena.pk, "density": 0.25}],
            "flags": [
                {
                    "id": 7,
                    "review": lena.pk,
                    "severity": "major",
                    "category": "instrument-not-present",
                    "quoted_text": "<script>alert('sitar')</script>",
                    "cost": 0.25,
                }
            ],
        },
    )
    # An older version of a function: history, not the current value.
    factories.RewardValueFactory(
        generation=generation, function="format", function_version=0, value=0.0
    )
    profile = factories.RewardProfileFactory(
        name="mix", weights={"format": 2.0, "hallucination_penalty": 1.0, "preference": 1.0}
    )
    factories.CompositeRewardFactory(generation=generation, profile=profile, value=1.75)
    return {"generation": generation, "lena": lena, "omar": omar, "profile": profile}


def _breakdown_html(user: Any, generation: Generation) -> str:
    response = client_for(user).get(reverse("generation_rewards", args=[generation.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_breakdown_shows_each_value_with_its_definition(auditor_user, scored) -> None:
    html = _breakdown_html(auditor_user, scored["generation"])
    assert 'id="reward-structured_thinking"' in html
    assert "Definition of structured_thinking." in html
    assert "0.500" in html and "-0.250" in html


def test_the_breakdown_lists_matched_and_unmatched_categories(auditor_user, scored) -> None:
    why = reward_breakdown(scored["generation"], functions=reward_functions())["rewards"][1]["why"]
    assert [(c["name"], c["credit"]) for c in why["categories"]] == [("BPM", 1.0), ("Key", 0.0)]
    assert why["lists"] == [("Matched", ["BPM"]), ("Unmatched", ["Key"])]
    html = _breakdown_html(auditor_user, scored["generation"])
    assert '<tr class="unmatched"><td>Key</td><td>D minor</td><td>F major</td>' in html


def test_the_flags_that_cost_it_link_to_their_review(auditor_user, scored) -> None:
    html = _breakdown_html(auditor_user, scored["generation"])
    assert reverse("review_detail", args=[scored["lena"].pk]) in html
    assert "instrument-not-present" in html


def test_a_quote_with_markup_is_shown_as_text(auditor_user, scored) -> None:
    html = _breakdown_html(auditor_user, scored["generation"])
    assert "<script>alert(" not in html
    assert "&lt;script&gt;alert(&#x27;sitar&#x27;)&lt;/script&gt;" in html


def test_provenance_names_the_reviews_and_the_fields_without_agreement(
    auditor_user, scored
) -> None:
    provenance = reward_breakdown(scored["generation"], functions=reward_functions())["rewards"][1][
        "provenance"
    ]
    assert provenance["reviews"] == [
        {"id": scored["lena"].pk, "version": 3},
        {"id": scored["omar"].pk, "version": 2},
    ]
    key = next(m for m in provenance["metadata"] if m["field"] == "key")
    assert (key["agreed"], key["status_label"], key["dissenters"]) == (
        False,
        "no agreement",
        [scored["omar"].pk],
    )
    html = _breakdown_html(auditor_user, scored["generation"])
    assert 'class="no-agreement" data-status="no_agreement"' in html


def test_functions_without_a_value_say_why(scored) -> None:
    reasons = {
        r["name"]: r["reason"]
        for r in reward_breakdown(scored["generation"], functions=reward_functions())[
            "not_applicable"
        ]
    }
    assert set(reasons) == {"accuracy", "step_validity", "preference"}
    assert reasons["accuracy"].startswith("Not a question prompt")
    assert reasons["preference"].startswith("No sibling ranking")


def test_an_unreviewed_question_output_says_what_is_missing() -> None:
    prompt = factories.PromptTemplateFactory(answer_field="key")
    generation = factories.GenerationFactory(prompt=prompt)
    reasons = {
        r["name"]: r["reason"]
        for r in reward_breakdown(generation, functions=reward_functions())["not_applicable"]
    }
    assert reasons["accuracy"].startswith("No verified gold answer")
    assert "“key”" in reasons["accuracy"]
    assert reasons["structured_thinking"].startswith("A question prompt")
    assert reasons["hallucination_penalty"] == "No submitted review of this output yet."
    assert reasons["format"].startswith("Not computed yet")


def test_older_function_versions_are_history(scored) -> None:
    breakdown = reward_breakdown(scored["generation"], functions=reward_functions())
    assert [(r["name"], r["version"], r["value"]) for r in breakdown["history"]] == [
        ("format", 0, 0.0)
    ]
    assert next(r for r in breakdown["rewards"] if r["name"] == "format")["value"] == 1.0


def test_composites_show_weight_times_value_per_component(scored) -> None:
    composite = next(
        c
        for c in reward_breakdown(scored["generation"], functions=reward_functions())["composites"]
        if c["profile"].name == "mix"
    )
    assert [(c["function"], c["contribution"]) for c in composite["components"]] == [
        ("format", 2.0),
        ("hallucination_penalty", -0.25),
        ("preference", None),
    ]
    assert (composite["sum"], composite["value"], composite["stale"]) == (1.75, 1.75, False)


def test_a_stored_composite_that_no_longer_matches_its_components_is_marked_stale(
    auditor_user, scored
) -> None:
    generation = scored["generation"]
    generation.composite_rewards.update(value=9.0)
    html = _breakdown_html(auditor_user, generation)
    assert "it differs from the sum of the current values: a recompute is pending" in html


def test_the_breakdown_reads_every_part_of_the_real_functions_explanations(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(modeling.rewards, "REWARDS", _REAL_REWARDS)
    raw = "<think>Step 1: 118 BPM.</think><answer>A synth-pop song in A minor at 118 BPM.</answer>"
    reviews = [
        {
            "id": 7,
            "step_grades": {"1": "correct"},
            "flags": [
                {
                    "id": 1,
                    "severity": "major",
                    "category": "wrong-key-mode",
                    "quoted_text": "A minor",
                }
            ],
        },
        {"id": 8, "step_grades": {"1": "unverifiable"}, "flags": []},
    ]
    scores = {
        "structured_thinking": _REAL_REWARDS["structured_thinking"].score(
            raw, {"tempo_bpm": 120, "key": "C major"}
        ),
        "hallucination_penalty": _REAL_REWARDS["hallucination_penalty"].score(raw, reviews),
        "step_validity": _REAL_REWARDS["step_validity"].score(raw, reviews),
        "format": _REAL_REWARDS["format"].score(raw),
    }
    generation = factories.GenerationFactory()
    for name, score in scores.items():
        factories.RewardValueFactory(
            generation=generation,
            function=name,
            function_version=_REAL_REWARDS[name].version,
            value=score.value,
            details=score.details,
        )
    rewards = {
        r["name"]: r["why"]
        for r in reward_breakdown(generation, functions=reward_functions())["rewards"]
    }
    assert set(rewards) == set(scores)
    assert {name: why["extra"] for name, why in rewards.items()} == {name: [] for name in scores}
    assert [f["quoted_text"] for f in rewards["hallucination_penalty"]["flags"]] == ["A minor"]
    assert rewards["step_validity"]["steps"][0]["unverifiable"] == 1


def test_malformed_details_are_shown_not_crashed_on(auditor_user) -> None:
    generation = factories.GenerationFactory()
    factories.RewardValueFactory(
        generation=generation,
        function="hallucination_penalty",
        value=-0.1,
        details={"flags": [{"quoted_text": "no review id"}, "not a dict"], "mystery": {"a": 1}},
        provenance={"reviews": [["x"], 5], "metadata": {"key": "D minor"}},
    )
    factories.RewardValueFactory(
        generation=generation, function="step_validity", value=0.5, details=["not", "a", "dict"]
    )
    html = _breakdown_html(auditor_user, generation)
    assert "“no review id”" in html
    assert "mystery" in html and "{&quot;a&quot;: 1}" in html


def test_the_breakdown_reads_in_a_fixed_number_of_queries(
    scored, django_assert_num_queries
) -> None:
    generation = Generation.objects.select_related("prompt").get(pk=scored["generation"].pk)
    with django_assert_num_queries(4):
        reward_breakdown(generation, functions=reward_functions())


def test_the_generation_page_links_to_the_rewards_only_for_those_who_may_read_them(
    expert_user, auditor_user, scored
) -> None:
    url = reverse("generation_detail", args=[scored["generation"].pk])
    link = reverse("generation_rewards", args=[scored["generation"].pk])
    assert link in client_for(auditor_user).get(url).content.decode()
    assert link not in client_for(expert_user).get(url).content.decode()


def test_experts_cannot_read_a_breakdown(expert_user, scored) -> None:
    url = reverse("generation_rewards", args=[scored["generation"].pk])
    assert client_for(expert_user).get(url).status_code == 403


# --- distributions -------------------------------------------------------------------------------


@pytest.fixture
def two_versions() -> dict[str, Any]:
    """Hand-checkable values: version A has three outputs, version B one."""
    a = factories.ModelVersionFactory(name="alpha")
    b = factories.ModelVersionFactory(name="beta")
    outputs_a = [factories.GenerationFactory(model_version=a) for _ in range(3)]
    output_b = factories.GenerationFactory(model_version=b)
    for generation, fmt, structured, penalty in zip(
        outputs_a, (1.0, 1.0, 0.0), (0.26, 0.56, 0.51), (-1.0, -0.48, 0.0), strict=True
    ):
        factories.RewardValueFactory(generation=generation, function="format", value=fmt)
        factories.RewardValueFactory(
            generation=generation, function="structured_thinking", value=structured
        )
        factories.RewardValueFactory(
            generation=generation, function="hallucination_penalty", value=penalty
        )
    factories.RewardValueFactory(generation=output_b, function="format", value=0.0)
    # An older version of format is not part of the current distribution.
    factories.RewardValueFactory(
        generation=output_b, function="format", function_version=0, value=1.0
    )
    profile = factories.RewardProfileFactory(name="mix")
    for generation, value in zip(outputs_a, (0.5, 1.5, 2.5), strict=True):
        factories.CompositeRewardFactory(generation=generation, profile=profile, value=value)
    return {"a": a, "b": b, "profile": profile}


def _series(distributions: dict[str, Any], key: str, version: str) -> dict[str, Any]:
    chart = next(
        c for c in distributions["functions"] + distributions["composites"] if c["key"] == key
    )
    return next(s for s in chart["series"] if s["model_version"] == version)


def _nonzero(counts: list[int]) -> dict[int, int]:
    return {i: n for i, n in enumerate(counts) if n}


def test_function_histograms_use_fixed_bins_over_the_functions_range(two_versions) -> None:
    d = reward_distributions(functions=reward_functions(), bins=20)
    assert _nonzero(_series(d, "format", "alpha")["counts"]) == {0: 1, 19: 2}
    assert _nonzero(_series(d, "format", "beta")["counts"]) == {0: 1}
    # 0.26 → bin 5, 0.51 → 10, 0.56 → 11 (of 0.05 each over [0, 1]).
    assert _nonzero(_series(d, "structured_thinking", "alpha")["counts"]) == {
        5: 1,
        10: 1,
        11: 1,
    }
    # Over [-1, 0]: -1 → bin 0, -0.48 → 10, and 0 (the top) in the last bin.
    assert _nonzero(_series(d, "hallucination_penalty", "alpha")["counts"]) == {
        0: 1,
        10: 1,
        19: 1,
    }
    chart = next(c for c in d["functions"] if c["key"] == "hallucination_penalty")
    assert chart["labels"][0] == "-1.00–-0.95"


def test_summary_numbers_per_version_and_function(two_versions) -> None:
    d = reward_distributions(functions=reward_functions())
    a = _series(d, "structured_thinking", "alpha")
    assert (a["count"], a["min"], a["max"]) == (3, 0.26, 0.56)
    assert a["mean"] == pytest.approx((0.26 + 0.56 + 0.51) / 3)
    b = _series(d, "format", "beta")
    assert (b["count"], b["mean"], b["min"], b["max"]) == (1, 0.0, 0.0, 0.0)


def test_composites_bin_over_their_own_range(two_versions) -> None:
    d = reward_distributions(functions=reward_functions(), bins=4)
    key = f"profile-{two_versions['profile'].pk}"
    series = _series(d, key, "alpha")
    # [0.5, 2.5] in 4 bins of 0.5: 0.5 → 0, 1.5 → 2, 2.5 (the top) → 3.
    assert series["counts"] == [1, 0, 1, 1]
    assert series["mean"] == pytest.approx(1.5)
    chart = next(c for c in d["composites"] if c["key"] == key)
    assert (chart["lo"], chart["hi"]) == (0.5, 2.5)


def test_distributions_can_be_limited_to_some_versions(two_versions) -> None:
    d = reward_distributions(functions=reward_functions(), model_version_ids=[two_versions["b"].pk])
    assert [v["name"] for v in d["model_versions"]] == ["beta"]


def test_distributions_are_aggregated_in_the_database(
    two_versions, django_assert_num_queries
) -> None:
    # Versions, function bins, active profiles, composite ranges, composite bins: whatever the rows.
    with django_assert_num_queries(5):
        reward_distributions(functions=reward_functions())


def test_the_overview_page_passes_chart_data_as_json_and_lists_the_numbers(
    auditor_user, two_versions
) -> None:
    response = client_for(auditor_user).get(reverse("reward_overview"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<script id="reward-chart-data" type="application/json">' in html
    assert 'data-reward-chart="structured_thinking"' in html
    assert 'data-version="alpha" data-function="structured_thinking"' in html
    assert "workbench/rewards.js" in html and "vendor/chartjs/chart.umd.min.js" in html


def test_the_overview_filter_answers_htmx_with_the_results_only(auditor_user, two_versions) -> None:
    response = client_for(auditor_user).get(
        reverse("reward_overview"), {"version": [two_versions["b"].pk]}, **HTMX
    )
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="reward-results">')
    assert "beta" in html and "alpha" not in html
    assert "HX-Request" in response["Vary"]


def test_a_version_name_with_markup_stays_inert_in_the_chart_data(auditor_user) -> None:
    version = factories.ModelVersionFactory(name="</script><b>x</b>")
    factories.RewardValueFactory(generation=factories.GenerationFactory(model_version=version))
    html = client_for(auditor_user).get(reverse("reward_overview")).content.decode()
    assert "</script><b>" not in html
    assert "\\u003C/script\\u003E\\u003Cb\\u003Ex" in html


# --- profiles: services --------------------------------------------------------------------------


def test_creating_a_profile_queues_its_composites_after_commit(
    admin_user, enqueued, django_capture_on_commit_callbacks
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        profile = reward_profile_create(
            name="expert-heavy",
            description=" Flags count double. ",
            weights={"format": 1, "hallucination_penalty": "2", "preference": 0},
            is_active=True,
            user=admin_user,
        )
    assert (profile.version, profile.description, profile.created_by) == (
        1,
        "Flags count double.",
        admin_user,
    )
    assert profile.weights == {"format": 1.0, "hallucination_penalty": 2.0}
    assert enqueued == [profile.pk]


def test_editing_an_unused_profile_changes_it_in_place(admin_user, enqueued) -> None:
    profile = factories.RewardProfileFactory(name="draft")
    saved = reward_profile_update(
        profile=profile, description="d", weights={"accuracy": 3}, is_active=False, user=admin_user
    )
    assert saved.pk == profile.pk
    profile.refresh_from_db()
    assert (profile.version, profile.weights, profile.is_active) == (1, {"accuracy": 3.0}, False)


def test_editing_a_profile_a_run_used_creates_the_next_version(
    admin_user, enqueued, django_capture_on_commit_callbacks
) -> None:
    v1 = factories.RewardProfileFactory(name="grpo", weights={"format": 1.0})
    factories.RewardProfileFactory(name="grpo", version=2, weights={"format": 2.0})
    _frozen(v1)
    assert reward_profile_is_frozen(v1)
    with django_capture_on_commit_callbacks(execute=True):
        saved = reward_profile_update(
            profile=v1, description="", weights={"format": 5}, is_active=True, user=admin_user
        )
    assert (saved.name, saved.version, saved.weights) == ("grpo", 3, {"format": 5.0})
    v1.refresh_from_db()
    assert v1.weights == {"format": 1.0}
    assert enqueued == [saved.pk]
    # The new version takes over the composites; the older ones keep what they stored.
    assert list(
        RewardProfile.objects.filter(name="grpo", is_active=True).values_list("version", flat=True)
    ) == [3]


def test_saving_unchanged_weights_queues_nothing(
    admin_user, enqueued, django_capture_on_commit_callbacks
) -> None:
    profile = factories.RewardProfileFactory(weights={"format": 1.0}, is_active=True)
    with django_capture_on_commit_callbacks(execute=True):
        reward_profile_update(
            profile=profile,
            description="new words",
            weights={"format": 1},
            is_active=True,
            user=None,
        )
    assert enqueued == []


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"fluency": 1}, "Unknown reward function(s): fluency"),
        ({"format": 11}, "use a number from -10 to 10"),
        ({"format": float("nan")}, "use a number from -10 to 10"),
        ({"format": float("inf")}, "use a number from -10 to 10"),
        ({"format": "lots"}, "must be a number"),
        ({"format": 0, "accuracy": ""}, "at least one reward function a non-zero weight"),
        ({}, "at least one reward function a non-zero weight"),
    ],
)
def test_invalid_weights_are_refused_saying_what_to_fix(
    admin_user, weights: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message.replace("(", r"\(").replace(")", r"\)")):
        reward_profile_create(
            name="bad", description="", weights=weights, is_active=True, user=admin_user
        )
    assert not RewardProfile.objects.filter(name="bad").exists()


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the profile a name"),
        ("two words", "may only hold letters, digits"),
        ("x" * 81, "use at most 80"),
        ("paper", "A profile called 'paper' exists already"),
    ],
)
def test_invalid_names_are_refused_saying_what_to_fix(admin_user, name: str, message: str) -> None:
    RewardProfile.objects.get_or_create(
        name="paper", version=1, defaults={"weights": {"format": 1}}
    )
    with pytest.raises(ValidationFailed, match=message):
        reward_profile_create(
            name=name, description="", weights={"format": 1}, is_active=True, user=admin_user
        )


# --- profiles: pages -----------------------------------------------------------------------------


def test_the_profile_list_shows_weights_frozen_versions_and_history(admin_user) -> None:
    v1 = factories.RewardProfileFactory(name="grpo", weights={"format": 1.5})
    factories.RewardProfileFactory(name="grpo", version=2, weights={"format": 2.0, "accuracy": 1})
    _frozen(v1)
    html = client_for(admin_user).get(reverse("reward_profile_list")).content.decode()
    assert 'id="profile-grpo"' in html
    assert "Version history (1 older)" in html
    assert f'<div class="profile-version" id="profile-{v1.pk}">' in html
    section = html.split(f'id="profile-{v1.pk}"')[1]
    assert '<span class="pill frozen">frozen</span>' in section.split("</h3>")[0]
    assert '<td class="num">1.5</td>' in html
    assert reverse("reward_profile_edit", args=[v1.pk]) in html


def test_auditors_read_profiles_but_are_offered_no_edits(auditor_user) -> None:
    profile = factories.RewardProfileFactory(name="grpo")
    html = client_for(auditor_user).get(reverse("reward_profile_list")).content.decode()
    assert 'id="profile-grpo"' in html
    assert reverse("reward_profile_edit", args=[profile.pk]) not in html
    assert reverse("reward_profile_new") not in html
    response = client_for(auditor_user).post(
        reverse("reward_profile_edit", args=[profile.pk]), {"weight_format": 2}
    )
    assert response.status_code == 403


def test_the_new_profile_form_offers_one_weight_per_function(admin_user) -> None:
    html = client_for(admin_user).get(reverse("reward_profile_new")).content.decode()
    for name in NAMES:
        assert f'name="weight_{name}"' in html
    assert "Definition of hallucination_penalty." in html


def test_an_admin_creates_a_profile_from_the_form(admin_user, enqueued) -> None:
    response = client_for(admin_user).post(
        reverse("reward_profile_new"),
        {
            "name": "flags-only",
            "description": "x",
            "is_active": "on",
            "weight_hallucination_penalty": "1.5",
        },
    )
    assert response.status_code == 302
    profile = RewardProfile.objects.get(name="flags-only")
    assert (profile.version, profile.weights, profile.is_active) == (
        1,
        {"hallucination_penalty": 1.5},
        True,
    )


def test_the_form_shows_the_services_refusal(admin_user) -> None:
    response = client_for(admin_user).post(
        reverse("reward_profile_new"), {"name": "zeros", "weight_format": "0"}
    )
    assert response.status_code == 400
    assert "at least one reward function a non-zero weight" in response.content.decode()


def test_the_form_refuses_an_out_of_range_weight_by_field(admin_user) -> None:
    response = client_for(admin_user).post(
        reverse("reward_profile_new"), {"name": "big", "weight_format": "12"}
    )
    assert response.status_code == 400
    assert "less than or equal to 10" in response.content.decode()
    assert not RewardProfile.objects.filter(name="big").exists()


def test_the_edit_page_of_a_frozen_profile_says_it_makes_a_new_version(admin_user) -> None:
    profile = factories.RewardProfileFactory(name="grpo", weights={"format": 1.0})
    _frozen(profile)
    html = (
        client_for(admin_user)
        .get(reverse("reward_profile_edit", args=[profile.pk]))
        .content.decode()
    )
    assert 'id="frozen-note"' in html
    assert "saving creates" in html and "grpo v2" in html
    assert 'name="weight_format"' in html and 'value="1.0"' in html


def test_saving_a_frozen_profile_from_the_form_redirects_with_the_new_version(
    admin_user, enqueued
) -> None:
    profile = factories.RewardProfileFactory(name="grpo", weights={"format": 1.0})
    _frozen(profile)
    client = client_for(admin_user)
    response = client.post(
        reverse("reward_profile_edit", args=[profile.pk]),
        {"description": "", "is_active": "on", "weight_format": "2"},
        follow=True,
    )
    assert "Saved as grpo v2: grpo v1 was used by a training run" in response.content.decode()
    assert RewardProfile.objects.get(name="grpo", version=2).weights == {"format": 2.0}
