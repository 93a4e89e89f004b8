"""Keeping storage and database in step: files that no row names are orphans of crashed work."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from annotations.songs.models import AudioFile, SongAnalysis

log = logging.getLogger(__name__)

# Younger files may belong to an import that is still running in another process.
DEFAULT_GRACE_SECONDS = 15 * 60


@dataclass(frozen=True)
class SweepReport:
    removed: list[str]
    kept: int


def storage_sweep_orphans(*, grace_seconds: float = DEFAULT_GRACE_SECONDS) -> SweepReport:
    """Delete stored audio and analysis files that no row refers to and that are older than grace.

    A process killed between storing a file and committing its row leaves such a file; this is
    what makes "a crash mid-import leaves no orphan" true. ``import_songs`` runs it first.
    """
    root = Path(settings.MEDIA_ROOT)
    cutoff = time.time() - grace_seconds
    audio_names = set(AudioFile.objects.values_list("file", flat=True))
    analysis_prefixes = {
        f"analysis/{sha[:2]}/{sha}/{version}"
        for sha, version in SongAnalysis.objects.values_list(
            "audio_file__sha256", "analyser_version"
        )
    }
    removed: list[str] = []
    kept = 0
    for top in ("audio", "analysis"):
        for dirpath, _dirnames, filenames in os.walk(root / top):
            for filename in filenames:
                path = Path(dirpath) / filename
                name = path.relative_to(root).as_posix()
                referenced = (
                    name in audio_names
                    if top == "audio"
                    else str(Path(name).parent.as_posix()) in analysis_prefixes
                )
                if referenced or path.stat().st_mtime > cutoff:
                    kept += 1
                    continue
                path.unlink(missing_ok=True)
                removed.append(name)
                log.warning("removed orphaned stored file %s", name)
    return SweepReport(removed=removed, kept=kept)
