"""Plain audio-file helpers (no database): hashing and probing by decoding the content."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import soundfile

CHUNK_BYTES = 1024 * 1024


def sha256_of_stream(stream: BinaryIO) -> str:
    """Hash a readable binary stream from its current position to the end, in 1 MiB chunks."""
    digest = hashlib.sha256()
    for chunk in iter(lambda: stream.read(CHUNK_BYTES), b""):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_of_path(path: Path) -> str:
    with path.open("rb") as stream:
        return sha256_of_stream(stream)


@dataclass(frozen=True)
class AudioProbe:
    format: str
    duration_seconds: float
    sample_rate: int
    channels: int


class NotAudioError(ValueError):
    """The content could not be decoded as audio, whatever the file is called."""


def probe_audio(path: Path) -> AudioProbe:
    """Read the container header with libsndfile; raises NotAudioError with the decoder's reason."""
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise NotAudioError(f"not decodable as audio: {exc}") from exc
    if info.samplerate <= 0 or info.frames <= 0:
        raise NotAudioError("the file decodes to no audio samples")
    return AudioProbe(
        format=info.format.lower(),
        duration_seconds=info.frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
    )
