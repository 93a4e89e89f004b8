"""Small real audio files in every accepted format, written with soundfile (libsndfile)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

# (suffix, libsndfile format, subtype, sample rate)
FORMATS = {
    "wav": ("WAV", "PCM_16", 44100),
    "flac": ("FLAC", "PCM_16", 44100),
    "ogg": ("OGG", "VORBIS", 44100),
    "opus": ("OGG", "OPUS", 48000),
    "mp3": ("MP3", "MPEG_LAYER_III", 44100),
    "aiff": ("AIFF", "PCM_16", 44100),
}


def write_tone(
    path: Path, *, fmt: str = "wav", seconds: float = 2.0, freq: float = 440.0, channels: int = 1
) -> Path:
    """A decaying plucked tone per beat at 120 BPM: real audio, distinct per ``freq``."""
    container, subtype, rate = FORMATS[fmt]
    t = np.arange(int(seconds * rate)) / rate
    envelope = np.exp(-6 * (t % 0.5))
    signal = (0.4 * envelope * np.sin(2 * np.pi * freq * t)).astype("float32")
    data = np.stack([signal] * channels, axis=1) if channels > 1 else signal
    soundfile.write(str(path), data, rate, format=container, subtype=subtype)
    return path
