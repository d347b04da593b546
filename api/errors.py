"""Domain errors that carry their HTTP status; 422 is left to request validation."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "error"
    headers: dict[str, str] | None = None

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


class FieldError(Unprocessable):
    """A rule about one field of the request: answered 422 in the same shape as validation errors."""

    def __init__(self, field: str, message: str, location: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.location = location

    def as_detail(self) -> list[dict[str, object]]:
        return [
            {
                "loc": [self.location, self.field],
                "field": self.field,
                "msg": self.message,
                "type": "value_error",
            }
        ]
