"""Importing the reference list of NHS trusts: every row checked before anything is written."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
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


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower().replace(",", "").replace("&", " and ")).split())


def _known(typed: str, choices: dict[str, str]) -> str | None:
    """The key for what a person typed: the key itself or its label, in any case, with "&" for
    "and" and spaces, hyphens or underscores alike ("Acute", "mental-health & community").
    Empty: "" (the missing-column check reports it); not known: None."""
    if not typed:
        return ""
    wanted = _words(typed)
    for key, label in choices.items():
        if wanted in (_words(key), _words(label)):
            return key
    return None


def _not_known(what: str, typed: str, allowed: Iterable[str]) -> str:
    return f"the {what} {typed!r} is not one we know (use one of: {', '.join(allowed)})"


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
        trust_type = _known(values.get("trust_type", ""), TRUST_TYPES)
        if trust_type is None:
            problems.append(_not_known("trust type", values["trust_type"], TRUST_TYPES.values()))
        region = _known(values.get("region", ""), {r: r for r in REGIONS})
        if region is None:
            problems.append(_not_known("region", values["region"], REGIONS))
        size_band = _known(values.get("size_band", ""), SIZE_BANDS) or None
        if values.get("size_band") and size_band is None:
            problems.append(_not_known("size band", values["size_band"], SIZE_BANDS.values()))
        if code and code in first_line_of:
            problems.append(f"duplicate ods_code {code} (first on line {first_line_of[code]})")
        elif code:
            first_line_of[code] = line
        if problems:
            errors.append(f"line {line}: " + "; ".join(problems))
            continue
        rows.append(OrganisationRow(line, code, values["name"], trust_type or "", region or "", size_band))
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
