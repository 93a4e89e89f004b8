"""The notification websocket through the real ASGI stack (Channels + the Redis channel layer)."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client

from annotations.core.consumers import UNAUTHENTICATED_CLOSE_CODE
from annotations.core.notifications import notify_user
from tests import factories
from workbench.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


def _headers_for(user) -> list[tuple[bytes, bytes]]:  # type: ignore[no-untyped-def]
    headers = [(b"origin", b"http://localhost"), (b"host", b"localhost")]
    if user is not None:
        client = Client()
        client.force_login(user)
        headers.append((b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()))
    return headers


def test_the_channel_layer_is_redis(settings) -> None:
    assert settings.CHANNEL_LAYERS["default"]["BACKEND"] == "channels_redis.core.RedisChannelLayer"


def test_an_anonymous_socket_is_closed_before_joining_anything() -> None:
    async def scenario():  # type: ignore[no-untyped-def]
        communicator = WebsocketCommunicator(
            application, "/ws/notifications/", headers=_headers_for(None)
        )
        connected, code = await communicator.connect()
        return connected, code

    assert async_to_sync(scenario)() == (False, UNAUTHENTICATED_CLOSE_CODE)


def test_a_user_receives_their_own_notifications_only() -> None:
    maya, arjun = factories.expert(username="maya"), factories.expert(username="arjun")
    maya_headers, arjun_headers = _headers_for(maya), _headers_for(arjun)

    async def scenario():  # type: ignore[no-untyped-def]
        mine = WebsocketCommunicator(application, "/ws/notifications/", headers=maya_headers)
        theirs = WebsocketCommunicator(application, "/ws/notifications/", headers=arjun_headers)
        assert (await mine.connect())[0]
        assert (await theirs.connect())[0]
        await sync_to_async(notify_user)(
            user_id=maya.pk, event="audio_file.probed", data={"song": 7}
        )
        received = await mine.receive_json_from(timeout=5)
        nothing_for_arjun = await theirs.receive_nothing(timeout=0.5)
        await mine.send_json_to({"type": "ping"})
        pong = await mine.receive_json_from(timeout=5)
        await mine.disconnect()
        await theirs.disconnect()
        return received, nothing_for_arjun, pong

    received, nothing_for_arjun, pong = async_to_sync(scenario)()
    assert received == {"type": "notification", "event": "audio_file.probed", "data": {"song": 7}}
    assert nothing_for_arjun is True
    assert pong == {"type": "pong"}


def test_a_socket_from_a_foreign_origin_is_refused() -> None:
    user = factories.expert()
    headers = [h for h in _headers_for(user) if h[0] != b"origin"] + [
        (b"origin", b"http://evil.example")
    ]

    async def scenario():  # type: ignore[no-untyped-def]
        communicator = WebsocketCommunicator(application, "/ws/notifications/", headers=headers)
        connected, _ = await communicator.connect()
        return connected

    assert async_to_sync(scenario)() is False
