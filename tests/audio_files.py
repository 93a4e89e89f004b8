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


# Semitones above the tonic of each chord's root in I-IV-V-I, and of its major triad.
_CADENCE = (0, 5, 7, 0)
_TRIAD = (0, 4, 7)


def synthesise_song(
    *,
    seconds: float = 26.0,
    bpm: float = 96.0,
    tonic_midi: int = 57,
    rate: int = 44100,
    seed: int = 0,
) -> tuple[np.ndarray, dict]:
    """A small stereo song with a known beat and key: a drum kit in 4/4 and an I-IV-V-I cadence.

    Kick on beats 1 and 3, snare on 2 and 4, hi-hat on every eighth; a bass on each chord's root
    and a plucked triad re-struck on every beat, one chord per bar, in the major key of
    ``tonic_midi`` (57 = A). Returns ``(samples, truth)``: float32 samples shaped (frames, 2) and
    ``{"tempo_bpm", "beats", "key", "audio_seconds"}`` (beats in seconds, from 0).
    """
    rng = np.random.default_rng(seed)
    frames = int(seconds * rate)
    beat = 60.0 / bpm
    out = np.zeros((frames, 2), dtype=np.float64)

    def add(start: float, sound: np.ndarray, pan: float) -> None:
        first = round(start * rate)
        if first >= frames:
            return
        piece = sound[: frames - first]
        out[first : first + len(piece), 0] += piece * (1.0 - pan)
        out[first : first + len(piece), 1] += piece * pan

    def hz(midi: float) -> float:
        return 440.0 * 2 ** ((midi - 69) / 12)

    t = np.arange(int(beat * rate)) / rate
    kick = np.sin(2 * np.pi * (50 * t + 60 * (1 - np.exp(-t * 40)) / 40)) * np.exp(-t * 18)
    noise = rng.standard_normal(len(t))
    snare = (0.6 * noise + 0.4 * np.sin(2 * np.pi * 190 * t)) * np.exp(-t * 28)
    hat = np.diff(noise, prepend=0.0) * np.exp(-t * 90) * 0.25

    def pluck(midi: float, length: float) -> np.ndarray:
        tt = np.arange(int(length * rate)) / rate
        f = hz(midi)
        tone = sum(np.sin(2 * np.pi * f * k * tt) / k for k in (1, 2, 3, 4))
        return tone * np.exp(-tt * 3.0)

    times = np.arange(0.0, seconds, beat)
    for index, start in enumerate(times):
        bar, position = divmod(index, 4)
        root = tonic_midi + _CADENCE[bar % len(_CADENCE)]
        add(start, kick if position in (0, 2) else snare, 0.5)
        add(start, hat, 0.7)
        add(start + beat / 2, hat, 0.7)
        if position == 0:
            add(start, 0.5 * pluck(root - 24, 4 * beat), 0.4)
        for degree in _TRIAD:
            add(start, 0.12 * pluck(root + degree, beat), 0.3 + 0.1 * (degree % 3))
    out *= 0.8 / np.abs(out).max()
    names = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
    truth = {
        "tempo_bpm": bpm,
        "beats": [round(float(b), 4) for b in times],
        "key": f"{names[tonic_midi % 12]} major",
        "audio_seconds": frames / rate,
    }
    return out.astype(np.float32), truth
