"""One way in to each object: fetch by primary key and authorise in the same call.

Each room's ``permissions.py`` holds its ``access_<entity>_for_user``. Views never call
``Model.objects.get`` on user input; they call ``access_<entity>_for_user``, which raises ``Http404``
when the object does not exist *or* the user may not know it exists, and ``PermissionDenied`` when
they may see it but not do what they asked.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied


def require_perm(user: Any, perm: str) -> None:
    """Raise ``PermissionDenied`` unless the user holds ``annotations.<perm>``."""
    if not user.has_perm(f"annotations.{perm}"):
        raise PermissionDenied
