"""The generation pages: starting a run, following it, reading one parsed, deciding hints."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from annotations.demo.generations import SAMPLE_OUTPUT
from annotations.generations.models import Generation, GenerationGroup, GenerationHint
from annotations.generations.selectors import generation_list_for_song
from annotations.generations.services.generations import generation_record_output
from annotations.songs.models import SongAnalysis
from annotations.songs.services.audio_files import audio_file_add
from tests import factories
from tests.audio_files import write_tone
from tests.helpers import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def song(tmp_path: Path):  # type: ignore[no-untyped-def]
    song = factories.SongFactory(title="Groove in A minor")
    audio_file_add(song=song, source=write_tone(tmp_path / "g.wav", seconds=2.0))
    return song


def _form(song, **overrides):  # type: ignore[no-untyped-def]
    data = {
        "songs": [song.pk],
        "model_version": factories.ModelVersionFactory().pk,
        "prompt": factories.PromptTemplateFactory().pk,
        "samples": 5,
        "max_new_tokens": 64,
        "temperature": 0.7,
        "top_p": 0.95,
    }
    data.update(overrides)
    return data


def test_the_new_run_form_offers_the_songs_picked_in_the_song_list(admin_user, song) -> None:
    other = factories.SongFactory(title="Not picked")
    response = client_for(admin_user).get(reverse("generation_new") + f"?song={song.pk}")
    assert response.status_code == 200
    assert b"Groove in A minor" in response.content and b"Not picked" not in response.content
    assert b'value="5"' in response.content  # five siblings by default
    assert other.pk != song.pk


def test_starting_a_run_queues_siblings_and_lists_them(admin_user, song) -> None:
    client = client_for(admin_user)
    response = client.post(reverse("generation_new"), _form(song, samples=3, seed=9))
    assert response.status_code == 302 and response["Location"] == reverse("generation_list")
    group = GenerationGroup.objects.get(song=song)
    assert sorted(group.generations.values_list("seed", flat=True)) == [9, 10, 11]
    listing = client.get(reverse("generation_list"))
    assert b"Queued 3 generation(s) for 1 song(s)." in listing.content
    assert b"Groove in A minor" in listing.content
    assert b'hx-trigger="every 2s"' in listing.content  # live while anything is queued


def test_the_list_stops_polling_when_nothing_is_running(expert_user) -> None:
    factories.GenerationFactory(status=Generation.Status.SUCCEEDED)
    response = client_for(expert_user).get(reverse("generation_list"), HTTP_HX_REQUEST="true")
    assert b'id="generation-groups"' in response.content
    assert b"every 2s" not in response.content
    assert b"<html" not in response.content  # the partial alone for htmx


def test_invalid_numbers_are_refused_with_readable_errors(admin_user, song) -> None:
    response = client_for(admin_user).post(
        reverse("generation_new"), _form(song, samples=0, top_p=2)
    )
    assert response.status_code == 400
    assert b"Ensure this value is greater than or equal to 1." in response.content
    assert not GenerationGroup.objects.exists()


def test_a_song_without_audio_is_refused_by_name(admin_user) -> None:
    silent = factories.SongFactory(title="Silent track")
    response = client_for(admin_user).post(reverse("generation_new"), _form(silent))
    assert response.status_code == 400
    assert b"no playable audio file yet" in response.content
    assert b"Silent track" in response.content


def _parsed_generation(song) -> Generation:  # type: ignore[no-untyped-def]
    SongAnalysis.objects.create(
        song=song,
        audio_file=song.audio_files.get(),
        analyser_version="test",
        status="succeeded",
        facts={"tempo_bpm": 96.0, "key_tonic": "A", "key_mode": "minor"},
    )
    generation = factories.GenerationFactory(song=song, status=Generation.Status.RUNNING, seed=5)
    return generation_record_output(
        generation=generation,
        raw_text=SAMPLE_OUTPUT + "\n<script>alert(1)</script>",
        input_tokens=812,
        output_tokens=240,
        rng={"seed": 5, "batch_size": 2, "batch_position": 1},
        timings={"generate": 1.5},
    )


def test_a_generation_page_shows_steps_sections_times_claims_and_escapes_text(
    expert_user, song
) -> None:
    generation = _parsed_generation(song)
    response = client_for(expert_user).get(reverse("generation_detail", args=[generation.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Step 2: Counting beats against the hi-hat gives about 140 BPM." in html
    assert "Instrumentation &amp; Production" in html
    assert "0:08" in html and ">8.0<" in html  # a time mention and its seconds
    assert "Claims" in html and "140" in html
    assert "seeded with 5, position 1 of a batch of 2" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # The sample says 140 BPM and C major; the analysis measured 96 BPM in A minor (C's relative).
    assert "Caption says 140 BPM; analysis measured 96 BPM" in html
    assert 'value="confirmed"' in html


def test_auditors_read_hints_without_deciding_them(auditor_user, song) -> None:
    generation = _parsed_generation(song)
    html = client_for(auditor_user).get(reverse("generation_detail", args=[generation.pk]))
    assert b"Caption says 140 BPM" in html.content
    assert b'value="confirmed"' not in html.content


def test_an_expert_confirms_a_hint_with_htmx(expert_user) -> None:
    hint = GenerationHint.objects.create(
        generation=factories.GenerationFactory(), kind="tempo", message="140 BPM vs 96 measured"
    )
    response = client_for(expert_user).post(
        reverse("generation_hint_decide", args=[hint.generation_id, hint.pk]),
        {"status": "confirmed"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200
    assert b'data-status="confirmed"' in response.content
    assert b"Reopen" in response.content
    hint.refresh_from_db()
    assert (hint.status, hint.decided_by) == ("confirmed", expert_user)


def test_a_hint_of_another_generation_is_not_found(expert_user) -> None:
    hint = GenerationHint.objects.create(
        generation=factories.GenerationFactory(), kind="key", message="x"
    )
    other = factories.GenerationFactory()
    response = client_for(expert_user).post(
        reverse("generation_hint_decide", args=[other.pk, hint.pk]), {"status": "dismissed"}
    )
    assert response.status_code == 404


def test_the_song_page_selector_lists_a_songs_generations_for_viewers_only(
    expert_user, song
) -> None:
    mine = factories.GenerationFactory(song=song)
    factories.GenerationFactory()
    assert list(generation_list_for_song(song=song, user=expert_user)) == [mine]
    assert list(generation_list_for_song(song=song, user=factories.UserFactory())) == []


def test_the_form_starts_with_the_serving_version_and_the_thinking_caption_prompt(
    admin_user, song
) -> None:
    factories.ModelVersionFactory(name="candidate")
    serving = factories.ModelVersionFactory(name="serving-one", status="serving")
    response = client_for(admin_user).get(reverse("generation_new") + f"?song={song.pk}")
    html = response.content.decode()
    assert f'<option value="{serving.pk}" selected>serving-one</option>' in html
    assert "selected>full-caption-think v1</option>" in html


def test_timed_sections_read_as_label_and_time(expert_user, song) -> None:
    generation = _parsed_generation(song)
    html = client_for(expert_user).get(reverse("generation_detail", args=[generation.pk]))
    assert b"intro at 0:00" in html.content


def test_the_run_list_costs_the_same_queries_for_one_group_or_many(
    expert_user, django_assert_max_num_queries
) -> None:
    def add_group() -> None:
        group = GenerationGroup.objects.create(
            song=factories.SongFactory(),
            model_version=factories.ModelVersionFactory(),
            prompt=factories.PromptTemplateFactory(),
            size=3,
        )
        for index in range(3):
            factories.GenerationFactory(
                group=group,
                song=group.song,
                model_version=group.model_version,
                prompt=group.prompt,
                sibling_index=index,
            )

    client = client_for(expert_user)
    add_group()
    client.get(reverse("generation_list"))  # session and permission caches warm up
    with django_assert_max_num_queries(12) as one:
        client.get(reverse("generation_list"))
    for _ in range(5):
        add_group()
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = client.get(reverse("generation_list"))
    assert response.content.count(b"data-group=") == 6
