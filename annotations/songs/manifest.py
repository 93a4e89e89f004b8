"""Reading a bulk-import manifest: JSON Lines, one song per line (``path`` plus metadata).

Each line is checked on its own: a malformed line becomes an error naming its line number and what
to fix, and the other lines still import.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from annotations.songs.services.song_import import SongMetadata

TEXT_FIELDS = ("title", "artist", "album", "licence", "source")
LIST_FIELDS = ("genres", "cultures", "languages", "tags")
ALLOWED_FIELDS = ("path", "year", *TEXT_FIELDS, *LIST_FIELDS)
# Singular spellings people write in catalogues, accepted as the list field.
ALIASES = {"genre": "genres", "culture": "cultures", "language": "languages", "tag": "tags"}


@dataclass(frozen=True)
class ManifestEntry:
    line: int
    path: Path
    metadata: SongMetadata


@dataclass(frozen=True)
class ManifestError:
    line: int
    message: str


def manifest_read(manifest: Path) -> Iterator[ManifestEntry | ManifestError]:
    """Yield an entry or an error per non-blank line; paths resolve relative to the manifest."""
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        yield ManifestError(
            0, f"{manifest.name} is not UTF-8 text ({exc.reason}); save it as UTF-8"
        )
        return
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            yield _entry(number, json.loads(text), manifest.parent)
        except json.JSONDecodeError as exc:
            yield ManifestError(
                number, f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})"
            )
        except ValueError as exc:
            yield ManifestError(number, f"line {number}: {exc}")


def _entry(number: int, data: Any, base: Path) -> ManifestEntry:
    if not isinstance(data, dict):
        raise ValueError(
            'each line must be one JSON object, like {"path": "song.flac", "title": "…"}'
        )
    data = {ALIASES.get(key, key): value for key, value in data.items()}
    unknown = sorted(set(data) - set(ALLOWED_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown field {unknown[0]!r}; allowed fields: {', '.join(ALLOWED_FIELDS)}"
        )
    raw_path = data.get("path")
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise ValueError('"path" is missing: give the audio file, relative to the manifest')
    path = Path(raw_path).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise ValueError(f"file not found: {raw_path}")
    metadata = SongMetadata()
    for name in TEXT_FIELDS:
        value = data.get(name, "")
        if value is None:
            value = ""
        if not isinstance(value, str | int | float):
            raise ValueError(f'"{name}" must be text')
        setattr(metadata, name, str(value))
    for name in LIST_FIELDS:
        value = data.get(name, [])
        if isinstance(value, str):
            value = value.split(",")
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f'"{name}" must be a list of text or a comma-separated text')
        setattr(metadata, name, [v.strip() for v in value if v.strip()])
    year = data.get("year")
    if year not in (None, ""):
        if isinstance(year, bool) or not isinstance(year, int | str) or not str(year).isdigit():
            raise ValueError('"year" must be a whole number such as 1972')
        if not 1000 <= int(year) <= 2100:
            raise ValueError(f'"year" {year} is outside 1000–2100')
        metadata.year = int(year)
    return ManifestEntry(number, path, metadata)
