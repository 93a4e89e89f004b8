"""Prompts are versioned: the library is seeded, and an admin's edit becomes the next version."""

from __future__ import annotations

import pytest
from django.urls import reverse

from annotations.generations.models import PromptTemplate
from annotations.generations.services.prompts import prompt_full_text
from modeling.prompts import LIBRARY
from tests import factories
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def test_the_migration_seeds_every_library_prompt_as_version_one() -> None:
    seeded = {p.name: p for p in PromptTemplate.objects.filter(version=1)}
    for spec in LIBRARY:
        assert seeded[spec.name].text == spec.text
        assert seeded[spec.name].thinking == spec.thinking
    assert prompt_full_text(seeded["full-caption-think"]).endswith(
        "Output the thinking process in <think> </think> and final answer in <answer> </answer>."
    )
    assert "(A) piano" in seeded["multiple-choice-lead-instrument"].text


def test_an_admin_edit_of_the_text_saves_a_new_version_and_keeps_the_old(admin_user) -> None:
    old = factories.PromptTemplateFactory(name="caption-x", text="Describe it.")
    factories.GenerationFactory(prompt=old)
    response = client_for(admin_user).post(
        reverse("admin:annotations_prompttemplate_change", args=[old.pk]),
        {"text": "Describe it in full detail.", "is_active": "on"},
    )
    assert response.status_code == 302, response.content[:800]
    old.refresh_from_db()
    assert (old.text, old.is_active) == ("Describe it.", False)
    new = PromptTemplate.objects.get(name="caption-x", version=2)
    assert (new.text, new.is_active, new.created_by) == (
        "Describe it in full detail.",
        True,
        admin_user,
    )


def test_switching_only_active_does_not_make_a_version(admin_user) -> None:
    prompt = factories.PromptTemplateFactory(name="caption-y", text="Describe it.")
    client_for(admin_user).post(
        reverse("admin:annotations_prompttemplate_change", args=[prompt.pk]),
        {"text": "Describe it."},
    )
    prompt.refresh_from_db()
    assert prompt.is_active is False
    assert PromptTemplate.objects.filter(name="caption-y").count() == 1


def test_an_edit_of_the_gold_answer_field_is_a_new_version(admin_user) -> None:
    """Accuracy rewards were scored against the old gold answer: it is never rewritten."""
    old = factories.PromptTemplateFactory(name="question-x", text="Which key? Answer briefly.")
    response = client_for(admin_user).post(
        reverse("admin:annotations_prompttemplate_change", args=[old.pk]),
        {
            "text": "Which key? Answer briefly.",
            "is_active": "on",
            "answer_field": "key",
            "answer_options": "[]",
        },
    )
    assert response.status_code == 302, response.content[:800]
    old.refresh_from_db()
    assert old.answer_field == ""
    assert PromptTemplate.objects.get(name="question-x", version=2).answer_field == "key"


def test_answer_fields_are_the_fields_experts_verify() -> None:
    from annotations.reviews.rules import METADATA_FIELDS

    assert set(PromptTemplate.AnswerField.values) == {field.name for field in METADATA_FIELDS}


def test_the_prompt_module_examples_hold() -> None:
    import doctest

    import modeling.prompts

    result = doctest.testmod(modeling.prompts)
    assert result.attempted > 0 and result.failed == 0
