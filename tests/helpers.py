from __future__ import annotations

from django.test import Client

from tests import factories


def client_for(user) -> Client:  # type: ignore[no-untyped-def]
    """A test client signed in as ``user`` (anonymous for None)."""
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def sign_in(page, live_server, username: str) -> None:  # type: ignore[no-untyped-def]
    """Sign in through the login form in a Playwright page (the password every factory user has)."""
    page.goto(live_server.url + "/")
    page.fill("#id_username", username)
    page.fill("#id_password", factories.PASSWORD)
    page.click("button[type=submit]")
