"""How the generations room answers the songs room's signals (connected in ``AppConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from annotations.generations.selectors import generation_list_for_song
from annotations.generations.services.generations import generation_hints_refresh
from annotations.songs.models import Song, SongAnalysis
from annotations.songs.signals import analysis_finished, song_page_sections

SONG_PAGE_GENERATIONS = 50


@receiver(analysis_finished, sender=SongAnalysis, dispatch_uid="generations.hints_on_analysis")
def refresh_hints_after_analysis(*, song: Song, facts: dict[str, Any], **_: Any) -> None:
    """The song's outputs are checked against what was just measured."""
    generation_hints_refresh(song=song, facts=facts)


@receiver(song_page_sections, sender=Song, dispatch_uid="generations.song_page")
def song_page_generations(*, song: Song, user: Any, **_: Any) -> dict[str, Any]:
    """The song page lists the song's generations the user may see (newest 50)."""
    return {
        "generations": list(generation_list_for_song(song=song, user=user)[:SONG_PAGE_GENERATIONS])
    }
