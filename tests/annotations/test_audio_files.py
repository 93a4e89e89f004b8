"""Storing audio by content and probing it, on real audio files written by soundfile."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.core.errors import ValidationFailed
from annotations.demo import audio as demo_audio
from annotations.songs.models import AudioFile
from annotations.songs.services.audio_files import audio_file_add, audio_file_probe
from tests import factories

PIECE = demo_audio.DemoPiece("t", 120, 4, (("A3", "C4", "E4"),), True, 3.0, sample_rate=16000)


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    return demo_audio.write(PIECE, tmp_path / "groove.wav")


def test_it_stores_the_file_under_its_content_hash(
    db, wav: Path, django_capture_on_commit_callbacks
) -> None:
    song = factories.SongFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        audio = audio_file_add(song=song, source=wav)
    assert audio.file.name == f"audio/{audio.sha256[:2]}/{audio.sha256}.wav"
    assert Path(audio.file.path).read_bytes() == wav.read_bytes()
    assert len(callbacks) == 1, "the probe is queued after commit"


def test_it_rejects_the_same_content_under_another_name(db, wav: Path, tmp_path: Path) -> None:
    first = audio_file_add(song=factories.SongFactory(), source=wav)
    renamed = tmp_path / "other-name.flac"
    renamed.write_bytes(wav.read_bytes())
    with pytest.raises(ValidationFailed) as excinfo:
        audio_file_add(song=factories.SongFactory(), source=renamed)
    assert f"song #{first.song_id}" in excinfo.value.message
    assert AudioFile.objects.count() == 1


def test_a_failed_save_leaves_no_stored_file(db, wav: Path, settings) -> None:
    song = factories.SongFactory()
    song.delete()  # the row insert now fails on the foreign key: nothing may stay behind
    with pytest.raises(Exception):  # noqa: B017 - IntegrityError or ValidationError by backend
        audio_file_add(song=song, source=wav)
    assert AudioFile.objects.count() == 0
    assert not any(Path(settings.MEDIA_ROOT).rglob("*.wav"))


def test_the_probe_reads_duration_rate_and_channels(db, wav: Path) -> None:
    audio = audio_file_add(song=factories.SongFactory(), source=wav)
    audio = audio_file_probe(audio_file=audio)
    assert audio.probe_error == ""
    assert audio.format == "wav"
    assert audio.duration_seconds == pytest.approx(3.0)
    assert (audio.sample_rate, audio.channels) == (16000, 2)


def test_the_probe_marks_a_file_whose_bytes_changed(db, wav: Path) -> None:
    audio = audio_file_add(song=factories.SongFactory(), source=wav)
    with open(audio.file.path, "r+b") as stored:
        stored.seek(2000)
        stored.write(b"\x00" * 64)
    audio = audio_file_probe(audio_file=audio)
    assert "no longer matches its content hash" in audio.probe_error
    assert audio.duration_seconds is None


def test_the_probe_decodes_content_not_names(db, tmp_path: Path) -> None:
    fake = tmp_path / "song.wav"
    fake.write_bytes(b"<html>this is not audio</html>" * 100)
    audio = audio_file_add(song=factories.SongFactory(), source=fake)
    audio = audio_file_probe(audio_file=audio)
    assert audio.probe_error == "the content is not decodable audio (Format not recognised.)"
