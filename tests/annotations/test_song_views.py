"""Song pages through the Django test client: upload, song page, analysis panel, audio streaming."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from annotations.songs.models import Song, SongAnalysis
from annotations.songs.services.analysis import artifact_prefix
from annotations.songs.services.song_import import SongMetadata, song_import_file
from tests import factories
from tests.audio_files import write_tone
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


def upload(client, path: Path, **fields):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        return client.post(reverse("song_upload_file"), {"file": handle, **fields})


def test_the_upload_page_offers_metadata_and_the_drop_zone(admin_user) -> None:
    factories.GenreFactory(name="Qawwali", slug="qawwali")
    body = client_for(admin_user).get(reverse("song_upload")).content.decode()
    assert 'id="dropzone"' in body
    assert '<option value="qawwali">Qawwali</option>' in body
    assert 'name="licence"' in body and 'name="tags"' in body


def test_uploading_a_file_adds_a_song_with_the_batch_metadata(admin_user, tmp_path: Path) -> None:
    factories.GenreFactory(name="Qawwali", slug="qawwali")
    response = upload(
        client_for(admin_user),
        write_tone(tmp_path / "Mast Qalandar.flac", fmt="flac"),
        artist="Nusrat <b>Fateh</b> Ali Khan",
        genres=["qawwali"],
        tags="live, 1985",
        year="1985",
    )
    assert response.status_code == 200
    body = response.content.decode()
    song = Song.objects.get()
    assert 'data-outcome="added"' in body
    assert f"Added as song #{song.pk}: FLAC, 0:02" in body
    assert (song.title, song.artist, song.year, song.tags) == (
        "Mast Qalandar",
        "Nusrat <b>Fateh</b> Ali Khan",
        1985,
        ["live", "1985"],
    )
    assert song.added_by == admin_user
    assert [g.slug for g in song.genres.all()] == ["qawwali"]


def test_a_rejected_upload_answers_400_with_the_reason(admin_user, tmp_path: Path) -> None:
    fake = tmp_path / "<img src=x onerror=alert(1)>.wav"
    fake.write_text("not audio at all")
    response = upload(client_for(admin_user), fake)
    assert response.status_code == 400
    body = response.content.decode()
    assert 'data-outcome="rejected"' in body
    assert "the content is not decodable audio" in body
    assert "<img src=x" not in body, "the file name is escaped"
    assert "&lt;img src=x onerror=alert(1)&gt;.wav" in body
    assert Song.objects.count() == 0


def test_an_oversized_upload_is_refused_while_streaming(
    admin_user, tmp_path: Path, settings
) -> None:
    settings.WORKBENCH_MAX_UPLOAD_BYTES = 50_000
    response = upload(client_for(admin_user), write_tone(tmp_path / "big.wav", seconds=3))
    assert response.status_code == 400
    assert "big.wav is larger than the limit of 48.8 KiB" in response.content.decode()
    assert Song.objects.count() == 0


def test_a_duplicate_upload_links_to_the_existing_song(admin_user, tmp_path: Path) -> None:
    path = write_tone(tmp_path / "a.wav")
    client = client_for(admin_user)
    upload(client, path)
    response = upload(client, path)
    song = Song.objects.get()
    assert response.status_code == 200
    assert 'data-outcome="duplicate"' in response.content.decode()
    assert reverse("song_detail", args=[song.pk]) in response.content.decode()


def test_invalid_metadata_is_reported_per_field(admin_user, tmp_path: Path) -> None:
    response = upload(client_for(admin_user), write_tone(tmp_path / "a.wav"), year="12")
    assert response.status_code == 400
    assert "a.wav was not imported: Year: Ensure this value is greater than or equal to 1000." in (
        response.content.decode()
    )


def test_upload_needs_the_csrf_token(admin_user, tmp_path: Path) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    response = upload(client, write_tone(tmp_path / "a.wav"))
    assert response.status_code == 403
    assert Song.objects.count() == 0


def analysed_song(tmp_path: Path, *, seconds: float = 3.0) -> tuple[Song, SongAnalysis]:
    result = song_import_file(
        path=write_tone(tmp_path / "s.wav", seconds=seconds), metadata=SongMetadata(title="Song")
    )
    analysis = SongAnalysis.objects.get(song_id=result.song_id)
    folder = Path(settings.MEDIA_ROOT) / artifact_prefix(analysis)
    folder.mkdir(parents=True)
    (folder / "spectrogram.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    SongAnalysis.objects.filter(pk=analysis.pk).update(
        status="succeeded",
        progress=1,
        finished_at=timezone.now(),
        facts={
            "duration_seconds": seconds,
            "tempo_bpm": 96.4,
            "tempo_confidence": 0.8,
            "key_label": "F# minor",
            "key_confidence": 0.71,
            "key_candidates": [{"label": "F# minor"}, {"label": "A major"}],
            "meter": "3/4",
            "meter_confidence": 0.6,
            "sections": [
                {"start": 0.0, "end": 1.5, "label": "A"},
                {"start": 1.5, "end": 3.0, "label": "B"},
            ],
        },
        artifacts={"spectrogram": f"{artifact_prefix(analysis)}/spectrogram.png"},
    )
    Song.objects.filter(pk=result.song_id).update(status="ready")
    analysis.refresh_from_db()
    return analysis.song, analysis


def test_the_song_page_shows_the_analysis_and_the_player(expert_user, tmp_path: Path) -> None:
    song, analysis = analysed_song(tmp_path)
    body = client_for(expert_user).get(reverse("song_detail", args=[song.pk])).content.decode()
    assert 'data-testid="fact-tempo">96.4 BPM' in body
    assert "F# minor" in body and "then A major" in body
    assert "3/4" in body
    assert 'data-seek="1.5"' in body
    assert f'data-audio-url="/audio/{analysis.audio_file_id}/"' in body
    assert "vendor/wavesurfer/wavesurfer.esm.js" in body
    assert "every 2s" not in body, "a finished analysis is not polled"


def test_a_running_analysis_polls_and_shows_progress(expert_user, tmp_path: Path) -> None:
    result = song_import_file(path=write_tone(tmp_path / "s.wav"), metadata=SongMetadata())
    SongAnalysis.objects.filter(song_id=result.song_id).update(
        status="running", progress=0.4, stage="key"
    )
    url = reverse("song_analysis_panel", args=[result.song_id])
    body = client_for(expert_user).get(url, HTTP_HX_REQUEST="true").content.decode()
    assert body.lstrip().startswith('<section id="analysis-panel"')
    assert 'hx-trigger="every 2s"' in body
    assert 'value="0.4"' in body and "Running — key" in body


def test_a_song_over_the_model_window_says_what_the_model_hears(
    expert_user, tmp_path: Path, settings
) -> None:
    settings.WORKBENCH_MODEL_WINDOW_SECONDS = 2
    song, _ = analysed_song(tmp_path, seconds=3)
    body = client_for(expert_user).get(reverse("song_detail", args=[song.pk])).content.decode()
    assert "Music Flamingo hears 0:00–0:02 of 0:03" in body


def test_reanalyse_queues_the_analysis_again(admin_user, tmp_path: Path) -> None:
    song, analysis = analysed_song(tmp_path)
    response = client_for(admin_user).post(reverse("song_reanalyse", args=[song.pk]))
    assert response.status_code == 200
    analysis.refresh_from_db()
    assert (analysis.status, analysis.progress) == ("queued", 0.0)
    assert 'hx-trigger="every 2s"' in response.content.decode()


def test_audio_streams_with_byte_ranges(expert_user, tmp_path: Path) -> None:
    _, analysis = analysed_song(tmp_path)
    stored = Path(analysis.audio_file.file.path).read_bytes()
    client = client_for(expert_user)
    url = reverse("audio_file_stream", args=[analysis.audio_file_id])
    whole = client.get(url)
    assert whole.status_code == 200 and whole["Accept-Ranges"] == "bytes"
    assert b"".join(whole.streaming_content) == stored
    part = client.get(url, HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(stored)}"
    assert part.content == stored[100:200]
    tail = client.get(url, HTTP_RANGE="bytes=-10")
    assert tail.content == stored[-10:]
    beyond = client.get(url, HTTP_RANGE=f"bytes={len(stored) + 5}-")
    assert beyond.status_code == 416


def test_analysis_files_refuse_path_tricks(expert_user, tmp_path: Path) -> None:
    _, analysis = analysed_song(tmp_path)
    client = client_for(expert_user)
    ok = client.get(reverse("song_analysis_file", args=[analysis.pk, "spectrogram.png"]))
    assert ok.status_code == 200 and ok["Content-Type"] == "image/png"
    sneaky = f"/analyses/{analysis.pk}/files/..%2F..%2Fsecret"
    assert client.get(sneaky).status_code == 404


def test_admins_start_music_flamingo_from_the_song_page_and_the_list(
    admin_user, expert_user, tmp_path: Path
) -> None:
    song, _ = analysed_song(tmp_path)
    generation = factories.GenerationFactory(song=song)
    admin_page = client_for(admin_user).get(reverse("song_detail", args=[song.pk])).content
    assert f'href="/generations/new/?song={song.pk}"'.encode() in admin_page
    assert f'href="/generations/{generation.pk}/"'.encode() in admin_page
    listing = client_for(admin_user).get(reverse("song_list")).content.decode()
    assert 'action="/generations/new/"' in listing
    assert f'name="song" value="{song.pk}"' in listing
    assert "Run Music Flamingo on the selected songs" in listing
    expert_page = client_for(expert_user).get(reverse("song_detail", args=[song.pk])).content
    assert b"/generations/new/" not in expert_page
    assert "Run Music Flamingo on the selected songs" not in (
        client_for(expert_user).get(reverse("song_list")).content.decode()
    )
