"""Controlled vocabularies shared by song metadata, expert profiles and (later) verified metadata.

They are tables rather than free-text lists so that routing ("which experts know this song's
tradition?") and filtering at 100,000 songs are joins on indexed keys, on PostgreSQL and SQLite alike.
"""

from django.db import models


class VocabularyTerm(models.Model):
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=120)

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Genre(VocabularyTerm):
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="subgenres"
    )


class Culture(VocabularyTerm):
    """A musical culture or tradition, with the region it belongs to (e.g. Hindustani / South Asia)."""

    region = models.CharField(max_length=120, db_index=True)
    description = models.TextField(blank=True)


class Language(VocabularyTerm):
    """Slug is the ISO 639 code (``en``, ``yo``, ``pt-br``)."""


class Instrument(VocabularyTerm):
    family = models.CharField(
        max_length=40,
        blank=True,
        help_text="Hornbostel–Sachs family: idiophone, membranophone, chordophone, aerophone, "
        "electrophone, or voice.",
    )
    culture = models.ForeignKey(
        Culture,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="Set for regional instruments, whose names experts check.",
    )
