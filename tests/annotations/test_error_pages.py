"""Error pages a person can read, without tracebacks, whatever broke."""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from django.test import RequestFactory
from django.views import defaults


def test_the_500_page_needs_no_database_or_context() -> None:
    response = defaults.server_error(RequestFactory().get("/"))
    body = response.content.decode()
    assert response.status_code == 500
    assert "Nothing you had already saved is lost" in body
    assert "Traceback" not in body


def test_the_400_page_says_what_to_do(expert_user) -> None:
    request = RequestFactory().get("/")
    request.user = expert_user
    response = defaults.bad_request(request, SuspiciousOperation("bad"))
    assert response.status_code == 400
    assert "check what you entered" in response.content.decode()


def test_a_bad_host_header_gets_the_400_page(client) -> None:
    response = client.get("/health/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert "Bad request (400)" in response.content.decode()
