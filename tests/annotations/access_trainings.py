"""The training pages' rows of the URL access matrix (merged into test_url_access.MATRIX)."""

from __future__ import annotations

from typing import Any

ANON, LOGIN_REDIRECT = "anonymous", "login"

# url name -> (method, {who: expected}[, objects key]) exactly as in test_url_access.MATRIX.
# Admins launch and cancel (run_training); auditors read runs and their metrics; experts neither.
MATRIX: dict[str, tuple] = {
    "training_run_list": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
    ),
    "training_run_new": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 403},
    ),
    "training_run_detail": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
        "training_run",
    ),
    "training_run_metrics": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
        "training_run",
    ),
    # The fixture's run is queued: an admin's cancel takes effect and redirects to the run.
    "training_run_cancel": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 302, "auditor": 403},
        "training_run",
    ),
}


def objects(**fixtures: Any) -> dict[str, dict[str, object]]:
    """URL kwargs per kind of object these routes point at (keys must not clash with others)."""
    from tests import factories

    return {"training_run": {"pk": factories.TrainingRunFactory().pk}}
