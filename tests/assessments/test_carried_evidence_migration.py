"""Revision 9d2c4e6f8a10: evidence carried forward is marked by a column, no longer by a title suffix.

Evidence carried forward before it had the year on the end of its title ("Board paper (2025/26)"):
upgrading moves the year into `carried_from_cycle_id` and gives the title back; downgrading writes the
suffix again. Run on this run's backend (SQLite or PostgreSQL).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import text
from sqlmodel import Session, select

from api.assessments.models import Assessment
from api.db import make_engine
from api.frameworks.models import Criterion, FrameworkSection
from api.migrate import downgrade, upgrade
from tests.conftest import load_reference_data
from tests.databases import fresh_database
from tests.factories import make_cycle, organisation

BEFORE = "17ec69a335d0"
TITLES = [
    "Board paper (2025/26)",  # carried from last year: the year moves to the column
    "Staff survey (2019/20)",  # no such cycle: a title the board typed, left as it is
    "This year's plan (2026/27)",  # the evidence's own year: not carried, left as it is
    "Minutes",
]


def _evidence(conn) -> list[tuple]:  # noqa: ANN001
    return [tuple(row) for row in conn.execute(text("SELECT title FROM evidence ORDER BY id"))]


def test_title_suffixes_become_the_carried_from_cycle_and_come_back_on_downgrade(tmp_path: Path) -> None:
    with fresh_database(tmp_path, "carried") as url:
        upgrade(url, BEFORE)
        engine = make_engine(url)
        load_reference_data(engine)
        with Session(engine) as db:
            last = make_cycle(db, "2025/26", date(2025, 4, 1), date(2026, 3, 31))
            this = make_cycle(db, "2026/27", date(2026, 4, 1), date(2027, 3, 31))
            assessment = Assessment(
                organisation_id=organisation(db, "RCF").id, cycle_id=this.id, framework_id=this.framework_id
            )
            db.add(assessment)
            db.commit()
            criterion_id = db.exec(
                select(Criterion.id)
                .join(FrameworkSection, FrameworkSection.id == Criterion.section_id)
                .where(FrameworkSection.framework_id == this.framework_id)
            ).first()
            last_id, assessment_id = last.id, assessment.id
        with engine.begin() as conn:
            # In SQL, not through the model: the table as it was at BEFORE (the model has columns
            # added since, such as the sharing flag).
            conn.execute(
                text(
                    "INSERT INTO consensus_rating (assessment_id, criterion_id, rationale, version, updated_at) "
                    "VALUES (:a, :c, '', 1, :at)"
                ),
                {"a": assessment_id, "c": criterion_id, "at": "2026-05-01 09:00:00"},
            )
            consensus_id = conn.execute(text("SELECT id FROM consensus_rating")).scalar_one()
            for title in TITLES:
                conn.execute(
                    text(
                        "INSERT INTO evidence (consensus_rating_id, kind, title, url, created_at) "
                        "VALUES (:c, 'link', :t, 'https://example.org/', :at)"
                    ),
                    {"c": consensus_id, "t": title, "at": "2026-05-01 09:00:00"},
                )

        upgrade(url)
        with engine.connect() as conn:
            rows = [
                tuple(row)
                for row in conn.execute(text("SELECT title, carried_from_cycle_id FROM evidence ORDER BY id"))
            ]
        assert rows == [
            ("Board paper", last_id),
            ("Staff survey (2019/20)", None),
            ("This year's plan (2026/27)", None),
            ("Minutes", None),
        ]

        downgrade(url, BEFORE)
        with engine.connect() as conn:
            assert [title for (title,) in _evidence(conn)] == TITLES
        engine.dispose()
