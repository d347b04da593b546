"""Integers a request carries into a query (ids, versions) must fit the database's INTEGER columns.

PostgreSQL's INTEGER holds at most 2**31 - 1. A bigger number from a request could never match a
row, and SQLite cannot even bind one beyond 2**63 - 1 (OverflowError: a 500). So request fields
declare these bounds (a 422 naming the field), and an id in a path that cannot name a row is
answered as any other id that names nothing: 404.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

MAX_INTEGER = 2**31 - 1

RowId = Annotated[int, Field(ge=1, le=MAX_INTEGER)]


def can_name_a_row(row_id: int) -> bool:
    """False for an id no row can have (so the query need not, and on SQLite cannot, be run)."""
    return 1 <= row_id <= MAX_INTEGER
