"""``manage.py import_songs PATH``: a folder of audio files or a JSON Lines manifest."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from annotations.songs.manifest import ManifestError, manifest_read
from annotations.songs.services.song_import import ImportResult, SongMetadata, song_import_file
from annotations.songs.services.storage import storage_sweep_orphans


class Command(BaseCommand):
    help = (
        "Import songs from a folder of audio files (every file, checked by content) or from a "
        "JSON Lines manifest (one object per song: path plus title, artist, album, year, genres, "
        "cultures, languages, licence, source, tags). Exits 1 if anything was rejected."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path)
        parser.add_argument("--genre", action="append", default=[], help="For folder imports.")
        parser.add_argument("--culture", action="append", default=[], help="For folder imports.")
        parser.add_argument("--language", action="append", default=[], help="For folder imports.")
        parser.add_argument("--licence", default="")
        parser.add_argument("--source", default="")
        parser.add_argument("--tag", action="append", default=[])

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.exists():
            raise CommandError(
                f"{path} does not exist: give a folder of audio files or a .jsonl manifest"
            )
        sweep = storage_sweep_orphans()
        if sweep.removed:
            self.stderr.write(
                f"Removed {len(sweep.removed)} orphaned file(s) left by an interrupted import"
            )
        if path.is_dir():
            defaults = SongMetadata(
                genres=options["genre"],
                cultures=options["culture"],
                languages=options["language"],
                licence=options["licence"],
                source=options["source"],
                tags=options["tag"],
            )
            items: list[Any] = [
                (file, file.relative_to(path).as_posix(), defaults)
                for file in sorted(path.rglob("*"))
                if file.is_file()
                and not any(part.startswith(".") for part in file.relative_to(path).parts)
            ]
        else:
            items = [
                entry
                if isinstance(entry, ManifestError)
                else (entry.path, entry.path.name, entry.metadata)
                for entry in manifest_read(path)
            ]
        results: list[ImportResult] = []
        bar = tqdm(items, unit="file", desc="Importing", file=sys.stderr, disable=None)
        for item in bar:
            if isinstance(item, ManifestError):
                results.append(ImportResult(f"line {item.line}", "rejected", item.message))
                continue
            file, name, metadata = item
            bar.set_postfix_str(name[-40:])
            results.append(song_import_file(path=file, filename=name, metadata=metadata))
        self._summarise(results)
        if any(result.outcome == "rejected" for result in results):
            sys.exit(1)

    def _summarise(self, results: list[ImportResult]) -> None:
        for result in results:
            if result.outcome != "added" or result.exceeds_model_window:
                self.stdout.write(f"{result.outcome.upper():9} {result.message}")
        counts = {
            kind: sum(r.outcome == kind for r in results)
            for kind in ("added", "duplicate", "rejected")
        }
        self.stdout.write(
            f"Imported {len(results)} item(s): {counts['added']} added, "
            f"{counts['duplicate']} duplicate(s), {counts['rejected']} rejected"
        )
