"""Domain errors: a stable code and a message a person can act on. Views show the message."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class ApplicationError(Exception):
    code = "error"

    def __init__(self, message: str, *, extra: dict | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}


class ValidationFailed(ApplicationError):
    code = "invalid"


class ConflictError(ApplicationError):
    """The object changed since the caller read it (e.g. a review edited in another tab)."""

    code = "conflict"


class StorageError(ApplicationError):
    code = "storage"


@dataclass(frozen=True)
class ReviewProblem:
    """One thing that stops a submit: the form field (or "flag-<id>") and what to do."""

    field: str
    message: str


class StaleReview(ConflictError):
    """The page's version is not the saved one: another tab or window changed the review."""

    def __init__(self, review: Any) -> None:
        super().__init__(
            "This review was changed in another tab or window since this page loaded; your last "
            "change was not saved. The saved version is shown: redo the change on it."
        )
        self.review = review


class ReviewIncomplete(ValidationFailed):
    def __init__(self, problems: list[ReviewProblem]) -> None:
        count = len(problems)
        super().__init__(f"{count} thing{'s' if count != 1 else ''} to fix before submitting.")
        self.problems = problems
