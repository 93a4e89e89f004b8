"""Chunked feature extraction sees what a whole-file computation sees.

analyse_file never holds the whole signal: it computes the spectrogram and CQT chroma in chunks with
audio context on both sides. Over three chunks of music pushed in odd-sized pieces (several chunks), every
frame must match librosa run once on the whole signal. The music is synthesised (tests/audio_files.py),
so this needs no rendered corpus.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from audio_analysis import pipeline
from tests.audio_files import synthesise_song


@pytest.fixture(scope="module")
def signal() -> np.ndarray:
    """Synthesised songs in different keys and tempi, one after another, over three chunks long.

    A second of silence leads in: a kick and a bass at full level on sample 0 make librosa's
    whole-signal CQT (its resampler's edge at the array start) differ from the stream's explicitly
    zero-padded start by up to ~1 % in the first ~0.5 s. That edge is not chunking, which is what
    this test is about; the rendered pieces it used before start softer.
    """
    pieces: list[np.ndarray] = [np.zeros(pipeline.ANALYSIS_RATE, dtype=np.float32)]
    for bpm, tonic in itertools.cycle(((96.0, 57), (112.0, 62), (128.0, 65), (104.0, 60))):
        data, _ = synthesise_song(
            seconds=40.0, bpm=bpm, tonic_midi=tonic, rate=pipeline.ANALYSIS_RATE, seed=len(pieces)
        )
        pieces.append(data.mean(axis=1))
        if sum(map(len, pieces)) > 3 * pipeline.CHUNK_FRAMES * pipeline.HOP:
            break
    return np.concatenate(pieces)


def test_chunked_features_match_the_whole_signal(signal: np.ndarray) -> None:
    import librosa

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
