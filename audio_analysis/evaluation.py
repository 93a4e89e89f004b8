"""Scoring against rendered ground truth (mir_eval), and the plain-librosa baseline we compare to.

Used by the accuracy test and by ``benchmarks/analysis.py``; not by the product pipeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audio_analysis import tonal

TEMPO_TOLERANCE = 0.04


@dataclass(frozen=True)
class Estimate:
    key: str | None
    tempo_bpm: float | None
    beats: np.ndarray
    metre: str | None = None


@dataclass(frozen=True)
class PieceScore:
    key_weighted: float
    tempo_exact: bool
    tempo_octave: bool
    beat_f: float
    metre_family: bool | None


def tempo_matches(estimate: float | None, reference: float, *, octave_errors: bool) -> bool:
    """Within 4 % of the reference tempo (or of half or double it, when octave_errors)."""
    if not estimate:
        return False
    factors = (0.5, 1.0, 2.0) if octave_errors else (1.0,)
    return any(abs(estimate - reference * f) <= TEMPO_TOLERANCE * reference * f for f in factors)


def metre_family(metre: str) -> str:
    """What a listener can tell apart: duple, triple, or compound (beats divided in three)."""
    top, bottom = (int(x) for x in metre.split("/"))
    if bottom == 8 and top % 3 == 0:
        return "compound"
    return "triple" if top % 3 == 0 else "duple"


def score_piece(estimate: Estimate, record: dict[str, Any]) -> PieceScore:
    import mir_eval

    key_weighted = (
        float(mir_eval.key.weighted_score(record["key"], estimate.key)) if estimate.key else 0.0
    )
    reference_beats = mir_eval.beat.trim_beats(np.asarray(record["beats"], dtype=float))
    estimated_beats = mir_eval.beat.trim_beats(np.asarray(estimate.beats, dtype=float))
    beat_f = (
        float(mir_eval.beat.f_measure(reference_beats, estimated_beats))
        if len(reference_beats) and len(estimated_beats)
        else 0.0
    )
    return PieceScore(
        key_weighted=key_weighted,
        tempo_exact=tempo_matches(estimate.tempo_bpm, record["tempo_bpm"], octave_errors=False),
        tempo_octave=tempo_matches(estimate.tempo_bpm, record["tempo_bpm"], octave_errors=True),
        beat_f=beat_f,
        metre_family=(metre_family(estimate.metre) == metre_family(record["metre"]))
        if estimate.metre
        else None,
    )


def summarise(scores: list[PieceScore]) -> dict[str, float]:
    metres = [s.metre_family for s in scores if s.metre_family is not None]
    return {
        "pieces": len(scores),
        "key_weighted": float(np.mean([s.key_weighted for s in scores])),
        "tempo_within_4pct": float(np.mean([s.tempo_exact for s in scores])),
        "tempo_half_double": float(np.mean([s.tempo_octave for s in scores])),
        "beat_f": float(np.mean([s.beat_f for s in scores])),
        "metre_family": float(np.mean(metres)) if metres else float("nan"),
        "metre_reported": len(metres) / len(scores) if scores else 0.0,
    }


def estimate_from_product(facts: dict[str, Any], beats: list[float]) -> Estimate:
    return Estimate(
        key=facts["key_label"],
        tempo_bpm=facts["tempo_bpm"],
        beats=np.asarray(beats, dtype=float),
        metre=facts["meter"],
    )


def baseline_analyse(path: Path) -> Estimate:
    """The plain librosa pipeline the issue measured: load at 22.05 kHz mono, ``beat_track``
    (its default 120-BPM prior), Krumhansl–Schmuckler on the mean of ``chroma_cqt``."""
    import librosa

    y, sr = librosa.load(str(path), sr=22050, mono=True)
    tempo, beat_frames = librosa.beat.beat_track(y=y, sr=sr)
    chroma = librosa.feature.chroma_cqt(y=y, sr=sr)
    scores = tonal.key_scores(chroma.mean(axis=1), tonal.KRUMHANSL_MAJOR, tonal.KRUMHANSL_MINOR)
    return Estimate(
        key=scores[0][0],
        tempo_bpm=float(np.atleast_1d(tempo)[0]),
        beats=librosa.frames_to_time(beat_frames, sr=sr),
    )
