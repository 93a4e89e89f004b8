"""The one way in to this room's objects named in URLs (see annotations.core.permissions)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from annotations.core.permissions import require_perm as _require
from annotations.songs.models import Song


def access_song_for_user(user: Any, pk: int, *, write: bool = False) -> Song:
    _require(user, "manage_songs" if write else "view_song")
    try:
        return Song.objects.get(pk=pk)
    except Song.DoesNotExist:
        raise Http404("No such song.") from None
