"""Synthesised demo songs: real audio files made on the spot, so the demo ships no recordings.

Each piece is a chord progression with a bass line, and (optionally) kick/snare/hat at a set tempo,
so its facts (tempo, key, metre) are known by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile

NOTE_OFFSETS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def _midi(name: str) -> int:
    """'A3' → 57; sharps as 'F#4'."""
    pitch, octave = name[:-1], int(name[-1])
    semitone = NOTE_OFFSETS[pitch[0]] + (1 if pitch.endswith("#") else 0)
    return 12 * (octave + 1) + semitone


def _hz(midi: int) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


@dataclass(frozen=True)
class DemoPiece:
    title: str
    bpm: float
    beats_per_bar: int
    chords: tuple[tuple[str, ...], ...]  # one chord per bar, note names
    drums: bool
    seconds: float
    sample_rate: int = 22050


def render(piece: DemoPiece) -> np.ndarray:
    """Render to a stereo float32 array in [-1, 1]."""
    sr = piece.sample_rate
    total = int(piece.seconds * sr)
    t = np.arange(total) / sr
    out = np.zeros(total, dtype=np.float64)
    beat = 60.0 / piece.bpm
    bar = beat * piece.beats_per_bar
    for index in range(int(np.ceil(piece.seconds / bar))):
        chord = piece.chords[index % len(piece.chords)]
        start, end = int(index * bar * sr), min(total, int((index + 1) * bar * sr))
        if start >= total:
            break
        seg = t[start:end] - t[start]
        env = np.minimum(1.0, seg * 40) * np.exp(-seg * 0.8)
        for note in chord:
            f = _hz(_midi(note))
            out[start:end] += (
                0.12 * env * (np.sin(2 * np.pi * f * seg) + 0.3 * np.sin(4 * np.pi * f * seg))
            )
        root = _hz(_midi(chord[0]) - 12)
        for b in range(piece.beats_per_bar):
            s = start + int(b * beat * sr)
            e = min(end, s + int(beat * sr))
            if s >= end:
                break
            st = t[s:e] - t[s]
            out[s:e] += 0.18 * np.exp(-st * 6) * np.sin(2 * np.pi * root * st)
    if piece.drums:
        rng = np.random.default_rng(7)
        n_beats = int(piece.seconds / beat)
        for b in range(n_beats):
            s = int(b * beat * sr)
            k = np.arange(min(int(0.15 * sr), total - s)) / sr
            if b % piece.beats_per_bar in (0, 2) or (piece.beats_per_bar == 3 and b % 3 == 0):
                out[s : s + len(k)] += (
                    0.6 * np.exp(-k * 25) * np.sin(2 * np.pi * (50 + 80 * np.exp(-k * 30)) * k)
                )
            if piece.beats_per_bar == 4 and b % 4 in (1, 3):
                out[s : s + len(k)] += 0.25 * np.exp(-k * 30) * rng.standard_normal(len(k))
            h = s + int(beat * sr / 2)
            if h < total:
                hk = np.arange(min(int(0.03 * sr), total - h)) / sr
                out[h : h + len(hk)] += 0.08 * np.exp(-hk * 120) * rng.standard_normal(len(hk))
    out /= max(1.0, float(np.max(np.abs(out))) / 0.9)
    stereo = np.stack([out, np.roll(out, int(0.004 * sr))], axis=1)
    return stereo.astype(np.float32)


def write(piece: DemoPiece, path: Path) -> Path:
    """Write the piece; the container follows the suffix (.wav, .flac, .ogg)."""
    fmt = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16"), ".ogg": ("OGG", "VORBIS")}[
        path.suffix
    ]
    samples = render(piece)
    # In blocks: libsndfile's Vorbis encoder crashes on one multi-minute write.
    block = piece.sample_rate * 10
    with soundfile.SoundFile(
        str(path), "w", piece.sample_rate, samples.shape[1], format=fmt[0], subtype=fmt[1]
    ) as out:
        for start in range(0, len(samples), block):
            out.write(samples[start : start + block])
    return path
