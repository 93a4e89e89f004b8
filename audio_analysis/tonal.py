"""Key and mode from a chroma summary."""

from __future__ import annotations

from typing import Any

import numpy as np

PITCH_CLASSES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")

# Albrecht & Shanahan (2013), Music Perception 31(1): profiles fitted to a corpus of common-practice
# pieces. On CQT chroma of rendered chorales and folk songs they confuse a key with its dominant far
# less often than Krumhansl's probe-tone profiles, which over-weight the fifth.
MAJOR_PROFILE = np.array(
    [0.238, 0.006, 0.111, 0.006, 0.137, 0.094, 0.016, 0.214, 0.009, 0.080, 0.008, 0.081]
)
MINOR_PROFILE = np.array(
    [0.220, 0.006, 0.104, 0.123, 0.019, 0.103, 0.012, 0.214, 0.062, 0.022, 0.061, 0.052]
)
# Krumhansl & Kessler (1982), kept for the baseline the benchmark compares against.
KRUMHANSL_MAJOR = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
KRUMHANSL_MINOR = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])


def key_scores(
    chroma_mean: np.ndarray,
    major: np.ndarray = MAJOR_PROFILE,
    minor: np.ndarray = MINOR_PROFILE,
) -> list[tuple[str, float]]:
    """Pearson correlation of the chroma summary with each of the 24 rotated profiles, best first."""
    chroma = np.asarray(chroma_mean, dtype=float)
    scores = []
    for mode, profile in (("major", major), ("minor", minor)):
        for tonic in range(12):
            rotated = np.roll(profile, tonic)
            r = float(np.corrcoef(chroma, rotated)[0, 1]) if chroma.std() > 0 else 0.0
            scores.append((f"{PITCH_CLASSES[tonic]} {mode}", r))
    return sorted(scores, key=lambda item: -item[1])


def estimate_key(chroma_mean: np.ndarray) -> dict[str, Any]:
    """Key facts from the mean chroma (C..B). Confidence is the margin of the best correlation
    over the runner-up that is not its relative key, scaled to 0..1; None fields for silence."""
    chroma = np.asarray(chroma_mean, dtype=float)
    if not np.isfinite(chroma).all() or chroma.sum() <= 0 or chroma.std() == 0:
        return {
            "key_tonic": None,
            "key_mode": None,
            "key_label": None,
            "key_confidence": None,
            "key_candidates": [],
        }
    scores = key_scores(chroma)
    label, best = scores[0]
    tonic, mode = label.split()
    runner_up = scores[1][1]
    # A correlation margin of 0.25 is already decisive; map 0..0.25 onto 0..1.
    confidence = float(np.clip((best - runner_up) / 0.25, 0.0, 1.0)) * float(np.clip(best, 0, 1))
    return {
        "key_tonic": tonic,
        "key_mode": mode,
        "key_label": label,
        "key_confidence": round(confidence, 3),
        "key_candidates": [{"label": lab, "score": round(s, 4)} for lab, s in scores[:3]],
    }
