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


# libsndfile's container names → the formats we accept, named as users know them. Anything else
# libsndfile can read (AU, VOC, raw PCM…) is refused: no expert's catalogue arrives that way.
SUPPORTED_CONTAINERS = {
    "WAV": "wav",
    "WAVEX": "wav",
    "RF64": "wav",
    "W64": "wav",
    "FLAC": "flac",
    "OGG": "ogg",
    "MP3": "mp3",
    "AIFF": "aiff",
}
SUPPORTED_FORMATS_TEXT = "WAV, FLAC, OGG/Vorbis, Opus, MP3 or AIFF"
# Seconds decoded at the start and at the end: a truncated or corrupted body fails here,
# which reading the header alone would not catch.
DECODE_CHECK_SECONDS = 1.0


def probe_audio(path: Path, *, decode_check: bool = False) -> AudioProbe:
    """Identify the audio by its content (never its name); raises NotAudioError saying why.

    With ``decode_check`` the first and last second are decoded too, so a file whose header is
    fine but whose body is cut short or damaged is refused before it is stored.
    """
    try:
        info = soundfile.info(str(path))
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise NotAudioError(f"the content is not decodable audio ({_reason(exc)})") from exc
    container = SUPPORTED_CONTAINERS.get(info.format)
    if container is None:
        raise NotAudioError(
            f"the content is {info.format_info or info.format} audio, which the workbench does "
            f"not take; use {SUPPORTED_FORMATS_TEXT}"
        )
    if info.samplerate <= 0 or info.frames <= 0:
        raise NotAudioError("the file decodes to no audio samples")
    audio_format = "opus" if container == "ogg" and info.subtype == "OPUS" else container
    if decode_check:
        _decode_edges(path, int(info.samplerate), int(info.frames))
    return AudioProbe(
        format=audio_format,
        duration_seconds=info.frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
    )


def _decode_edges(path: Path, sample_rate: int, frames: int) -> None:
    span = min(frames, max(1, int(DECODE_CHECK_SECONDS * sample_rate)))
    try:
        with soundfile.SoundFile(str(path)) as audio:
            head = audio.read(span, dtype="float32", always_2d=True)
            if frames > span:
                audio.seek(frames - span)
                tail = audio.read(span, dtype="float32", always_2d=True)
            else:
                tail = head
    except (soundfile.LibsndfileError, RuntimeError) as exc:
        raise NotAudioError(f"the audio stream is damaged ({_reason(exc)})") from exc
    if len(head) == 0 or len(tail) == 0:
        raise NotAudioError("the audio stream is cut short: its header promises more than it holds")


def _reason(exc: Exception) -> str:
    # libsndfile prefixes messages with the path; the user knows which file they sent.
    text = str(exc)
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text
