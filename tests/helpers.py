from __future__ import annotations

from django.test import Client


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    """A test client signed in as ``user`` (anonymous for None)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client
