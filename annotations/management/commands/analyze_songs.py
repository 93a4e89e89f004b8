"""``manage.py analyze_songs [--all | ID ...]``: queue (or run here) the music analysis."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotations.core.errors import ValidationFailed
from annotations.songs.models import Song, SongAnalysis
from annotations.songs.services.analysis import (
    current_analyser_version,
    song_analysis_request,
    song_analysis_requeue_stuck,
    song_analysis_run,
)


class Command(BaseCommand):
    help = (
        "Analyse songs with the current analyser: tempo, beats, key, sections, loudness, peaks, "
        "spectrogram. Songs already analysed by this analyser version are skipped unless --force. "
        "By default the work is queued for the audio workers; --now runs it in this process."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("song_ids", nargs="*", type=int, metavar="ID")
        parser.add_argument("--all", action="store_true", help="Every song.")
        parser.add_argument("--force", action="store_true", help="Recompute even if current.")
        parser.add_argument("--now", action="store_true", help="Run here with a progress bar.")
        parser.add_argument(
            "--stuck",
            type=float,
            metavar="MINUTES",
            help="Queue again analyses queued or running without progress for this long "
            "(after a worker machine died); other arguments are ignored.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["stuck"] is not None:
            requeued = song_analysis_requeue_stuck(older_than=timedelta(minutes=options["stuck"]))
            for analysis in requeued:
                self.stdout.write(f"Queued again: song #{analysis.song_id} ({analysis.song})")
            self.stdout.write(f"{len(requeued)} stuck analysis(es) queued again")
            return
        ids: list[int] = options["song_ids"]
        if not ids and not options["all"]:
            raise CommandError("Name song IDs, or pass --all")
        songs = Song.objects.order_by("id")
        if ids:
            songs = songs.filter(pk__in=ids)
            missing = sorted(set(ids) - set(songs.values_list("pk", flat=True)))
            if missing:
                raise CommandError(f"No song with ID {', '.join(map(str, missing))}")
        version = current_analyser_version()
        failures = 0
        queued = skipped = 0
        for song in tqdm(list(songs), unit="song", desc="Analysing", file=sys.stderr, disable=None):
            try:
                analysis = song_analysis_request(song=song, force=options["force"])
            except ValidationFailed as exc:
                self.stderr.write(exc.message)
                failures += 1
                continue
            if analysis.status == SongAnalysis.Status.SUCCEEDED and not options["force"]:
                skipped += 1
                continue
            if options["now"]:
                analysis = song_analysis_run(analysis=analysis)
                if analysis.status == SongAnalysis.Status.FAILED:
                    failures += 1
                    self.stderr.write(f"Song #{song.pk}: {analysis.error}")
            queued += 1
        verb = "analysed" if options["now"] else "queued"
        self.stdout.write(
            f"Analyser {version}: {queued} {verb}, {skipped} already current, {failures} failed"
        )
        if failures:
            sys.exit(1)
