from __future__ import annotations

from django.test import Client

from annotations.reviews import services as reviews
from annotations.reviews.models import Review
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


def complete_review_form(review: Review, **overrides: str) -> dict[str, str]:
    """A form that passes every submit rule (accept, all graded, rated, verified)."""
    data: dict[str, str] = {"verdict": "accept", "comment": "", "corrected_caption": ""}
    for number in reviews.generation_steps(review.generation):
        data[f"step_{number}"] = "correct"
    for code, _label in reviews.REVIEW_ASPECTS:
        data[f"aspect_{code}"] = "4"
    values = {
        "tempo_bpm": "92",
        "key": "D minor",
        "meter": "4/4",
        "genres": "Hindustani classical, pop",
        "instruments": "sitar, tabla",
        "vocals": "female lead",
        "languages": "Hindi",
        "culture": "Hindustani",
    }
    for name, value in values.items():
        data[f"meta_{name}"] = value
        data[f"meta_{name}_status"] = "confirmed"
        data[f"meta_{name}_source"] = "expert"
    data.update(overrides)
    return data
