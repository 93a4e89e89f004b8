"""The one way in to this room's objects named in URLs (see annotations.core.permissions)."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from annotations.core.permissions import require_perm as _require
from annotations.datasets.models import DatasetSnapshot


def access_dataset_snapshot_for_user(user: Any, pk: int, *, write: bool = False) -> DatasetSnapshot:
    """Auditors read snapshots (``view_datasetsnapshot``); with ``write``, admins curate them
    (``curate_datasets``)."""
    _require(user, "curate_datasets" if write else "view_datasetsnapshot")
    try:
        return DatasetSnapshot.objects.select_related("created_by").get(pk=pk)
    except DatasetSnapshot.DoesNotExist:
        raise Http404("No such dataset snapshot.") from None
