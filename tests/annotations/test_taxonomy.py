from __future__ import annotations

from django.urls import reverse

from annotations.reviews.models import ErrorCategory
from tests.helpers import client_for

REQUIRED_HALLUCINATION_CODES = {
    "instrument-not-present",
    "instrument-missed",
    "wrong-tempo-meter",
    "wrong-key-mode",
    "wrong-chords-harmony",
    "wrong-structure-timestamps",
    "wrong-lyrics-language",
    "wrong-vocal-description",
    "wrong-production-mix",
    "genre-mislabel",
    "reasoning-unsupported",
    "answer-contradicts-reasoning",
}
REQUIRED_CULTURAL_CODES = {
    "misattributed-tradition",
    "wrong-regional-instrument-name",
    "western-theory-imposed",
    "stereotyping-language",
}


def test_the_migration_seeds_every_required_category(db) -> None:
    by_kind = {
        kind: set(ErrorCategory.objects.filter(kind=kind).values_list("code", flat=True))
        for kind in ErrorCategory.Kind.values
    }
    assert by_kind["hallucination"] >= REQUIRED_HALLUCINATION_CODES
    assert by_kind["cultural"] >= REQUIRED_CULTURAL_CODES


def test_every_category_has_a_description_for_experts(db) -> None:
    assert not ErrorCategory.objects.filter(description="").exists()


def test_the_taxonomy_page_shows_descriptions(expert_user) -> None:
    category = ErrorCategory.objects.get(code="western-theory-imposed")
    response = client_for(expert_user).get(reverse("taxonomy"))
    assert category.name in response.content.decode()
    assert "maqam" in response.content.decode()


def test_a_retired_category_leaves_the_page(expert_user) -> None:
    ErrorCategory.objects.filter(code="genre-mislabel").update(is_active=False)
    response = client_for(expert_user).get(reverse("taxonomy"))
    assert 'id="genre-mislabel"' not in response.content.decode()
    assert 'id="instrument-missed"' in response.content.decode()
