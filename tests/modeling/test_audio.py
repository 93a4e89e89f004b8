"""Audio preparation on real files: resampling, downmixing, and the 20-minute window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from modeling.audio import AudioPreparationError, prepare_audio


def _tone(path: Path, *, rate: int, seconds: float, hz: float = 440.0, channels: int = 1) -> Path:
    t = np.arange(int(rate * seconds)) / rate
    tone = 0.5 * np.sin(2 * np.pi * hz * t)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    soundfile.write(str(path), data, rate, subtype="PCM_16")
    return path


def test_a_44_1_khz_stereo_file_becomes_16_khz_mono_with_its_pitch_kept(tmp_path: Path) -> None:
    audio = prepare_audio(_tone(tmp_path / "a.wav", rate=44100, seconds=3.0, channels=2))
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert len(audio.samples) == 48000
    assert (audio.source_sample_rate, audio.source_channels) == (44100, 2)
    spectrum = np.abs(np.fft.rfft(audio.samples))
    assert np.argmax(spectrum) * 16000 / len(audio.samples) == pytest.approx(440, abs=1)
    assert audio.heard() == {"start": 0.0, "end": 3.0, "source_seconds": 3.0, "truncated": False}


def test_audio_beyond_twenty_minutes_is_cut_and_the_heard_part_recorded(tmp_path: Path) -> None:
    # 21 minutes at 8 kHz keeps the file small; it is still upsampled to 16 kHz.
    audio = prepare_audio(_tone(tmp_path / "long.flac", rate=8000, seconds=21 * 60))
    assert audio.source_seconds == pytest.approx(1260)
    assert (audio.heard_start, audio.heard_end) == (0.0, 1200.0)
    assert audio.truncated
    assert len(audio.samples) == 1200 * 16000
    assert audio.windows == 40


def test_a_file_that_is_not_audio_raises_a_readable_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("not audio")
    with pytest.raises(AudioPreparationError, match=r"cannot decode notes\.wav"):
        prepare_audio(path)
