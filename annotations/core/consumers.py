"""Websocket consumers. They authorise in connect() before joining any group."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

from annotations.core.notifications import user_group_name

UNAUTHENTICATED_CLOSE_CODE = 4401


class NotificationConsumer(AsyncJsonWebsocketConsumer):
    """Pushes a user's notifications (task progress, finished jobs) to each of their open pages."""

    group_name: str | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED_CLOSE_CODE)
            return
        self.group_name = user_group_name(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        # The channel is server-to-browser only; answer pings so clients can check liveness.
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def notify(self, message: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "notification", "event": message["event"], "data": message["data"]}
        )
