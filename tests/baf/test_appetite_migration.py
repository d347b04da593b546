"""Revision 9eba0612dfa8: the BAF risk gains risk appetite, the date to reach target, the lead committee
and its level of assurance, and its inherent scores become optional.

A risk recorded before it keeps everything it had and reads as no appetite and no assurance level
recorded; the database refuses an upside-down appetite range or an unknown assurance level. Downgrading
gives a risk saved without inherent scores its residual ones (the earlier schema requires them). Run on
this run's backend (SQLite or PostgreSQL).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.db import make_engine
from api.migrate import downgrade, upgrade
from tests.conftest import load_reference_data
from tests.databases import fresh_database
from tests.factories import make_cycle, organisation

BEFORE = "9d2c4e6f8a10"
COLUMNS = "appetite_level, appetite_low, appetite_high, appetite_rationale, target_date, lead_committee, assurance_level"


def test_existing_risks_keep_their_content_and_read_as_no_appetite_recorded(tmp_path: Path) -> None:
    with fresh_database(tmp_path, "appetite") as url:
        upgrade(url, BEFORE)
        engine = make_engine(url)
        load_reference_data(engine)
        with Session(engine) as db:
            cycle = make_cycle(db, "2026/27", date(2026, 4, 1), date(2027, 3, 31))
            ids = {"org": organisation(db, "RCF").id, "cycle": cycle.id}
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO baf_risk (organisation_id, cycle_id, description, strategic_objective, lead, "
                    "inherent_likelihood, inherent_consequence, residual_likelihood, residual_consequence, "
                    "target_likelihood, target_consequence, controls, assurances, gaps, version, created_at, "
                    "updated_at) VALUES (:org, :cycle, 'Recorded before', '', 'Director of People', 4, 5, 3, 4, "
                    "2, 2, '[]', '[]', '[]', 1, :at, :at)"
                ),
                {**ids, "at": "2026-05-01 09:00:00"},
            )

        upgrade(url)
        with engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT description, inherent_likelihood, residual_likelihood, {COLUMNS} FROM baf_risk")
            ).one()
        assert tuple(row) == ("Recorded before", 4, 3, None, None, None, None, None, None, None)
        with engine.begin() as conn:
            conn.execute(text("UPDATE baf_risk SET inherent_likelihood = NULL, inherent_consequence = NULL"))
        for bad in (
            "appetite_low = 8, appetite_high = 6",
            "appetite_high = 26",
            "assurance_level = 'high'",
            "appetite_level = 'bold'",
            "inherent_likelihood = 3",  # without its consequence
        ):
            with pytest.raises(IntegrityError), engine.begin() as conn:
                conn.execute(text(f"UPDATE baf_risk SET {bad}"))

        downgrade(url, BEFORE)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT inherent_likelihood, inherent_consequence, residual_likelihood FROM baf_risk")
            ).one()
        assert tuple(row) == (3, 4, 3)
        engine.dispose()
