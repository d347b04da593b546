"""Domain errors that carry their HTTP status; 422 is left to request validation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class DomainError(Exception):
    """A request the service's rules refuse, answered with its `status_code` (and `headers`): to the
    JSON API as `{"detail": message, **extra}`, to a page as the error page with the message."""

    status_code = 400
    headers: dict[str, str] | None = None

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra


class NotFound(DomainError):
    """No such object among the caller's boards: another trust's is not confirmed either."""

    status_code = 404


class Forbidden(DomainError):
    status_code = 403


class Conflict(DomainError):
    """Not with how things stand: a stale version (`extra` holds the current one), or too late."""

    status_code = 409


class Unprocessable(DomainError):
    """A well-formed request the rules refuse (e.g. submitting with criteria unanswered)."""

    status_code = 422


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


# --- How the JSON API documents its errors -------------------------------------------------------


class FieldProblem(BaseModel):
    """One field that is missing or not valid."""

    loc: list[str | int] = Field(description='Where: ["body", "title"], ["query", "cycle"], ["path", ...]')
    field: str = Field(description="The field's name (dotted for a nested one)")
    msg: str
    type: str


class ErrorBody(BaseModel):
    """The body of every error answer of the JSON API.

    `detail` is a message, or for a request the rules refuse field by field (422), one entry per
    field. Some answers add more: a 409 for a stale version holds the `current` value, a refused
    sign-off lists what is `missing`.
    """

    model_config = ConfigDict(extra="allow")

    detail: str | list[FieldProblem]


ERROR_DESCRIPTIONS: dict[int, str] = {
    400: "The body could not be read (not UTF-8 JSON, or a broken form)",
    401: "No bearer token, or it is not valid or has expired",
    403: "Your role does not allow this",
    404: "No such object among your boards (another trust's is not confirmed)",
    409: "Conflicts with how things stand: a stale version (the answer holds the current one), "
    "or nothing can change any more",
    422: "A field is missing or not valid (each is named), or the request breaks a rule",
    429: "Too many attempts: try again later",
}


def error_responses(*codes: int, described: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for these error statuses (and those `described` in words of one's own),
    each with the ErrorBody schema: `error_responses(401, 404, described={409: "Already open"})`."""
    described = described or {}
    return {
        code: {"model": ErrorBody, "description": described.get(code, ERROR_DESCRIPTIONS[code])}
        for code in sorted({*codes, *described})
    }
