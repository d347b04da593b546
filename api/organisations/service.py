"""Importing the reference list of NHS trusts: every row checked before anything is written."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, select

from api.errors import InputError
from api.organisations.models import Organisation
from api.organisations.types import PEER_TYPE_OF, REGIONS, SIZE_BANDS, TRUST_TYPES

SHIPPED_CSV = Path(__file__).parent / "data" / "nhs-trusts.csv"
REQUIRED_COLUMNS = ("ods_code", "name", "trust_type", "region")
ODS_CODE = re.compile(r"^[A-Z0-9]{3,5}$")


@dataclass(frozen=True)
class OrganisationRow:
    line: int
    ods_code: str
    name: str
    trust_type: str
    region: str
    size_band: str | None


@dataclass(frozen=True)
class ImportResult:
    added: int
    updated: int


def parse_organisations_csv(text: str) -> list[OrganisationRow]:
    """Every row valid, or an InputError listing each bad row by its line number."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise InputError(
            "line 1: the header must include "
            + ",".join(REQUIRED_COLUMNS)
            + f" (missing {', '.join(missing)})"
        )
    rows: list[OrganisationRow] = []
    errors: list[str] = []
    first_line_of: dict[str, int] = {}
    for record in reader:
        line = reader.line_num
        values = {k.strip(): (v or "").strip() for k, v in record.items() if k is not None}
        if None in record:
            errors.append(f"line {line}: more fields than the header names")
            continue
        problems = [f"{c} is missing" for c in REQUIRED_COLUMNS if not values.get(c)]
        code = values.get("ods_code", "").upper()
        if code and not ODS_CODE.match(code):
            problems.append(f"ods_code {code!r} is not 3 to 5 letters or digits")
        trust_type = values.get("trust_type", "")
        if trust_type and trust_type not in TRUST_TYPES:
            problems.append(f"unknown trust_type {trust_type!r} (expected one of {', '.join(TRUST_TYPES)})")
        region = values.get("region", "")
        if region and region not in REGIONS:
            problems.append(f"unknown region {region!r} (expected one of {', '.join(REGIONS)})")
        size_band = values.get("size_band") or None
        if size_band and size_band not in SIZE_BANDS:
            problems.append(f"unknown size_band {size_band!r} (expected one of {', '.join(SIZE_BANDS)})")
        if code and code in first_line_of:
            problems.append(f"duplicate ods_code {code} (first on line {first_line_of[code]})")
        elif code:
            first_line_of[code] = line
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        rows.append(OrganisationRow(line, code, values["name"], trust_type, region, size_band))
    if errors:
        raise InputError("\n".join(errors))
    if not rows:
        raise InputError("the file has a header but no organisations")
    return rows


def import_organisations(session: Session, rows: list[OrganisationRow]) -> ImportResult:
    """Add new trusts and refresh the details of known ones (matched by ODS code)."""
    existing = {o.ods_code: o for o in session.exec(select(Organisation)).all()}
    added = updated = 0
    for row in rows:
        organisation = existing.get(row.ods_code)
        if organisation is None:
            organisation = Organisation(
                ods_code=row.ods_code, name=row.name, trust_type="", peer_type="", region=""
            )
            added += 1
        else:
            updated += 1
        organisation.name = row.name
        organisation.trust_type = row.trust_type
        organisation.peer_type = PEER_TYPE_OF[row.trust_type]
        organisation.region = row.region
        if row.size_band is not None:
            organisation.size_band = row.size_band
        session.add(organisation)
    session.flush()
    return ImportResult(added=added, updated=updated)


def read_csv_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such file") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 text (save the CSV as UTF-8)") from exc
