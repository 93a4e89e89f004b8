"""Song list page at N songs: the selector's page vs. a naive per-row rendering, same run.

Usage (via benchmarks/run.sh, which prepares the database): python -m benchmarks.song_list N

Checks (the run exits 1 and names each one that missed): the product's page 1 is faster than the
naive per-row page at p50 (same page, same process, same rows); the last page by keyset cursor
costs at most 1.5× page 1 at p50 (README: "the last page … costs what the first does").
"""

from __future__ import annotations

import hashlib
import os
import statistics
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "workbench.settings")

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.template.loader import render_to_string  # noqa: E402
from django.test import Client  # noqa: E402
from tqdm import tqdm  # noqa: E402

from annotations.songs.models import AudioFile, Culture, Genre, Song  # noqa: E402
from annotations.songs.selectors import encode_cursor  # noqa: E402

REPEATS = 30


def populate(n: int) -> None:
    if Song.objects.count() >= n:
        return
    genres = [
        Genre.objects.get_or_create(slug=f"g{i}", defaults={"name": f"Genre {i}"})[0]
        for i in range(20)
    ]
    cultures = [
        Culture.objects.get_or_create(
            slug=f"c{i}", defaults={"name": f"Culture {i}", "region": f"R{i % 5}"}
        )[0]
        for i in range(12)
    ]
    batch = 5000
    for start in tqdm(range(0, n, batch), desc="songs", unit="batch"):
        songs = Song.objects.bulk_create(
            Song(title=f"Song {i:07d}", artist=f"Artist {i % 997}")
            for i in range(start, min(n, start + batch))
        )
        Song.genres.through.objects.bulk_create(
            Song.genres.through(song_id=s.pk, genre_id=genres[s.pk % 20].pk) for s in songs
        )
        Song.cultures.through.objects.bulk_create(
            Song.cultures.through(song_id=s.pk, culture_id=cultures[s.pk % 12].pk) for s in songs
        )
        AudioFile.objects.bulk_create(
            AudioFile(
                song=s,
                sha256=hashlib.sha256(str(s.pk).encode()).hexdigest(),
                size_bytes=1,
                file=f"audio/x/{s.pk}.wav",
                format="wav",
                duration_seconds=200.0,
                sample_rate=44100,
                channels=2,
            )
            for s in songs
        )


def _render_rows(songs: list[Song]) -> str:
    from django.contrib.auth.models import AnonymousUser
    from django.test import RequestFactory

    from annotations.songs.selectors import SongPage

    page = SongPage(songs=songs, total=len(songs), next_cursor="", is_first=True, sort="title")
    request = RequestFactory().get("/songs/")
    request.user = AnonymousUser()
    return render_to_string(
        "songs/list.html#results", {"page": page, "filters": {}}, request=request
    )


def naive_page(page: int) -> str:
    """What a first version would do: slice the queryset and let the template query per row."""
    return _render_rows(list(Song.objects.order_by("title", "id")[(page - 1) * 50 : page * 50]))


def offset_page(page: int) -> str:
    """The usual Paginator way: COUNT, then OFFSET into the ordering (prefetched rows)."""
    songs = Song.objects.order_by("title", "id").prefetch_related(
        "genres", "cultures", "audio_files"
    )
    Song.objects.count()
    return _render_rows(list(songs[(page - 1) * 50 : page * 50]))


def measure(label: str, fn) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    warm = fn()
    status = getattr(warm, "status_code", 200)
    if status != 200:
        raise SystemExit(f"{label}: HTTP {status}, not measuring an error page")
    times = []
    # Counted with an execute wrapper: a test-client request resets connection.queries mid-way.
    queries: list[str] = []
    with connection.execute_wrapper(
        lambda execute, sql, *a: (queries.append(sql), execute(sql, *a))[1]
    ):
        fn()
    for _ in range(REPEATS):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p50, p95 = statistics.median(times), times[int(len(times) * 0.95) - 1]
    print(f"  {label:38} p50 {p50:8.1f} ms   p95 {p95:8.1f} ms   {len(queries):4d} queries")
    return p50, p95, len(queries)


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    populate(n)
    user, _ = User.objects.get_or_create(username="bench")
    user.groups.add(Group.objects.get(name="auditor"))
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    print(
        f"song_list at {Song.objects.count():,} songs (PostgreSQL), {REPEATS} repeats, partial render"
    )
    total = Song.objects.count()
    last = total // 50
    # The cursor a visitor holds after clicking "Next" all the way to the last page.
    before_last = Song.objects.order_by("title", "id").values_list("title", "id")[total - 51]
    cursor = encode_cursor(*before_last)
    product_first = measure(
        "product: page 1 (htmx partial)", lambda: client.get("/songs/", HTTP_HX_REQUEST="true")
    )
    product_last = measure(
        f"product: page {last} by keyset cursor",
        lambda: client.get(f"/songs/?after={cursor}", HTTP_HX_REQUEST="true"),
    )
    measure(
        "product: search 'artist 42'",
        lambda: client.get("/songs/?q=artist+42", HTTP_HX_REQUEST="true"),
    )
    measure(
        "product: genre filter, newest first",
        lambda: client.get("/songs/?genre=g3&sort=newest", HTTP_HX_REQUEST="true"),
    )
    naive_first = measure("naive per-row: page 1", lambda: naive_page(1))
    offset_last = measure(f"offset paginator: page {last}", lambda: offset_page(last))
    print(
        f"  ratio naive/product p50 at page 1: {naive_first[0] / product_first[0]:.2f}x "
        f"({naive_first[2]} vs {product_first[2]} queries); last page / first page: "
        f"{product_last[0] / product_first[0]:.2f}x; offset/keyset at page {last}: "
        f"{offset_last[0] / product_last[0]:.2f}x"
    )
    missed = []
    if naive_first[0] <= product_first[0]:
        missed.append(
            f"page 1: the product's p50 {product_first[0]:.1f} ms is not below the naive "
            f"per-row page's {naive_first[0]:.1f} ms"
        )
    if product_last[0] > 1.5 * product_first[0]:
        missed.append(
            f"keyset: page {last} p50 {product_last[0]:.1f} ms is "
            f"{product_last[0] / product_first[0]:.2f}× page 1 (target ≤ 1.5×)"
        )
    if missed:
        print("  MISSED: " + "; ".join(missed))
        raise SystemExit(1)
    print("  every check passed")


if __name__ == "__main__":
    main()
