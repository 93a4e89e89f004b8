"""The model pages' rows of the URL access matrix (merged into test_url_access.MATRIX)."""

from __future__ import annotations

from typing import Any

ANON = "anonymous"
LOGIN_REDIRECT = "login"

# url name -> (method, {who: expected}[, objects key]) exactly as in test_url_access.MATRIX.
MATRIX: dict[str, tuple] = {
    "model_version_list": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
    ),
    "model_version_detail": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
        "model_version",
    ),
    # Admins reach each action, which redirects back to the version page with its outcome.
    "model_version_promote": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 302, "auditor": 403},
        "model_version",
    ),
    # Without a snapshot the action redirects back and says to pick one.
    "model_version_evaluate": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 302, "auditor": 403},
        "model_version",
    ),
    "model_version_retire": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 302, "auditor": 403},
        "model_version",
    ),
}


def objects(**fixtures: Any) -> dict[str, dict[str, object]]:
    """URL kwargs per kind of object these routes point at (keys must not clash with others)."""
    from tests import factories

    parent = factories.ModelVersionFactory()
    version = factories.ModelVersionFactory(parent=parent)
    factories.ModelEvaluationFactory(model_version=version, status="succeeded")
    return {"model_version": {"pk": version.pk}}
