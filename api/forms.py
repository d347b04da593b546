"""The submitted form as a dependency, so page routes stay synchronous.

Parsing the body is the only async step; it happens here, in the event loop. The route itself then
runs in the thread pool, where its database work (row locks included) may wait without blocking
every other request on this worker.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData


async def read_form(request: Request) -> FormData:
    return await request.form()


FormDep = Annotated[FormData, Depends(read_form)]


def date_from_parts(day: str, month: str, year: str, what: str) -> date:
    """A date from the three boxes of an NHS.UK date input, or ValueError saying what is wrong in
    words for the error summary (`what`: "The rating deadline")."""
    parts = {"day": day.strip(), "month": month.strip(), "year": year.strip()}
    if not any(parts.values()):
        raise ValueError(f"Enter {what[0].lower()}{what[1:]}")
    missing = next((name for name, value in parts.items() if not value), None)
    if missing:
        raise ValueError(f"{what} must include a {missing}")
    try:
        number = {name: int(value) for name, value in parts.items()}
        if not 1000 <= number["year"] <= 9999:
            raise ValueError
        return date(number["year"], number["month"], number["day"])
    except ValueError:
        raise ValueError(f"{what} must be a real date, for example 30 6 2027") from None
