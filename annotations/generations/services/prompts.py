"""Prompt templates are immutable once written: an edit is saved as the next version."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Max

from annotations.generations.models import PromptTemplate


def prompt_full_text(prompt: PromptTemplate) -> str:
    """What the model is asked with this prompt: its text, plus the paper's thinking instruction
    when it asks for thinking (``modeling.prompts.full_text``: one text for the rows, the library
    and the benchmarks)."""
    from modeling.prompts import full_text

    return full_text(prompt.text, thinking=prompt.thinking)


@transaction.atomic
def prompt_template_save_version(*, prompt: PromptTemplate, actor: Any) -> PromptTemplate:
    """Save ``prompt``'s edited text/thinking as a new version of its name and retire the others.

    Generations point at the exact version they were asked with, so old versions are never
    overwritten; they stay, inactive, for provenance. ``prompt`` may be an edited, unsaved copy of
    an existing row; it becomes the new row.
    """
    latest = (
        PromptTemplate.objects.select_for_update()
        .filter(name=prompt.name)
        .aggregate(latest=Max("version"))["latest"]
        or 0
    )
    prompt.pk = None
    prompt._state.adding = True
    prompt.version = latest + 1
    prompt.created_by = actor
    prompt.full_clean()
    prompt.save()
    if prompt.is_active:
        PromptTemplate.objects.filter(name=prompt.name).exclude(pk=prompt.pk).update(
            is_active=False
        )
    return prompt
