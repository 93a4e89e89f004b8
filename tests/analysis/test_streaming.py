"""Chunked feature extraction sees what a whole-file computation sees.

analyse_file never holds the whole signal: it computes the spectrogram and CQT chroma in chunks with
audio context on both sides. Over three chunks of music pushed in odd-sized pieces (several chunks), every
frame must match librosa run once on the whole signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from audio_analysis import pipeline


def test_chunked_features_match_the_whole_signal(
    eval_corpus: tuple[Path, list[dict[str, Any]]],
) -> None:
    import librosa
    import soxr

    root, records = eval_corpus
    pieces: list[np.ndarray] = []
    for record in records:
        data, rate = sf.read(root / record["audio"], dtype="float32")
        pieces.append(soxr.resample(data.mean(axis=1), rate, pipeline.ANALYSIS_RATE))
        if sum(map(len, pieces)) > 3 * pipeline.CHUNK_FRAMES * pipeline.HOP:
            break
    signal = np.concatenate(pieces)

    stream = pipeline._FeatureStream(frames_per_column=1)
    for start in range(0, len(signal), 10_007):
        stream.push(signal[start : start + 10_007])
    stream.finish()

    chroma = np.concatenate(stream.chroma, axis=1)
    whole_chroma = librosa.feature.chroma_cqt(
        y=signal,
        sr=pipeline.ANALYSIS_RATE,
        hop_length=pipeline.HOP,
        norm=None,
        tuning=stream._tuning,
    )
    assert chroma.shape == whole_chroma.shape
    assert np.abs(chroma - whole_chroma).max() <= 1e-3 * whole_chroma.max()

    mel_db = np.concatenate(stream.columns, axis=1)
    whole_mel_db = librosa.power_to_db(
        librosa.feature.melspectrogram(
            y=signal,
            sr=pipeline.ANALYSIS_RATE,
            n_fft=pipeline.N_FFT,
            hop_length=pipeline.HOP,
            n_mels=pipeline.N_MELS,
        ),
        ref=1.0,
        amin=1e-10,
        top_db=None,
    )
    assert mel_db.shape == whole_mel_db.shape
    assert np.abs(mel_db - whole_mel_db).max() < 0.01  # dB
