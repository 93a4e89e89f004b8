"""Audio as the model must hear it: 16 kHz mono float32, at most the first 20 minutes.

The processor neither resamples raw arrays (a 44.1 kHz array silently gives the wrong number of
audio tokens) nor says where it cut a long file, so both happen here, explicitly, and the part heard
is recorded with the generation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from math import gcd
from pathlib import Path

import numpy as np

from modeling.config import MAX_AUDIO_SECONDS, SAMPLE_RATE, WINDOW_SECONDS


class AudioPreparationError(Exception):
    """The file cannot be turned into model input (missing, not audio, empty)."""


@dataclass(frozen=True)
class PreparedAudio:
    samples: np.ndarray  # float32, mono, SAMPLE_RATE
    source_sample_rate: int
    source_channels: int
    source_seconds: float
    heard_start: float
    heard_end: float

    @property
    def heard_seconds(self) -> float:
        return self.heard_end - self.heard_start

    @property
    def truncated(self) -> bool:
        return self.source_seconds > self.heard_end + 1e-6

    @property
    def windows(self) -> int:
        """30-second windows the processor will make (each becomes 750 audio tokens)."""
        return max(1, math.ceil(len(self.samples) / (SAMPLE_RATE * WINDOW_SECONDS)))

    def heard(self) -> dict[str, float | bool]:
        return {
            "start": self.heard_start,
            "end": self.heard_end,
            "source_seconds": self.source_seconds,
            "truncated": self.truncated,
        }


def to_model_rate(samples: np.ndarray, source_rate: int) -> np.ndarray:
    """Mono float32 at 16 kHz. ``samples`` is (frames,) or (frames, channels)."""
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    samples = samples.astype(np.float32, copy=False)
    if source_rate != SAMPLE_RATE:
        from scipy.signal import resample_poly

        # Polyphase with the exact rational ratio (44100 → 16000 is 160/441): no drift in length.
        divisor = gcd(SAMPLE_RATE, source_rate)
        samples = resample_poly(samples, SAMPLE_RATE // divisor, source_rate // divisor).astype(
            np.float32
        )
    return samples


def prepare_audio(path: str | Path, *, max_seconds: float = MAX_AUDIO_SECONDS) -> PreparedAudio:
    """Decode ``path`` (WAV, FLAC, Ogg, MP3 via libsndfile), downmix, resample, cut at ``max_seconds``.

    Only the frames the model will hear are read, so a three-hour file costs what 20 minutes cost.
    """
    import soundfile

    try:
        info = soundfile.info(str(path))
        frames_heard = min(info.frames, int(max_seconds * info.samplerate))
        data, rate = soundfile.read(str(path), frames=frames_heard, dtype="float32", always_2d=True)
    except (OSError, RuntimeError, soundfile.LibsndfileError) as exc:
        raise AudioPreparationError(f"cannot decode {Path(path).name}: {exc}") from exc
    if len(data) == 0:
        raise AudioPreparationError(f"{Path(path).name} has no audio frames")
    samples = to_model_rate(data, rate)
    return PreparedAudio(
        samples=samples,
        source_sample_rate=int(rate),
        source_channels=int(info.channels),
        source_seconds=info.frames / info.samplerate,
        heard_start=0.0,
        heard_end=len(data) / rate,
    )
