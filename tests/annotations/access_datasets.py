"""The dataset pages' rows of the URL access matrix (merged into test_url_access.MATRIX)."""

from __future__ import annotations

from typing import Any

# url name -> (method, {who: expected}[, objects key]) exactly as in test_url_access.MATRIX.
MATRIX: dict[str, tuple] = {}


def objects(**fixtures: Any) -> dict[str, dict[str, object]]:
    """URL kwargs per kind of object these routes point at (keys must not clash with others)."""
    return {}
