"""Every URL tried as each role and as an anonymous visitor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.annotations import access_audit, access_datasets, access_models, access_trainings
from tests.helpers import client_for

ANON = "anonymous"
ROLES = ("expert", "admin", "auditor")
LOGIN_REDIRECT = "login"
ADMIN_LOGIN_REDIRECT = "admin-login"

# url name -> (method, {who: expected status or redirect kind}[, name of the objects entry whose
# URL kwargs to use]); the ``objects`` fixture below builds the objects such URLs point at.
MATRIX: dict[str, tuple] = {
    "home": ("get", {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200}),
    "song_list": ("get", {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200}),
    "song_upload": ("get", {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 403}),
    "song_upload_file": (
        "post",
        # Admins reach the view, which refuses an empty upload with 400 and says why.
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 400, "auditor": 403},
    ),
    "song_detail": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200},
        "song",
    ),
    "song_analysis_panel": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200},
        "song",
    ),
    "song_reanalyse": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 403},
        "song",
    ),
    "song_analysis_file": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200},
        "analysis_file",
    ),
    "audio_file_stream": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200},
        "audio_file",
    ),
    "generation_list": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200},
    ),
    "generation_new": ("get", {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 403}),
    "generation_detail": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200},
        "generation",
    ),
    "generation_hint_decide": (
        "post",
        # Experts reach the view, which refuses a missing decision with 400 and says why.
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 403, "auditor": 403},
        "hint",
    ),
    "review_queue": ("get", {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 403, "auditor": 403}),
    # Claims the fixture's second output and redirects to it; other roles cannot review.
    "review_next": ("post", {ANON: LOGIN_REDIRECT, "expert": 302, "admin": 403, "auditor": 403}),
    # The review is the expert's draft: blind to everyone else, who are told it does not exist.
    "review_detail": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 404, "auditor": 404},
        "review",
    ),
    # The author reaches each save, which refuses a form without a version with 400 and says why.
    "review_draft": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 404, "auditor": 404},
        "review",
    ),
    "review_flag_create": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 404, "auditor": 404},
        "review",
    ),
    "review_flag_update": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 404, "auditor": 404},
        "review_flag",
    ),
    "review_flag_delete": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 404, "auditor": 404},
        "review_flag",
    ),
    "review_hint_dismiss": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 404, "auditor": 404},
        "review_hint",
    ),
    "review_skip": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 404, "auditor": 404},
        "review",
    ),
    "review_submit": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 400, "admin": 404, "auditor": 404},
        "review",
    ),
    # Experts hold no reward permission: the breakdown shows other reviewers' flags (blindness).
    "generation_rewards": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
        "generation",
    ),
    "reward_overview": ("get", {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200}),
    "reward_profile_list": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
    ),
    "reward_profile_new": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 403},
    ),
    "reward_profile_edit": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 403},
        "reward_profile",
    ),
    "taxonomy": ("get", {ANON: LOGIN_REDIRECT, "expert": 200, "admin": 200, "auditor": 200}),
    "health": ("get", {ANON: 200, "expert": 200, "admin": 200, "auditor": 200}),
    "login": ("get", {ANON: 200, "expert": 200, "admin": 200, "auditor": 200}),
    "logout": ("post", {ANON: 302, "expert": 302, "admin": 302, "auditor": 302}),
    "admin:index": (
        "get",
        {
            ANON: ADMIN_LOGIN_REDIRECT,
            "expert": ADMIN_LOGIN_REDIRECT,
            "admin": 200,
            "auditor": ADMIN_LOGIN_REDIRECT,
        },
    ),
}


# Each area's pages keep their rows in their own module, so parallel work does not collide here.
_AREAS = (access_datasets, access_trainings, access_models, access_audit)
for _area in _AREAS:
    assert not set(_area.MATRIX) & set(MATRIX), "a URL name is in two access matrices"
    MATRIX.update(_area.MATRIX)


def _project_url_names() -> set[str]:
    """Names of every non-admin route, so a new page cannot skip this matrix."""
    names: set[str] = set()

    def walk(patterns: list, namespace: str | None) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                if pattern.namespace == "admin":
                    continue
                walk(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and pattern.name:
                names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)

    walk(get_resolver().url_patterns, None)
    return names


def test_every_route_is_in_the_access_matrix() -> None:
    missing = _project_url_names() - set(MATRIX)
    assert not missing, f"add these URLs to the access matrix: {sorted(missing)}"


def _make_objects(tmp_path, expert_user) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    """URL kwargs per kind of object, for routes that point at one."""
    from pathlib import Path

    from django.conf import settings

    from annotations.songs.models import SongAnalysis
    from annotations.songs.services.analysis import artifact_prefix
    from annotations.songs.services.song_import import SongMetadata, song_import_file
    from tests.audio_files import write_tone

    result = song_import_file(path=write_tone(tmp_path / "a.wav"), metadata=SongMetadata())
    analysis = SongAnalysis.objects.get(song_id=result.song_id)
    folder = Path(settings.MEDIA_ROOT) / artifact_prefix(analysis)
    folder.mkdir(parents=True)
    (folder / "beats.json").write_text('{"beats": [], "downbeats": []}')
    from annotations.generations.models import GenerationHint
    from tests import factories

    generation = factories.GenerationFactory(song_id=result.song_id)
    hint = GenerationHint.objects.create(generation=generation, kind="tempo", message="off")
    # The matrix's expert holds a draft (with a flag) of this output; a second output stays free
    # for review_next to claim.
    review = factories.ReviewFactory(generation=generation, expert=expert_user)
    flag = factories.FlagFactory(review=review)
    factories.GenerationFactory(song_id=result.song_id)
    extra: dict[str, dict[str, object]] = {}
    for area in _AREAS:
        extra.update(
            area.objects(tmp_path=tmp_path, expert_user=expert_user, song_id=result.song_id)
        )
    return {
        **extra,
        "review": {"pk": review.pk},
        "review_flag": {"pk": review.pk, "flag_pk": flag.pk},
        "review_hint": {"pk": review.pk, "hint_pk": hint.pk},
        "generation": {"pk": generation.pk},
        "hint": {"pk": generation.pk, "hint_pk": hint.pk},
        "song": {"pk": result.song_id},
        "audio_file": {"pk": analysis.audio_file_id},
        "analysis_file": {"pk": analysis.pk, "filename": "beats.json"},
        "reward_profile": {"pk": factories.RewardProfileFactory().pk},
    }


@pytest.fixture(scope="module")
def _module_rows(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The users and objects the cases here use, made once per module rather than per case.

    They are made in a transaction that stays open for the module. Each case runs inside it in
    pytest-django's own per-test transaction (here a savepoint), so each starts from exactly these
    rows and whatever it changes is rolled back; the module's end rolls back the rows themselves.
    Their files live in one storage folder, which every case of the module uses as MEDIA_ROOT.
    The import's analysis, queued on commit, is never run (no commit happens), as before.
    """
    from django.db import transaction
    from django.test import override_settings

    from tests import factories

    root = tmp_path_factory.mktemp("url-access")
    with django_db_blocker.unblock():
        module_transaction = transaction.atomic()
        module_transaction.__enter__()
        try:
            with override_settings(MEDIA_ROOT=str(root / "storage")):
                users = {
                    "expert": factories.expert(username="expert"),
                    "admin": factories.admin(username="admin"),
                    "auditor": factories.auditor(username="auditor"),
                }
                objects = _make_objects(root, users["expert"])
        except BaseException:
            transaction.set_rollback(True)
            module_transaction.__exit__(None, None, None)
            raise
    yield {"storage": root / "storage", "users": users, "objects": objects}
    with django_db_blocker.unblock():
        transaction.set_rollback(True)
        module_transaction.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _storage_in_tmp(settings, request, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Cases that use the rows above share the storage that holds their files.

    Only cases that ask for them (through the fixtures below) get them: those are made before the
    case's own transaction begins. pytest-django runs this module's one case without a database
    last, after the transactional tests have emptied the tables the rows need.
    """
    if "_module_rows" in request.fixturenames:
        settings.MEDIA_ROOT = str(request.getfixturevalue("_module_rows")["storage"])
    else:
        settings.MEDIA_ROOT = str(tmp_path / "storage")


@pytest.fixture
def role_users(db, _module_rows):  # type: ignore[no-untyped-def]
    return _module_rows["users"]


@pytest.fixture
def expert_user(db, _module_rows):  # type: ignore[no-untyped-def]
    return _module_rows["users"]["expert"]


@pytest.fixture
def objects(db, _module_rows) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    return _module_rows["objects"]


@pytest.mark.parametrize("who", (ANON, *ROLES))
@pytest.mark.parametrize("url_name", sorted(MATRIX))
def test_access(url_name: str, who: str, role_users, request) -> None:
    method, expectations, *target = MATRIX[url_name]
    expected = expectations[who]
    client = client_for(None if who == ANON else role_users[who])
    kwargs = request.getfixturevalue("objects")[target[0]] if target else {}
    url = reverse(url_name, kwargs=kwargs)
    response = getattr(client, method)(url)
    if expected == LOGIN_REDIRECT:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login") + "?next=")
    elif expected == ADMIN_LOGIN_REDIRECT:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    else:
        assert response.status_code == expected, response.content[:300]


def test_a_forbidden_page_explains_itself(expert_user) -> None:
    response = client_for(expert_user).get(reverse("model_version_list"))
    assert response.status_code == 403
    assert b"Your account's role cannot open this page" in response.content


def test_an_unknown_page_is_a_readable_404(expert_user) -> None:
    response = client_for(expert_user).get("/no-such-page/")
    assert response.status_code == 404
    assert b"Not found (404)" in response.content
