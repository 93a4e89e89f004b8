"""Domain errors: a stable code and a message a person can act on. Views show the message."""


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
