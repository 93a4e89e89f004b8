"""Getting songs in: every accepted format, every refusal with its message, duplicates, atomicity."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command

from annotations.songs.models import AudioFile, Song, SongAnalysis
from annotations.songs.services import song_import
from annotations.songs.services.song_import import SongMetadata, song_import_file
from tests import factories
from tests.audio_files import FORMATS, write_tone
from tests.processes import ROOT, process_env

pytestmark = pytest.mark.django_db


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT) / "audio"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_supported_format_is_added_and_identified_by_content(
    fmt: str, tmp_path: Path, settings, django_capture_on_commit_callbacks
) -> None:
    # The name lies on purpose: the format must come from decoding, not from the suffix.
    path = write_tone(tmp_path / f"{fmt}.upload", fmt=fmt, seconds=3)
    genre = factories.GenreFactory(name="Fado", slug="fado")
    with django_capture_on_commit_callbacks() as callbacks:
        result = song_import_file(
            path=path,
            filename=f"Track {fmt}.bin",
            metadata=SongMetadata(
                title=f"Song in {fmt}", artist="Amália", genres=["fado"], tags=["a", "a", "b"]
            ),
        )
    assert result.outcome == "added", result.message
    song = Song.objects.get(pk=result.song_id)
    audio = song.audio_files.get()
    assert audio.format == fmt
    assert audio.duration_seconds == pytest.approx(3.0, abs=0.1)
    assert audio.sample_rate == FORMATS[fmt][2]
    assert list(song.genres.all()) == [genre]
    assert song.tags == ["a", "b"]
    assert Path(audio.file.path).read_bytes() == path.read_bytes()
    assert SongAnalysis.objects.filter(song=song, status="queued").count() == 1
    assert len(callbacks) == 1, "the analysis is queued once, after commit"


def test_title_defaults_to_the_file_name(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "Morning_Raga.wav")
    result = song_import_file(path=path, metadata=SongMetadata())
    assert Song.objects.get(pk=result.song_id).title == "Morning Raga"


def rejection(path: Path, filename: str) -> str:
    result = song_import_file(path=path, filename=filename, metadata=SongMetadata())
    assert result.outcome == "rejected"
    assert Song.objects.count() == 0 and AudioFile.objects.count() == 0
    return result.message


def test_text_behind_an_audio_name_is_refused_by_content(tmp_path: Path, settings) -> None:
    path = tmp_path / "hit-single.mp3"
    path.write_text("ID3? no: these are the lyrics, not audio\n" * 50)
    message = rejection(path, "hit-single.mp3")
    assert message.startswith("hit-single.mp3 was refused: the content is not decodable audio")
    assert "WAV, FLAC, OGG/Vorbis, Opus, MP3 or AIFF" in message
    assert stored_files(settings) == []


def test_a_truncated_file_is_refused_as_damaged(tmp_path: Path) -> None:
    good = write_tone(tmp_path / "good.flac", fmt="flac", seconds=4)
    cut = tmp_path / "cut.flac"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    message = rejection(cut, "cut.flac")
    assert "cut.flac was refused: the audio stream is damaged" in message


def test_a_corrupted_body_is_refused(tmp_path: Path) -> None:
    good = write_tone(tmp_path / "good.ogg", fmt="ogg", seconds=4)
    data = bytearray(good.read_bytes())
    data[200:4000] = b"\x00" * 3800
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(bytes(data))
    assert rejection(bad, "bad.ogg").startswith("bad.ogg was refused: the content is not decodable")


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    empty.touch()
    assert rejection(empty, "empty.wav") == "empty.wav is empty (0 bytes): nothing to import."


def test_an_oversized_file_is_refused_naming_the_limit(tmp_path: Path, settings) -> None:
    settings.WORKBENCH_MAX_UPLOAD_BYTES = 10_000
    path = write_tone(tmp_path / "big.wav", seconds=2)
    message = rejection(path, "big.wav")
    assert message.startswith("big.wav is 172.3 KiB; the limit is 9.8 KiB")
    assert "WORKBENCH_MAX_UPLOAD_BYTES" in message


def test_an_overlong_recording_is_refused_naming_the_limit(tmp_path: Path, settings) -> None:
    settings.WORKBENCH_MAX_SONG_SECONDS = 60
    path = write_tone(tmp_path / "long.wav", seconds=61)
    message = rejection(path, "long.wav")
    assert message.startswith("long.wav lasts 1:01; the limit is 1:00")


def test_the_default_limits_admit_a_thirty_minute_track(settings) -> None:
    assert settings.WORKBENCH_MAX_SONG_SECONDS >= 30 * 60
    # 30 minutes of 24-bit stereo 48 kHz WAV, the largest common uncompressed master.
    assert settings.WORKBENCH_MAX_UPLOAD_BYTES >= 30 * 60 * 48000 * 2 * 3


def test_a_song_longer_than_the_model_window_is_added_and_marked(tmp_path: Path, settings) -> None:
    settings.WORKBENCH_MODEL_WINDOW_SECONDS = 2
    path = write_tone(tmp_path / "suite.wav", seconds=3)
    result = song_import_file(path=path, metadata=SongMetadata())
    assert result.outcome == "added"
    assert result.exceeds_model_window
    assert "Music Flamingo will hear only 0:00–0:02" in result.message
    assert Song.objects.get(pk=result.song_id).audio_files.get().exceeds_model_window


def test_the_same_bytes_under_another_name_are_a_duplicate(tmp_path: Path, settings) -> None:
    first = song_import_file(path=write_tone(tmp_path / "a.wav"), metadata=SongMetadata())
    copy = tmp_path / "copy-of-a.wav"
    copy.write_bytes((tmp_path / "a.wav").read_bytes())
    again = song_import_file(path=copy, metadata=SongMetadata(title="Other title"))
    assert again.outcome == "duplicate"
    assert again.duplicate_of == first.song_id
    assert f"already in the workbench as song #{first.song_id}" in again.message
    assert Song.objects.count() == 1 and len(stored_files(settings)) == 1


def test_an_unknown_language_is_refused_and_nothing_is_saved(tmp_path: Path, settings) -> None:
    path = write_tone(tmp_path / "a.wav")
    result = song_import_file(path=path, metadata=SongMetadata(languages=["klingon"]))
    assert result.outcome == "rejected"
    assert result.message.startswith("Unknown language 'klingon'")
    assert Song.objects.count() == 0 and stored_files(settings) == []


def test_a_failure_after_the_file_is_stored_leaves_no_row_and_no_file(
    tmp_path: Path, settings, monkeypatch
) -> None:
    def explode(name: str) -> None:
        raise OSError("disk went away")

    monkeypatch.setattr(song_import, "_fault_point", explode)
    with pytest.raises(OSError, match="disk went away"):
        song_import_file(path=write_tone(tmp_path / "a.wav"), metadata=SongMetadata(genres=["new"]))
    assert Song.objects.count() == 0
    assert AudioFile.objects.count() == 0
    assert stored_files(settings) == []


CRASHING_IMPORT = """
import os, sys, django
django.setup()
from annotations.songs.services import song_import
def crash(name):
    os.kill(os.getpid(), 9)  # as if the machine lost power: no cleanup, no rollback handler
song_import._fault_point = crash
from django.core.management import call_command
call_command("import_songs", sys.argv[1])
"""


@pytest.mark.subprocess
@pytest.mark.django_db(transaction=True)
def test_a_crash_mid_import_leaves_no_row_and_its_orphan_is_swept(tmp_path: Path, settings) -> None:
    folder = tmp_path / "incoming"
    folder.mkdir()
    write_tone(folder / "a.wav")
    env = process_env(media_root=settings.MEDIA_ROOT, data_dir=tmp_path / "data")
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_IMPORT, str(folder)], cwd=ROOT, env=env, timeout=120
    )
    assert crashed.returncode == -9
    assert Song.objects.count() == 0 and AudioFile.objects.count() == 0
    assert len(stored_files(settings)) == 1, "the killed process stored the file, no row"

    call_command("sweep_storage", "--grace-seconds", "0")
    assert stored_files(settings) == []

    # And importing the same file again works and keeps exactly one copy.
    call_command("import_songs", str(folder))
    assert Song.objects.count() == 1 and len(stored_files(settings)) == 1


def test_a_reimport_replaces_an_orphan_at_the_same_content_address(
    tmp_path: Path, settings
) -> None:
    path = write_tone(tmp_path / "a.wav")
    first = song_import_file(path=path, metadata=SongMetadata())
    stored = Path(Song.objects.get(pk=first.song_id).audio_files.get().file.path)
    AudioFile.objects.all().delete()
    Song.objects.all().delete()
    assert stored.exists(), "rows gone, file left: an orphan"
    again = song_import_file(path=path, metadata=SongMetadata())
    assert again.outcome == "added"
    assert [p.name for p in stored_files(settings)] == [stored.name]


def test_import_songs_from_a_folder_summarises_and_exits_1_on_rejections(
    tmp_path: Path, capsys
) -> None:
    folder = tmp_path / "album"
    (folder / "disc2").mkdir(parents=True)
    write_tone(folder / "01.flac", fmt="flac")
    write_tone(folder / "disc2" / "02.mp3", fmt="mp3", freq=330)
    (folder / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not audio")
    (folder / ".DS_Store").write_bytes(b"hidden files are skipped")
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_songs", str(folder), "--genre", "Folk", "--licence", "CC-BY")
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "REJECTED  cover.jpg was refused: the content is not decodable audio" in out
    assert "Imported 3 item(s): 2 added, 0 duplicate(s), 1 rejected" in out
    assert sorted(Song.objects.values_list("title", flat=True)) == ["01", "02"]
    assert set(Song.objects.values_list("genres__slug", flat=True)) == {"folk"}
    assert set(Song.objects.values_list("licence", flat=True)) == {"CC-BY"}


def test_import_songs_from_a_manifest_reports_each_bad_line(tmp_path: Path, capsys) -> None:
    write_tone(tmp_path / "kora.ogg", fmt="ogg")
    write_tone(tmp_path / "tabla.opus", fmt="opus", freq=220)
    lines = [
        json.dumps(
            {
                "path": "kora.ogg",
                "title": "Jarabi",
                "artist": "Toumani",
                "year": 1988,
                "genre": "Griot",
                "cultures": ["Mande"],
                "tags": "kora, solo",
            }
        ),
        '{"path": "tabla.opus", "title": "Teental"',  # cut-off JSON
        json.dumps({"title": "no path"}),
        json.dumps({"path": "missing.wav"}),
        json.dumps({"path": "tabla.opus", "bpm": 120}),
        json.dumps({"path": "tabla.opus", "year": "nineteen"}),
        "",
        json.dumps({"path": "tabla.opus", "title": "Teental", "cultures": "Hindustani"}),
    ]
    manifest = tmp_path / "songs.jsonl"
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(SystemExit) as exit_info:
        call_command("import_songs", str(manifest))
    assert exit_info.value.code == 1
    out = capsys.readouterr().out
    assert "line 2: not valid JSON (Expecting ',' delimiter at column 42)" in out
    assert 'line 3: "path" is missing' in out
    assert "line 4: file not found: missing.wav" in out
    assert "line 5: unknown field 'bpm'" in out
    assert 'line 6: "year" must be a whole number' in out
    assert "Imported 7 item(s): 2 added, 0 duplicate(s), 5 rejected" in out
    jarabi = Song.objects.get(title="Jarabi")
    assert (jarabi.artist, jarabi.year, jarabi.tags) == ("Toumani", 1988, ["kora", "solo"])
    assert [g.name for g in jarabi.genres.all()] == ["Griot"]
    assert [c.name for c in jarabi.cultures.all()] == ["Mande"]
    assert Song.objects.get(title="Teental").audio_files.get().format == "opus"


def test_import_songs_succeeds_with_exit_0_when_nothing_is_rejected(tmp_path: Path, capsys) -> None:
    write_tone(tmp_path / "one.wav")
    call_command("import_songs", str(tmp_path))
    assert "Imported 1 item(s): 1 added, 0 duplicate(s), 0 rejected" in capsys.readouterr().out
