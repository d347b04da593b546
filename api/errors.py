"""Domain errors that carry their HTTP status; 422 is left to request validation."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "error"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Unprocessable(DomainError):
    """A well-formed request the rules refuse (e.g. submitting with criteria unanswered)."""

    status_code = 422
    code = "unprocessable"


class InputError(ValueError):
    """Bad input to a command or an import: a message a person can act on."""
