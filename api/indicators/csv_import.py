"""Reading WRES figures from a CSV file: one row per figure, every row checked, all or nothing.

The file (docs/indicators.md):

    indicator,group,value
    1,workforce,24.5
    1,senior,12
    2,,1.62
    5,White,28.1
    5,BME,30.4
    9,,-6.5

- `indicator`: 1 to 9 ("5", "WRES 5", "Indicator 5" and "wres-5" all read as 5). Also read from a
  column headed "WRES indicator", "Indicator number" or "No.".
- `group`: for indicators 5 to 8, White or BME ("BAME", "Black and minority ethnic" and "ethnic
  minority" read as BME); for indicator 1, workforce (the whole workforce) or senior (bands 8a and
  above); blank for 2, 3, 4 and 9. Also headed "Staff group", "Ethnicity" or "Measure".
- `value`: the figure as published; "27.5%" is read as 27.5. Also headed "Figure", "Result",
  "Percentage" or "Ratio". A blank value records the figure as not recorded.

Header names are read without regard to case, spaces or punctuation; other columns are ignored.
Figures the file leaves out keep what was recorded before. Every problem is reported with its row
(the header is row 1, as a spreadsheet numbers it) and column, and nothing is recorded unless
every row is right.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass

from api.indicators.definitions import MEASURES, Measure
from api.indicators.schemas import in_range, measure_name, range_rule, typed_figure

MAX_ROWS = 200

HEADERS: dict[str, tuple[str, ...]] = {
    "indicator": ("indicator", "wres indicator", "indicator number", "indicator no", "no", "number", "wres"),
    "group": ("group", "staff group", "ethnicity", "ethnic group", "measure", "breakdown"),
    "value": ("value", "figure", "result", "percentage", "percent", "ratio", "score"),
}
GROUPS: dict[str, tuple[str, ...]] = {
    "white": ("white", "white staff"),
    "bme": (
        "bme",
        "bme staff",
        "bame",
        "bame staff",
        "black and minority ethnic",
        "black asian and minority ethnic",
        "ethnic minority",
        "ethnic minority staff",
        "ethnic minorities",
    ),
    "workforce": ("workforce", "whole workforce", "overall workforce", "all staff", "overall", "all bands"),
    "senior": (
        "senior",
        "band 8a and above",
        "bands 8a and above",
        "8a and above",
        "8a",
        "band 8a",
        "senior staff",
    ),
    "": ("", "all", "n a", "na", "none"),
}


@dataclass(frozen=True)
class Problem:
    row: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"Row {self.row}, column {self.column}: {self.message}"


class ImportRefused(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(map(str, problems)))
        self.problems = problems


def _words(text: str) -> str:
    """ "WRES Indicator No." -> "wres indicator no": lower case, punctuation as spaces."""
    return " ".join(re.sub(r"[^a-z0-9+]+", " ", text.lower()).split()).replace("+", " and above").strip()


def _columns(header: list[str]) -> tuple[dict[str, int], list[Problem]]:
    found: dict[str, int] = {}
    problems = []
    for index, name in enumerate(header):
        words = _words(name)
        for column, spellings in HEADERS.items():
            if words in spellings:
                if column in found:
                    problems.append(Problem(1, name.strip(), f"the file has two {column} columns"))
                found.setdefault(column, index)
    for column in ("indicator", "value"):
        if column not in found:
            problems.append(
                Problem(
                    1, column, f"the file needs a column headed {column} (see the columns this page lists)"
                )
            )
    return found, problems


def _indicator(text: str) -> int | None:
    match = re.fullmatch(r"(?:wres)?\s*(?:indicator)?\s*(?:no\.?)?\s*-?\s*(\d{1,2})", text.strip().lower())
    if match is None:
        return None
    number = int(match.group(1))
    return number if 1 <= number <= 9 else None


def _group(text: str) -> str | None:
    words = _words(text)
    return next((group for group, spellings in GROUPS.items() if words in spellings), None)


def _measure(number: int, group: str) -> Measure | None:
    return next((m for m in MEASURES if m.indicator == number and m.group == group), None)


GROUP_HINTS = {
    1: "workforce (the whole workforce) or senior (bands 8a and above)",
    **{n: "White or BME" for n in (5, 6, 7, 8)},
    **{n: "blank: it is one figure" for n in (2, 3, 4, 9)},
}


def parse_wres_csv(text: str) -> dict[str, float | None]:
    """The figures in the file by command field (None: recorded as not recorded), or ImportRefused
    listing every problem."""
    rows = list(csv.reader(io.StringIO(text)))
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise ImportRefused([Problem(1, "indicator", "the file is empty")])
    columns, problems = _columns(rows[0])
    if problems:
        raise ImportRefused(problems)
    data = [(number, row) for number, row in enumerate(rows[1:], start=2) if any(c.strip() for c in row)]
    if not data:
        raise ImportRefused([Problem(2, "indicator", "the file has a header but no figures")])
    if len(data) > MAX_ROWS:
        raise ImportRefused([Problem(MAX_ROWS + 2, "indicator", f"the file has more than {MAX_ROWS} rows")])

    def cell(row: list[str], column: str) -> str:
        index = columns.get(column)
        return row[index].strip() if index is not None and index < len(row) else ""

    values: dict[str, float | None] = {}
    seen: dict[str, int] = {}
    for row_number, row in data:
        raw_indicator = cell(row, "indicator")
        number = _indicator(raw_indicator)
        if number is None:
            problems.append(
                Problem(row_number, "indicator", f"“{raw_indicator}” is not a WRES indicator: enter 1 to 9")
            )
            continue
        group = _group(cell(row, "group"))
        measure = _measure(number, group) if group is not None else None
        if measure is None:
            shown = cell(row, "group") or "blank"
            problems.append(
                Problem(
                    row_number,
                    "group",
                    f"“{shown}” is not a group of WRES indicator {number}: enter {GROUP_HINTS[number]}",
                )
            )
            continue
        if measure.field in seen:
            problems.append(
                Problem(
                    row_number,
                    "indicator",
                    f"{measure_name(measure)} is already on row {seen[measure.field]}: give each figure once",
                )
            )
            continue
        seen[measure.field] = row_number
        raw_value = cell(row, "value")
        typed = typed_figure(raw_value)
        if typed == "":
            values[measure.field] = None
            continue
        try:
            value = float(typed)
        except ValueError:
            problems.append(
                Problem(row_number, "value", f"“{raw_value}” is not a number: {range_rule(measure)}")
            )
            continue
        if not in_range(measure, value):
            problems.append(
                Problem(row_number, "value", f"{raw_value} is out of range: {range_rule(measure)}")
            )
            continue
        values[measure.field] = value
    if problems:
        raise ImportRefused(problems)
    return values
