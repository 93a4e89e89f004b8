"""Song pages: upload, the song page with its player and analysis, and the files they stream.

Thin: parse, authorise (annotations.permissions), call one service or selector, render. Audio and
analysis artifacts are served through these views, never from a public media URL, so every byte
needs a signed-in user allowed to see the song.
"""

from __future__ import annotations

import mimetypes
import re
import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import permission_required
from django.core.files.uploadedfile import TemporaryUploadedFile, UploadedFile
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from annotations.core.errors import ValidationFailed
from annotations.core.formatting import format_bytes
from annotations.core.http import HtmxHttpRequest
from annotations.songs import selectors
from annotations.songs.forms import SongMetadataForm
from annotations.songs.models import AudioFile, Culture, Genre, Song, SongAnalysis
from annotations.songs.permissions import access_song_for_user
from annotations.songs.services.analysis import artifact_prefix, song_analysis_request
from annotations.songs.services.song_import import ImportResult, SongMetadata, song_import_file
from annotations.songs.uploads import LimitedUploadHandler


@require_GET
@permission_required("annotations.manage_songs", raise_exception=True)
def song_upload(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "songs/upload.html",
        {
            "form": SongMetadataForm(),
            "max_bytes": settings.WORKBENCH_MAX_UPLOAD_BYTES,
            "max_bytes_text": format_bytes(settings.WORKBENCH_MAX_UPLOAD_BYTES),
        },
    )


@csrf_exempt  # checked below, once the size-limiting upload handler is in place
@require_POST
@permission_required("annotations.manage_songs", raise_exception=True)
def song_upload_file(request: HttpRequest) -> HttpResponse:
    # The CSRF middleware would parse the body before our handler could limit it (Django's
    # documented pattern for custom upload handlers: exempt here, protect the inner view).
    request.upload_handlers.insert(
        0, LimitedUploadHandler(request, settings.WORKBENCH_MAX_UPLOAD_BYTES)
    )
    return _song_upload_file(request)


@csrf_protect
def _song_upload_file(request: HttpRequest) -> HttpResponse:
    """One file per request (the page sends them one by one, with a progress bar each).

    Answers with the file's result as an HTML fragment; 200 for added or duplicate, 400 for a
    refusal, so a script sees the outcome without parsing the page.
    """
    handler = request.upload_handlers[0]
    assert isinstance(handler, LimitedUploadHandler)
    form = SongMetadataForm(request.POST)
    upload: UploadedFile | None = request.FILES.get("file")
    name = handler.too_large_name or (upload.name if upload else "") or "the file"
    if handler.too_large_name:
        result = ImportResult(
            name,
            "rejected",
            f"{name} is larger than the limit of "
            f"{format_bytes(settings.WORKBENCH_MAX_UPLOAD_BYTES)} (WORKBENCH_MAX_UPLOAD_BYTES). "
            "Compress it (FLAC or Opus) or ask an operator to raise the limit.",
        )
    elif upload is None:
        result = ImportResult(name, "rejected", "No file arrived: choose or drop an audio file.")
    elif not form.is_valid():
        errors = "; ".join(
            f"{form[field].label if field in form.fields else field}: {' '.join(str(m) for m in messages)}"
            for field, messages in form.errors.items()
        )
        result = ImportResult(name, "rejected", f"{name} was not imported: {errors}")
    else:
        result = _import_upload(upload, form.metadata(), request.user)
    status = 400 if result.outcome == "rejected" else 200
    return render(request, "songs/_upload_result.html", {"result": result}, status=status)


def _import_upload(upload: UploadedFile, metadata: SongMetadata, actor: Any) -> ImportResult:
    name = Path(upload.name or "upload").name
    if isinstance(upload, TemporaryUploadedFile):
        return song_import_file(
            path=Path(upload.temporary_file_path()), filename=name, metadata=metadata, actor=actor
        )
    # Small uploads arrive in memory; the importer reads paths (libsndfile needs a real file).
    with tempfile.NamedTemporaryFile(suffix=Path(name).suffix[:10]) as handle:
        for chunk in upload.chunks():
            handle.write(chunk)
        handle.flush()
        return song_import_file(
            path=Path(handle.name), filename=name, metadata=metadata, actor=actor
        )


@require_GET
def song_detail(request: HttpRequest, pk: int) -> HttpResponse:
    song = access_song_for_user(request.user, pk)
    return render(request, "songs/detail.html", selectors.song_page(song=song, user=request.user))


@require_GET
@vary_on_headers("HX-Request")
def song_analysis_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The analysis panel alone: polled while the analysis runs, so the page updates live."""
    song = access_song_for_user(request.user, pk)
    return render(
        request,
        "songs/detail.html#analysis-panel",
        selectors.song_page(song=song, user=request.user),
    )


@require_POST
def song_reanalyse(request: HttpRequest, pk: int) -> HttpResponse:
    song = access_song_for_user(request.user, pk, write=True)
    try:
        song_analysis_request(song=song, force=True)
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    return render(
        request,
        "songs/detail.html#analysis-panel",
        selectors.song_page(song=song, user=request.user),
    )


@require_GET
def audio_file_stream(request: HttpRequest, pk: int) -> HttpResponse | FileResponse:
    """The stored audio, with HTTP range requests so the browser can seek in a 2-hour file."""
    audio = AudioFile.objects.filter(pk=pk).only("song_id", "file", "format").first()
    if audio is None:
        raise Http404("No such audio file.")
    access_song_for_user(request.user, audio.song_id)
    path = Path(audio.file.path)
    if not path.exists():
        raise Http404("The stored file is missing.")
    content_type = AUDIO_CONTENT_TYPES.get(audio.format, "application/octet-stream")
    return ranged_file_response(request, path, content_type)


AUDIO_CONTENT_TYPES = {
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/ogg",
    "mp3": "audio/mpeg",
    "aiff": "audio/aiff",
}
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def ranged_file_response(
    request: HttpRequest, path: Path, content_type: str
) -> HttpResponse | FileResponse:
    """A file response honouring one ``Range: bytes=a-b`` (what media elements send)."""
    size = path.stat().st_size
    match = _RANGE.match(request.headers.get("Range", "").strip())
    if not match or (not match.group(1) and not match.group(2)):
        whole = FileResponse(path.open("rb"), content_type=content_type)
        whole["Accept-Ranges"] = "bytes"
        return whole
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:  # "bytes=-500": the last 500 bytes
        start, end = max(0, size - int(last)), size - 1
    if start >= size or start > end:
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response
    with path.open("rb") as stream:
        stream.seek(start)
        # Media elements ask for open-ended ranges; answer in slices of at most 8 MiB.
        end = min(end, start + 8 * 1024 * 1024 - 1)
        body = stream.read(end - start + 1)
    response = HttpResponse(body, status=206, content_type=content_type)
    response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["Content-Length"] = str(len(body))
    return response


ARTIFACT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


@require_GET
def song_analysis_file(request: HttpRequest, pk: int, filename: str) -> FileResponse:
    """One file an analysis wrote (peaks levels, beats, loudness, spectrogram)."""
    analysis = SongAnalysis.objects.select_related("audio_file").filter(pk=pk).first()
    if analysis is None or not ARTIFACT_NAME.match(filename):
        raise Http404("No such analysis file.")
    access_song_for_user(request.user, analysis.song_id)
    path = Path(settings.MEDIA_ROOT) / artifact_prefix(analysis) / filename
    if not path.is_file():
        raise Http404("No such analysis file.")
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    response = FileResponse(path.open("rb"), content_type=content_type)
    # Artifacts of one analyser version never change: let the browser keep them.
    response["Cache-Control"] = "private, max-age=86400"
    return response


@require_GET
@permission_required("annotations.view_song", raise_exception=True)
@vary_on_headers("HX-Request")
def song_list(request: HtmxHttpRequest) -> HttpResponse:
    filters = {
        "search": request.GET.get("q", "").strip()[:200],
        "genre": request.GET.get("genre", "").strip()[:80],
        "culture": request.GET.get("culture", "").strip()[:80],
        "status": request.GET.get("status", "").strip()[:16],
        "sort": request.GET.get("sort", "title").strip()[:16],
    }
    page = selectors.song_list(
        search=filters["search"],
        genre=filters["genre"],
        culture=filters["culture"],
        status=filters["status"],
        sort=filters["sort"],
        after=request.GET.get("after", "")[:200],
    )
    template = "songs/list.html#results" if request.htmx else "songs/list.html"
    return render(
        request,
        template,
        {
            "page": page,
            "filters": filters,
            "statuses": Song.Status.choices,
            "sorts": selectors.SONG_SORT_LABELS.items(),
            "genres": Genre.objects.order_by("name"),
            "cultures": Culture.objects.order_by("name"),
        },
    )
