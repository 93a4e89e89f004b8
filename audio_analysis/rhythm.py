"""Tempo, beats and metre from an onset-strength envelope.

librosa's ``beat_track`` picks the tempo from a tempogram weighted by a log-normal prior centred on
120 BPM; on drum-less music the tempogram is flat enough that the prior decides, and most wrong
answers sit at 110-130 BPM. Here the tempo comes from the whole piece's autocorrelation scored as a
comb (a true pulse period also repeats at 2, 3 and 4 periods, a spurious one does not), with a
prior one octave wide around 110 BPM, and the metrical level is chosen from that comb evidence: a
level whose multiples line up beats a faster one whose do not (this settles 6/8 on the dotted
quarter).
The envelope itself adds harmonic change (chroma flux) to spectral flux, because chorales played
legato change chords on the beat without attacks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_BPM, MAX_BPM = 40.0, 200.0
# A log-normal prior one octave wide around 110 BPM. It was flat (2 octaves around 100) in 1.0:
# on real recordings with drums (asc-music's three songs, ~118-161 BPM by librosa's beat tracker)
# the comb then preferred a third or a half of the beat (40, 45, 60 BPM), which would make every
# correct "120 BPM" in a caption look like a hallucination. On the tuning split this prior keeps
# tempo within 4 % (0.76) and beat F (0.80 → 0.81), and costs half/double 0.92 → 0.88; on the
# held-out split it gained tempo within 4 % 0.69 → 0.79 and beat F 0.75 → 0.80 for 0.93 → 0.91.
PRIOR_CENTRE_BPM = 110.0
PRIOR_OCTAVES = 1.0
COMB_WEIGHTS = (1.0, 0.8, 0.6, 0.5)
# Beats heard divided in three when the envelope a third into beats beats half-way by this much
# (chosen on the tuning split, where 1.1-1.2 separate 6/8 from simple metres).
COMPOUND_DIVISION_RATIO = 1.15


@dataclass(frozen=True)
class TempoEstimate:
    bpm: float | None
    confidence: float
    candidates: list[tuple[float, float]]  # (bpm, score), best first
    period_frames: float | None


def autocorrelation(envelope: np.ndarray, max_lag: int) -> np.ndarray:
    """Normalised autocorrelation of a mean-removed envelope up to max_lag frames, via FFT."""
    x = np.asarray(envelope, dtype=np.float64)
    x = x - x.mean()
    n = len(x)
    size = 1 << int(np.ceil(np.log2(2 * n)))
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 1]
    # Unbiased: long lags have fewer overlapping frames.
    acf = acf / np.maximum(n - np.arange(len(acf)), 1)
    return acf / acf[0] if acf[0] > 0 else np.zeros_like(acf)


def _interp(acf: np.ndarray, lag: float) -> float:
    if lag >= len(acf) - 1:
        return 0.0
    low = int(lag)
    frac = lag - low
    return float(acf[low] * (1 - frac) + acf[low + 1] * frac)


def _peak(acf: np.ndarray, lag: float, width: float) -> float:
    """Largest autocorrelation within ±width frames of lag (tempo is never exact to a frame)."""
    low, high = max(1, int(np.floor(lag - width))), int(np.ceil(lag + width))
    if low >= len(acf):
        return 0.0
    return float(acf[low : min(high + 1, len(acf))].max())


def comb_score(acf: np.ndarray, lag: float) -> float:
    total = weight = 0.0
    for k, w in enumerate(COMB_WEIGHTS, start=1):
        if k * lag >= len(acf) - 1:
            break
        total += w * _peak(acf, k * lag, 1.0 + 0.02 * k * lag)
        weight += w
    return total / weight if weight else 0.0


def estimate_tempo(envelope: np.ndarray, frame_rate: float) -> TempoEstimate:
    """Global tempo of an onset envelope sampled at frame_rate frames per second."""
    if len(envelope) < frame_rate * 3 or not np.any(envelope > 0):
        return TempoEstimate(None, 0.0, [], None)
    max_lag = int(frame_rate * 60.0 / MIN_BPM * len(COMB_WEIGHTS)) + 2
    acf = autocorrelation(envelope, min(max_lag, len(envelope) - 1))
    lags = np.arange(frame_rate * 60.0 / MAX_BPM, frame_rate * 60.0 / MIN_BPM, 0.25)
    combs = np.array([comb_score(acf, lag) for lag in lags])
    bpms = frame_rate * 60.0 / lags
    prior = np.exp(-0.5 * (np.log2(bpms / PRIOR_CENTRE_BPM) / PRIOR_OCTAVES) ** 2)
    scores = np.clip(combs, 0, None) * prior
    # Local maxima are the candidate tempi.
    is_peak = np.r_[False, (scores[1:-1] > scores[:-2]) & (scores[1:-1] >= scores[2:]), False]
    order = np.argsort(-scores[is_peak])
    peak_bpms, peak_scores, peak_lags = bpms[is_peak][order], scores[is_peak][order], lags[is_peak]
    peak_lags = peak_lags[order]
    if len(peak_bpms) == 0 or peak_scores[0] <= 0:
        return TempoEstimate(None, 0.0, [], None)
    candidates: list[tuple[float, float]] = []
    for bpm, score in zip(peak_bpms, peak_scores, strict=True):
        if all(abs(bpm / b - 1) > 0.04 for b, _ in candidates):
            candidates.append((round(float(bpm), 2), round(float(score), 4)))
        if len(candidates) == 5:
            break
    best = peak_scores[0]
    # Confidence: how much the winner stands out from the best candidate not metrically related.
    rival = 0.0
    for bpm, score in zip(peak_bpms[1:], peak_scores[1:], strict=True):
        ratio = max(bpm, peak_bpms[0]) / min(bpm, peak_bpms[0])
        if min(abs(ratio - r) for r in (1, 2, 3, 4)) > 0.06:
            rival = float(score)
            break
    confidence = float(np.clip((best - rival) / best, 0, 1) * np.clip(combs.max() * 2, 0, 1))
    period = refine_period(acf, float(peak_lags[0]))
    bpm = frame_rate * 60.0 / period
    candidates[0] = (round(bpm, 2), candidates[0][1])
    return TempoEstimate(bpm, round(confidence, 3), candidates, period)


def refine_period(acf: np.ndarray, lag: float) -> float:
    """Sub-frame period from the autocorrelation peaks at 1..4 periods (least squares through the
    origin). The comb scores a tolerance window, and the prior tilts where in that window the
    maximum falls; the peaks themselves say where the period is."""
    positions, multiples = [], []
    for k in range(1, len(COMB_WEIGHTS) + 1):
        centre = k * lag
        width = 1.0 + 0.02 * centre
        low, high = max(1, int(np.floor(centre - width))), int(np.ceil(centre + width))
        if high + 1 >= len(acf):
            break
        i = low + int(np.argmax(acf[low : high + 1]))
        if i in (low, high) or acf[i] <= 0:
            continue  # not a peak inside the window
        a, b, c = acf[i - 1], acf[i], acf[i + 1]
        denom = a - 2 * b + c
        offset = 0.5 * (a - c) / denom if denom < 0 else 0.0
        positions.append(i + offset)
        multiples.append(k)
    if not positions:
        return lag
    k_arr = np.array(multiples, dtype=float)
    return float(np.dot(k_arr, positions) / np.dot(k_arr, k_arr))


def _local_max(envelope: np.ndarray, positions: np.ndarray, width: int) -> np.ndarray:
    """The envelope's maximum within ±width frames of each position (0 outside the envelope)."""
    from scipy.ndimage import maximum_filter1d

    smoothed = maximum_filter1d(envelope, size=2 * width + 1, mode="constant")
    index = np.round(positions).astype(int)
    inside = (index >= 0) & (index < len(envelope))
    out = np.zeros(len(index))
    out[inside] = smoothed[index[inside]]
    return out


def _lag_correlation(values: np.ndarray, lag: int) -> float:
    if len(values) <= lag + 2 or values[:-lag].std() == 0 or values[lag:].std() == 0:
        return 0.0
    return float(np.corrcoef(values[:-lag], values[lag:])[0, 1])


@dataclass(frozen=True)
class Metre:
    label: str | None
    confidence: float
    beats_per_bar: int
    downbeat_phase: int


def estimate_metre(envelope: np.ndarray, beat_frames: np.ndarray, chroma: np.ndarray) -> Metre:
    """Metre from how the tracked beats divide (2 or 3 per beat) and group (2, 3 or 4 per bar).

    Division: onset strength a third and two thirds into each beat against half-way. Grouping:
    harmonic change at each beat (chords change on the bar line more than inside it, which holds
    without drums), autocorrelated at lags of 2, 3 and 4 beats. Labels are the plainest notation
    for what is heard: "6/8" for two beats divided in three, "3/4", "2/4" or "4/4".
    """
    import librosa

    if len(beat_frames) < 12:
        return Metre(None, 0.0, 0, 0)
    gaps = np.diff(beat_frames)
    halves = _local_max(envelope, beat_frames[:-1] + gaps / 2, 1).mean()
    thirds = (
        _local_max(envelope, beat_frames[:-1] + gaps / 3, 1).mean()
        + _local_max(envelope, beat_frames[:-1] + 2 * gaps / 3, 1).mean()
    ) / 2
    division_ratio = thirds / halves if halves > 0 else 1.0

    synced = librosa.util.sync(librosa.util.normalize(chroma, axis=0), list(beat_frames))
    synced = librosa.util.normalize(synced, axis=0, norm=2)
    change = np.r_[0.0, 1.0 - np.sum(synced[:, 1:] * synced[:, :-1], axis=0)]
    change = change[: len(beat_frames)]
    accent = _local_max(envelope, beat_frames, 2)
    r2, r3, r4 = (_lag_correlation(change, lag) for lag in (2, 3, 4))

    if division_ratio > COMPOUND_DIVISION_RATIO:
        label, per_bar = "6/8", 2
        confidence = (division_ratio - COMPOUND_DIVISION_RATIO) / 0.3
    elif r3 > max(r2, r4):
        label, per_bar = "3/4", 3
        confidence = (r3 - max(r2, r4)) / 0.3
    else:
        label, per_bar = ("4/4", 4) if r4 >= r2 else ("2/4", 2)
        confidence = (max(r2, r4) - r3) / 0.3
    # Bars start where harmony changes and attacks are strongest, on average.
    score = _zscore(change[: len(accent)]) + _zscore(accent)
    phase = int(np.argmax([score[p::per_bar].mean() for p in range(per_bar)]))
    return Metre(label, round(float(np.clip(confidence, 0.0, 1.0)), 3), per_bar, phase)


def _zscore(values: np.ndarray) -> np.ndarray:
    spread = values.std()
    return (values - values.mean()) / spread if spread > 0 else np.zeros_like(values)
