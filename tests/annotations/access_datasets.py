"""The dataset pages' rows of the URL access matrix (merged into test_url_access.MATRIX)."""

from __future__ import annotations

from typing import Any

ANON, LOGIN_REDIRECT = "anonymous", "login"  # as in test_url_access (which imports this module)

# url name -> (method, {who: expected}[, objects key]) exactly as in test_url_access.MATRIX.
# Auditors read snapshots; only admins (curate_datasets) create or rebuild them.
MATRIX: dict[str, tuple] = {
    "dataset_snapshot_list": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
    ),
    "dataset_snapshot_new": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 403},
    ),
    "dataset_snapshot_detail": (
        "get",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200},
        "dataset_snapshot",
    ),
    # Admins reach the view, which refuses to rebuild a frozen snapshot and redirects back to it.
    "dataset_snapshot_retry": (
        "post",
        {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 302, "auditor": 403},
        "dataset_snapshot",
    ),
}


def objects(**fixtures: Any) -> dict[str, dict[str, object]]:
    """URL kwargs per kind of object these routes point at (keys must not clash with others)."""
    from tests import factories

    return {"dataset_snapshot": {"pk": factories.DatasetSnapshotFactory().pk}}
