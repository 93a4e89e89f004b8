"""The audit pages' rows of the URL access matrix (merged into test_url_access.MATRIX).

Experts hold no audit permission: the figures pool other experts' reviews, and reviews are blind.
"""

from __future__ import annotations

from typing import Any

ANON = "anonymous"
LOGIN_REDIRECT = "login"

_READ = {ANON: LOGIN_REDIRECT, "expert": 403, "admin": 200, "auditor": 200}

# url name -> (method, {who: expected}[, objects key]) exactly as in test_url_access.MATRIX.
MATRIX: dict[str, tuple] = {
    "audit_dashboard": ("get", _READ),
    "audit_compare": ("get", _READ),
    "audit_blind_spots": ("get", _READ),
    "audit_agreement": ("get", _READ),
    "audit_spans": ("get", _READ),
}


def objects(**fixtures: Any) -> dict[str, dict[str, object]]:
    """The audit routes point at no object."""
    return {}
