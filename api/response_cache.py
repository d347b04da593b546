"""Answers computed from the peer snapshots, kept in the database by the snapshots they came from.

Sector and benchmark figures change only when a snapshot batch changes (docs/anonymity.md), yet
computing them reads every snapshot of a cycle (megabytes of JSON at 10,000 trusts). So the JSON
answer is kept in `cached_response` under its key (the route, its parameters, k and the UK day)
with a fingerprint of what it was computed from: the peer snapshots (their number, the sum of their
ids, the latest refresh), the organisations (number, largest id, and the length of their group
fields, so a trust moved to another region counts), the cycles (number and sum of versions) and,
for an assessment's benchmark, that assessment's status and version.

A read is one statement: it works out the fingerprint in the database and returns the kept body only
if it was kept under the same fingerprint. So it is right on any number of instances (each request
checks the database, nothing is held in a process), and a refresh, a new trust or a sign-off is seen
by the very next request. A miss computes the answer as before and keeps it (an upsert: two
instances that miss at once both write the same thing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, Text, cast, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, Session, SQLModel

from api.assessments.models import Assessment, Cycle
from api.assessments.spread import uk_today
from api.benchmarking.models import PeerSnapshot
from api.db import UTCDateTime, utcnow
from api.organisations.models import Organisation


class CachedResponse(SQLModel, table=True):
    __tablename__ = "cached_response"

    key: str = Field(primary_key=True, max_length=200)
    fingerprint: str = Field(sa_type=Text)
    body: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


def _text(expression: object) -> ColumnElement[str]:
    return cast(func.coalesce(cast(expression, String), ""), String)


def _joined(*parts: object) -> ColumnElement[str]:
    result: ColumnElement[str] = literal("", String)
    for part in parts:
        result = result.op("||")(_text(part)).op("||")(literal("|", String))  # type: ignore[assignment]
    return result


def _scalar(*columns: object, model: type, where: object = None) -> object:
    statement = select(_joined(*columns)).select_from(model)
    if where is not None:
        statement = statement.where(where)
    return statement.scalar_subquery()


def peers_fingerprint(assessment_id: int | None = None) -> ColumnElement[str]:
    """What a sector or benchmark figure is computed from, as one SQL expression."""
    parts: list[object] = [
        _scalar(func.count(), func.sum(PeerSnapshot.id), func.max(PeerSnapshot.taken_at), model=PeerSnapshot),
        _scalar(
            func.count(),
            func.max(Organisation.id),
            func.sum(
                func.length(Organisation.trust_type)
                + func.length(Organisation.peer_type)
                + func.length(Organisation.region)
                + func.length(func.coalesce(Organisation.size_band, ""))
            ),
            model=Organisation,
        ),
        _scalar(func.count(), func.sum(Cycle.version), model=Cycle),
    ]
    if assessment_id is not None:
        parts.append(
            _scalar(
                Assessment.status,
                Assessment.version,
                Assessment.organisation_id,
                model=Assessment,
                where=Assessment.id == assessment_id,
            )
        )
    return _joined(*parts)


@dataclass(frozen=True)
class Lookup:
    key: str
    fingerprint: str
    body: str | None


def lookup(session: Session, name: str, assessment_id: int | None = None) -> Lookup:
    """One statement: the fingerprint now, and the body kept under `name` if it has that fingerprint."""
    key = f"{name}|{uk_today()}"
    fingerprint = peers_fingerprint(assessment_id).label("fingerprint")
    kept = (
        select(CachedResponse.body)
        .where(CachedResponse.key == key, CachedResponse.fingerprint == peers_fingerprint(assessment_id))
        .scalar_subquery()
    )
    row = session.exec(select(fingerprint, kept)).one()  # type: ignore[call-overload]
    return Lookup(key, row[0], row[1])


def keep(session: Session, found: Lookup, body: str) -> None:
    table = CachedResponse.__table__  # type: ignore[attr-defined]
    dialect = session.get_bind().dialect.name
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table).values(
        key=found.key, fingerprint=found.fingerprint, body=body, created_at=utcnow()
    )
    session.exec(  # type: ignore[call-overload]
        insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "fingerprint": insert.excluded.fingerprint,
                "body": insert.excluded.body,
                "created_at": insert.excluded.created_at,
            },
        )  # fmt: skip
    )
