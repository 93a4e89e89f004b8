"""Telling a user's open pages that something changed. Notifications only: the database is the truth."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

log = logging.getLogger(__name__)


def user_group_name(user_id: int) -> str:
    return f"user-{user_id}"


def notify_user(*, user_id: int, event: str, data: dict[str, Any]) -> None:
    """Send ``event`` to every websocket the user has open. Never raises: a page that misses it
    still shows the truth on its next refresh."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(
            user_group_name(user_id), {"type": "notify", "event": event, "data": data}
        )
    except Exception:  # a down Redis must not fail the task that did the real work
        log.warning("could not notify user %s of %s", user_id, event, exc_info=True)
