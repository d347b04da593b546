"""Cells for files people open in a spreadsheet: text that a spreadsheet would run as a formula is defused."""

from __future__ import annotations

from typing import Any

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value for a CSV or spreadsheet cell: text that could start a formula gets a leading apostrophe.

    Numbers, dates and None pass through unchanged: only text typed by people can carry a formula.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
