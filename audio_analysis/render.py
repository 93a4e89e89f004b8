"""Waveform peaks at several zoom levels and the mel spectrogram image, built while streaming."""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np

# The coarsest level holds at most this many values, so even a 2-hour track's overview is a few
# tens of kilobytes the browser draws without decoding audio.
MAX_COARSE_VALUES = 4000
COARSEST_PPS_CAP = 16.0
FINEST_PPS_FLOOR = 32.0
ZOOM_STEP = 4
MAX_IMAGE_WIDTH = 4000


def peak_levels(duration_estimate: float) -> list[Fraction]:
    """Pixels per second of each zoom level, coarsest first: powers of two, each 4× the last,
    the coarsest ≤ MAX_COARSE_VALUES values long, at least three levels, the finest ≥ 32 px/s."""
    duration = max(duration_estimate, 1.0)
    exponent = math.floor(math.log2(min(COARSEST_PPS_CAP, MAX_COARSE_VALUES / duration)))
    levels = [Fraction(2) ** exponent]
    while len(levels) < 3 or levels[-1] < FINEST_PPS_FLOOR:
        levels.append(levels[-1] * ZOOM_STEP)
    return levels


class PeakAccumulator:
    """Max-abs per bin at the finest level, from blocks of samples; coarser levels are derived
    exactly (each coarse bin is ZOOM_STEP fine bins, since bin = floor(sample * pps / rate))."""

    def __init__(self, sample_rate: int, levels: list[Fraction]) -> None:
        self.rate = sample_rate
        self.levels = levels
        self.finest = levels[-1]
        self._chunks: list[np.ndarray] = []
        self._last_bin = -1
        self._samples = 0

    def add(self, magnitudes: np.ndarray) -> None:
        n = len(magnitudes)
        if n == 0:
            return
        index = np.arange(self._samples, self._samples + n, dtype=np.int64)
        bins = (index * self.finest.numerator) // (self.rate * self.finest.denominator)
        starts = np.flatnonzero(np.r_[True, bins[1:] != bins[:-1]])
        maxima = np.maximum.reduceat(magnitudes, starts).astype(np.float32)
        first_bin = int(bins[0])
        if first_bin == self._last_bin:
            self._chunks[-1][-1] = max(self._chunks[-1][-1], maxima[0])
            maxima = maxima[1:]
        if len(maxima):
            self._chunks.append(maxima)
        self._last_bin = int(bins[-1])
        self._samples += n

    def write(self, out_dir: Path, duration: float) -> dict[str, object]:
        finest = np.concatenate(self._chunks) if self._chunks else np.zeros(1, np.float32)
        finest = np.clip(finest, 0.0, 1.0)
        entries = []
        data = finest
        levels = list(self.levels)
        # The header's length was only an estimate (some streams have none): if the file ran
        # longer, add coarser levels until the overview is small again.
        while duration * levels[0] > MAX_COARSE_VALUES:
            levels.insert(0, levels[0] / ZOOM_STEP)
        for level in reversed(levels):
            if level != self.finest:
                pad = (-len(data)) % ZOOM_STEP
                data = np.r_[data, np.zeros(pad, np.float32)].reshape(-1, ZOOM_STEP).max(axis=1)
            name = f"peaks_{float(level):g}.json"
            payload = {
                "pixels_per_second": float(level),
                "duration": round(duration, 3),
                "data": np.round(data.astype(np.float64), 3).tolist(),
            }
            (out_dir / name).write_text(json.dumps(payload, separators=(",", ":")))
            entries.append({"pixels_per_second": float(level), "file": name, "length": len(data)})
        index = {"duration": round(duration, 3), "levels": list(reversed(entries))}
        (out_dir / "peaks.json").write_text(json.dumps(index))
        return index

    @property
    def peak(self) -> float:
        return max((float(c.max()) for c in self._chunks), default=0.0)


# A perceptually ordered dark-to-bright ramp (close to "magma"), as anchor colours to interpolate.
_RAMP = np.array(
    [
        [0, 0, 4],
        [40, 11, 84],
        [101, 21, 110],
        [159, 42, 99],
        [212, 72, 66],
        [245, 125, 21],
        [250, 193, 39],
        [252, 255, 164],
    ],
    dtype=np.float64,
)


def write_spectrogram_png(
    columns_db: np.ndarray, path: Path, *, dynamic_range_db: float = 80.0
) -> tuple[int, int]:
    """Draw mel-dB columns (bins × time, low frequencies first) as a PNG; returns (width, height).

    PIL and numpy only: matplotlib costs 4-25× more per image and a GUI-less backend dance.
    """
    from PIL import Image

    data = np.asarray(columns_db, dtype=np.float64)
    if data.shape[1] > MAX_IMAGE_WIDTH:
        # Never wider than the cap; pool neighbouring columns by their maximum.
        factor = math.ceil(data.shape[1] / MAX_IMAGE_WIDTH)
        pad = (-data.shape[1]) % factor
        data = np.pad(data, ((0, 0), (0, pad)), constant_values=-np.inf)
        data = data.reshape(data.shape[0], -1, factor).max(axis=2)
    finite = data[np.isfinite(data)]
    top = float(finite.max()) if finite.size else 0.0
    scaled = np.clip(
        (np.nan_to_num(data, neginf=-1e9) - (top - dynamic_range_db)) / dynamic_range_db, 0, 1
    )
    position = scaled[::-1] * (len(_RAMP) - 1)  # high frequencies at the top of the image
    low = np.floor(position).astype(int).clip(0, len(_RAMP) - 2)
    frac = (position - low)[..., None]
    rgb = _RAMP[low] * (1 - frac) + _RAMP[low + 1] * frac
    image = Image.fromarray(rgb.round().astype(np.uint8), mode="RGB")
    image.save(path, format="PNG", compress_level=1)  # 0.07 s at the default, 0.017 s here
    return image.width, image.height
