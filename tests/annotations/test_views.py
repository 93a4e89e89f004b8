from __future__ import annotations

import html
import re

import pytest
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from annotations.reviews.models import Review
from annotations.songs.models import Song
from tests import factories
from tests.helpers import client_for


def test_song_search_matches_title_or_artist(expert_user) -> None:
    factories.SongFactory(title="Águas de Março", artist="Elis Regina")
    factories.SongFactory(title="Raga Yaman", artist="Ravi Shankar")
    page = client_for(expert_user).get(reverse("song_list"), {"q": "elis"}).content.decode()
    assert "Águas de Março" in page
    assert "Raga Yaman" not in page


def test_song_list_filters_by_culture(expert_user) -> None:
    hindustani = factories.CultureFactory(slug="hindustani", name="Hindustani")
    factories.SongFactory(title="Raga Yaman").cultures.add(hindustani)
    factories.SongFactory(title="Garota de Ipanema")
    page = (
        client_for(expert_user)
        .get(reverse("song_list"), {"culture": "hindustani"})
        .content.decode()
    )
    assert "Raga Yaman" in page
    assert "Garota de Ipanema" not in page


def test_htmx_gets_only_the_results_partial(expert_user) -> None:
    factories.SongFactory(title="Only Song")
    response = client_for(expert_user).get(reverse("song_list"), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="song-results"')
    assert "<html" not in body
    assert "HX-Request" in response["Vary"]


def test_song_text_is_escaped(expert_user) -> None:
    factories.SongFactory(title="<script>alert(1)</script>")
    body = client_for(expert_user).get(reverse("song_list")).content.decode()
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_song_list_query_count_does_not_grow_with_songs(
    expert_user, django_assert_max_num_queries
) -> None:
    genre = factories.GenreFactory()
    for _ in range(30):
        song = factories.SongFactory()
        song.genres.add(genre)
        factories.AudioFileFactory(song=song)
    client = client_for(expert_user)
    with django_assert_max_num_queries(12):
        assert client.get(reverse("song_list")).status_code == 200


def test_home_shows_each_role_its_own_work(role_users) -> None:
    factories.ReviewFactory(expert=role_users["expert"])
    factories.ReviewFactory(status=Review.Status.SUBMITTED, submitted_at=timezone.now())
    expert_page = client_for(role_users["expert"]).get(reverse("home")).content.decode()
    auditor_page = client_for(role_users["auditor"]).get(reverse("home")).content.decode()
    assert 'data-testid="expert-card"' in expert_page
    assert "<strong>1</strong> draft," in expert_page
    assert 'data-testid="auditor-card"' not in expert_page
    assert 'data-testid="auditor-card"' in auditor_page
    assert 'data-testid="expert-card"' not in auditor_page


def test_navigation_offers_only_pages_the_role_can_open(role_users) -> None:
    expert_page = client_for(role_users["expert"]).get(reverse("home")).content.decode()
    admin_page = client_for(role_users["admin"]).get(reverse("home")).content.decode()
    assert reverse("model_version_list") not in expert_page
    assert reverse("admin:index") not in expert_page
    assert reverse("model_version_list") in admin_page
    assert reverse("admin:index") in admin_page


def test_forms_need_a_csrf_token(expert_user) -> None:
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(expert_user)
    response = client.post(reverse("logout"))
    assert response.status_code == 403


def test_pagination_keeps_the_filters(expert_user) -> None:
    from annotations.songs.selectors import SONGS_PER_PAGE

    rock = factories.GenreFactory(slug="rock", name="Rock")
    for index in range(SONGS_PER_PAGE + 1):
        factories.SongFactory(title=f"Rock song {index:03d}").genres.add(rock)
    factories.SongFactory(title="Not a rock song")
    client = client_for(expert_user)
    body = client.get(reverse("song_list"), {"genre": "rock", "q": "song"}).content.decode()
    assert "51 songs" in body
    next_link = re.search(r'href="\?([^"]*)" rel="next"', body)
    assert next_link is not None
    query = QueryDict(html.unescape(next_link.group(1)))
    assert (query["genre"], query["q"]) == ("rock", "song")
    second = client.get(reverse("song_list"), query).content.decode()
    assert "Rock song 050" in second
    assert "Rock song 049" not in second
    assert "Not a rock song" not in second
    assert 'rel="next"' not in second
    assert 'rel="first"' in second


@pytest.mark.django_db
@pytest.mark.parametrize("sort", ["title", "artist", "newest"])
def test_keyset_pages_visit_every_song_once_even_with_tied_sort_values(sort: str) -> None:
    from annotations.songs import selectors

    for index in range(23):
        # Many songs share a title and an artist: the id breaks ties, so none is skipped.
        factories.SongFactory(title=f"Same {index % 3}", artist=f"Artist {index % 2}")
    seen: list[int] = []
    after = ""
    for _ in range(10):
        page = selectors.song_list(sort=sort, after=after, per_page=5)
        assert page.total == 23
        seen += [song.pk for song in page.songs]
        if not page.next_cursor:
            break
        after = page.next_cursor
    assert sorted(seen) == sorted(Song.objects.values_list("pk", flat=True))
    assert len(seen) == len(set(seen)) == 23


def test_a_tampered_cursor_starts_at_the_first_page(expert_user) -> None:
    factories.SongFactory(title="Only song")
    body = client_for(expert_user).get(reverse("song_list"), {"after": "!!not-a-cursor"}).content
    assert b"Only song" in body
