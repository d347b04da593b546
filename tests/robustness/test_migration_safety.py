"""Migration safety: a database made at the first revision and filled with the demo sector keeps every row
through `alembic upgrade`, one revision at a time, up to head.

The sector is the real demo seeder's output at head, plus one or two rows in each table the demo leaves
empty (sign-ins, sessions, the audit log, actions, BAF risks), so no table goes unchecked. A second
database is upgraded from the first revision step by step; at each step the sector's rows of every table
that has just appeared go in, with the columns that table has at that revision, as a trust running that
version would have had them. After every step no table may have lost a row; at head every row must be
there with the same values in every column it was written with, and PostgreSQL's id sequences must be
past the ids already used.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from psycopg.types.json import Json
from sqlalchemy import JSON, Connection, Integer, MetaData, Table, func, select, text
from sqlmodel import Session

import api.models
from api import migrate
from api.db import make_engine
from api.demo import DEMO_CHAIR_EMAIL, seed_demo
from api.settings import PROJECT_ROOT, get_settings
from tests.conftest import TEST_SECRET
from tests.databases import fresh_database

# Rows per executemany on SQLite: keeps memory flat.
_CHUNK = 5_000
# How many rows to show of each table whose rows did not come through.
_SHOWN = 5
# An uploaded evidence file: kept under UPLOAD_DIR until the revision that moved files into the database.
EVIDENCE_FILE_NAME = "0f1e2d3c4b5a69788796a5b4c3d2e1f0.pdf"
EVIDENCE_FILE = b"%PDF-1.4\n%%EOF\n"


@dataclass(frozen=True)
class TableRows:
    columns: tuple[str, ...]
    # Primary key -> the row's values, in `columns` order.
    rows: dict[tuple[Any, ...], tuple[Any, ...]]
    not_null: frozenset[str]
    # Columns the database fills itself (a server default).
    defaulted: frozenset[str]


def _reflect(conn: Connection) -> MetaData:
    reflected = MetaData()
    reflected.reflect(bind=conn)
    if "alembic_version" in reflected.tables:
        reflected.remove(reflected.tables["alembic_version"])
    return reflected


def _read(conn: Connection, table: Table) -> TableRows:
    key_columns = list(table.primary_key.columns)
    assert key_columns, f"{table.name} has no primary key: rows cannot be matched across databases"
    columns = tuple(c.name for c in table.columns)
    key = itemgetter(*[columns.index(c.name) for c in key_columns])
    rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    for row in conn.execute(select(table).order_by(*key_columns)):
        values = tuple(row)
        k = key(values)
        rows[k if isinstance(k, tuple) else (k,)] = values
    return TableRows(
        columns=columns,
        rows=rows,
        not_null=frozenset(c.name for c in table.columns if not c.nullable),
        defaulted=frozenset(c.name for c in table.columns if c.server_default is not None),
    )


def _read_all(conn: Connection) -> dict[str, TableRows]:
    return {table.name: _read(conn, table) for table in _reflect(conn).sorted_tables}


def _linear_chain(url: str) -> list[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    revisions = list(script.walk_revisions())
    assert len(script.get_bases()) == 1 and len(script.get_heads()) == 1, "the revisions are not one chain"
    assert not any(r.is_merge_point for r in revisions), "the revisions are not one chain"
    return [r.revision for r in reversed(revisions)]


def _add_rows_the_demo_leaves_out(conn: Connection) -> None:
    """A trust's everyday rows the demo does not make: without them a migration could empty these
    tables unnoticed."""
    tables = api.models.metadata.tables

    def add(table: str, **values: Any) -> int:
        return conn.execute(tables[table].insert().values(**values)).inserted_primary_key[0]

    users, memberships, assessments = tables["user_account"], tables["membership"], tables["assessment"]
    user_id, organisation_id = conn.execute(
        select(users.c.id, memberships.c.organisation_id)
        .join(memberships, memberships.c.user_id == users.c.id)
        .where(users.c.email == DEMO_CHAIR_EMAIL)
    ).one()
    (first_assessment, first_cycle), *_, (last_assessment, _) = conn.execute(
        select(assessments.c.id, assessments.c.cycle_id)
        .where(assessments.c.organisation_id == organisation_id)
        .order_by(assessments.c.cycle_id)
    ).all()
    criterion_key = conn.execute(select(func.min(tables["criterion"].c.key))).scalar_one()
    at = datetime(2026, 11, 20, 10, 30, tzinfo=UTC)

    add(
        "audit_event",
        occurred_at=at,
        actor_id=user_id,
        actor_email=DEMO_CHAIR_EMAIL,
        organisation_id=organisation_id,
        action="assessment.submitted",
        object_type="assessment",
        object_id=first_assessment,
        summary="Submitted the 2024/25 self-assessment",
        details={"cycle": "2024/25", "rated": 45, "notes": ["consensus agreed", "signed off"]},
        client_ip="192.0.2.10",
    )
    add(
        "audit_event",
        occurred_at=at + timedelta(seconds=1),
        action="sign_in.failed",
        summary="Failed sign-in for an unknown address",
        details={},
    )
    add(
        "outbox_email",
        to_address=DEMO_CHAIR_EMAIL,
        subject="You have been invited",
        body="Follow the link to set your password.",
        created_at=at,
        sent_at=at + timedelta(minutes=1),
    )
    add("sign_in_attempt", email=DEMO_CHAIR_EMAIL, client_ip="192.0.2.10", occurred_at=at, succeeded=False)
    add(
        "reminder",
        assessment_id=last_assessment,
        user_id=user_id,
        sent_on=at.date(),
        sent_by_id=user_id,
        created_at=at,
    )
    add(
        "scheduled_reminder", assessment_id=last_assessment, user_id=user_id, kind="closing_14", created_at=at
    )
    add(
        "rendered_export",
        assessment_id=last_assessment,
        kind="board_report",
        content_version="a" * 64,
        framework_version="race-equality-board-v1@1",
        snapshot_batch="3|2026-11-30",
        viewer_part="",
        body=b"%PDF-1.7 kept",
        created_at=at,
    )
    add("export_lock", user_id=user_id, token="t" * 32, expires_at=at + timedelta(minutes=1))
    add("cached_response", key="heatmap|2026/27|trust_type|10", fingerprint="f", body="{}", created_at=at)
    add(
        "oidc_sign_in_request",
        state_hash="c" * 64,
        nonce="n" * 43,
        code_verifier="v" * 64,
        next_path="/account",
        created_at=at,
        expires_at=at + timedelta(minutes=10),
    )
    add("api_token", token_hash="a" * 64, user_id=user_id, created_at=at, expires_at=at + timedelta(hours=1))
    add(
        "one_time_token",
        token_hash="b" * 64,
        purpose="invitation",
        user_id=user_id,
        organisation_id=organisation_id,
        created_by_id=user_id,
        created_at=at,
        expires_at=at + timedelta(hours=24),
        used_at=at + timedelta(hours=2),
    )
    add("recovery_code", user_id=user_id, code_hash="$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA")
    add(
        "board_indicators",
        assessment_id=first_assessment,  # the demo records this year's; an earlier year's too
        organisation_id=organisation_id,
        wres_1_bme_workforce=24.5,
        wres_2=1.62,
        wres_5_white=28.1,
        wres_5_bme=30.4,
        wres_9=-6.5,
        hia={"1": {"status": "in_progress", "note": "Objectives at appraisal"}},
        version=2,
        created_at=at,
        updated_by_id=user_id,
        updated_at=at,
    )
    add(
        "web_session",
        token_hash="c" * 64,
        user_id=user_id,
        created_at=at,
        last_seen_at=at + timedelta(minutes=5),
        expires_at=at + timedelta(hours=12),
        second_factor_at=at,
        active_organisation_id=organisation_id,
        client_ip="2001:db8::1",
    )
    risk = add(
        "baf_risk",
        organisation_id=organisation_id,
        cycle_id=first_cycle,
        description="Race inequality in disciplinary cases is not reduced.",
        strategic_objective="A workforce that reflects our communities",
        lead="Chief People Officer",
        inherent_likelihood=4,
        inherent_consequence=4,
        residual_likelihood=3,
        residual_consequence=4,
        target_likelihood=2,
        target_consequence=3,
        controls=["Just culture review of every case"],
        assurances=["Quarterly WRES report to board"],
        gaps=[],
        version=2,
        created_at=at,
        updated_by_id=user_id,
        updated_at=at + timedelta(days=1),
    )
    add(
        "baf_risk_version",
        baf_risk_id=risk,
        version=1,
        content={"description": "First draft", "controls": [], "inherent_likelihood": 5},
        saved_by_id=user_id,
        saved_at=at,
        replaced_by_id=user_id,
        replaced_at=at + timedelta(days=1),
    )
    action = add(
        "action",
        assessment_id=first_assessment,
        organisation_id=organisation_id,
        title="Publish ethnicity pay gap",
        description="With an action plan agreed by the board.",
        owner="Director of People",
        due_date=date(2025, 3, 31),
        status="in_progress",
        section_key="data",
        created_by_id=user_id,
        created_at=at,
        updated_by_id=user_id,
        updated_at=at + timedelta(days=2),
        version=3,
    )
    carried = add(
        "action",
        assessment_id=last_assessment,
        organisation_id=organisation_id,
        title="Publish ethnicity pay gap",
        due_date=date(2027, 3, 31),
        status="not_started",
        created_at=at,
        updated_at=at,
        version=1,
        carried_from_action_id=action,
    )
    add("action_criterion", action_id=action, criterion_key=criterion_key)
    add("action_criterion", action_id=carried, criterion_key=criterion_key)
    add(
        "action_note",
        action_id=action,
        text="Draft seen at committee.",
        noted_on=date(2025, 1, 14),
        created_at=at,
    )
    consensus_id = conn.execute(
        select(func.min(tables["consensus_rating"].c.id)).where(
            tables["consensus_rating"].c.assessment_id == first_assessment
        )
    ).scalar_one()
    evidence = add(
        "evidence",
        consensus_rating_id=consensus_id,
        kind="file",
        title="Board minutes.pdf",
        stored_name=EVIDENCE_FILE_NAME,
        content_type="application/pdf",
        size_bytes=len(EVIDENCE_FILE),
        sha256="e" * 64,
        added_by_id=user_id,
        created_at=at,
    )
    add("evidence_file_content", evidence_id=evidence, data=EVIDENCE_FILE)


def _load_sector(url: str) -> dict[str, TableRows]:
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            seed_demo(session, frameworks_dir=PROJECT_ROOT / "assessments", k_anonymity=5)
            session.commit()
        with engine.begin() as conn:
            _add_rows_the_demo_leaves_out(conn)
        with engine.connect() as conn:
            return _read_all(conn)
    finally:
        engine.dispose()


def _serial_key(table: Table) -> str | None:
    """The single integer primary key column a PostgreSQL sequence may number (not one that is also
    a foreign key, such as evidence_file_content.evidence_id: its row's id comes from elsewhere)."""
    key = list(table.primary_key.columns)
    if len(key) != 1 or not isinstance(key[0].type, Integer) or key[0].foreign_keys:
        return None
    return key[0].name


def _sequence(conn: Connection, table: Table) -> str | None:
    column = _serial_key(table)
    if column is None:
        return None
    name = conn.dialect.identifier_preparer.quote(table.name)
    return conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": name, "c": column}).scalar()


def _fill_new_tables(
    conn: Connection,
    reflected: MetaData,
    sector: dict[str, TableRows],
    written: dict[str, frozenset[str]],
) -> None:
    """Write the sector's rows into each table that has just appeared, with the columns it has now."""
    for table in reflected.sorted_tables:
        if table.name in written or table.name not in sector:
            continue
        data = sector[table.name]
        columns = [c.name for c in table.columns if c.name in data.columns]
        unknown = [
            c.name
            for c in table.columns
            if c.name not in data.columns and not c.nullable and c.server_default is None
        ]
        assert not unknown, (
            f"{table.name}.{', '.join(unknown)}: required at this revision but gone by head; "
            "teach this test what a trust would have stored there"
        )
        _check_backfill(conn, table, columns, data)
        _insert(conn, table, columns, data)
        written[table.name] = frozenset(columns)
        if conn.dialect.name == "postgresql" and data.rows and (sequence := _sequence(conn, table)):
            conn.execute(text("SELECT setval(:s, :v)"), {"s": sequence, "v": max(k[0] for k in data.rows)})


def _check_backfill(conn: Connection, table: Table, columns: list[str], data: TableRows) -> None:
    """A new table its migration fills from rows already there (assessment_rater, say) must come out
    as the app at head would have made it, apart from the numbering; it is then replaced by the
    sector's rows, so that head can be compared id for id."""
    if conn.execute(select(func.count()).select_from(table)).scalar_one() == 0:
        return
    keys = {c.name for c in table.primary_key.columns}
    compared = [c for c in columns if c not in keys]
    made = Counter(tuple(row) for row in conn.execute(select(*(table.c[c] for c in compared))))
    positions = [data.columns.index(c) for c in compared]
    wanted = Counter(tuple(row[i] for i in positions) for row in data.rows.values())
    assert made == wanted, (
        f"{table.name}: the migration filled {sum(made.values())} rows, the app would have "
        f"{sum(wanted.values())}; first differences: {list((made - wanted).items())[:_SHOWN]} "
        f"{list((wanted - made).items())[:_SHOWN]}"
    )
    conn.execute(table.delete())


def _insert(conn: Connection, table: Table, columns: list[str], data: TableRows) -> None:
    """The rows in primary key order, so a row referring to an earlier row of its table goes in after it."""
    positions = [data.columns.index(c) for c in columns]
    if conn.dialect.name != "postgresql":
        rows = [{c: row[i] for c, i in zip(columns, positions, strict=True)} for row in data.rows.values()]
        for start in range(0, len(rows), _CHUNK):
            conn.execute(table.insert(), rows[start : start + _CHUNK])
        return
    # COPY, in this transaction: about three times as quick as INSERT for the quarter of a million demo rows.
    quote = conn.dialect.identifier_preparer.quote
    json = {i for i, c in zip(positions, columns, strict=True) if isinstance(table.c[c].type, JSON)}
    cursor = conn.connection.driver_connection.cursor()
    with cursor.copy(f"COPY {quote(table.name)} ({', '.join(map(quote, columns))}) FROM STDIN") as copy:
        for row in data.rows.values():
            copy.write_row([Json(row[i]) if i in json else row[i] for i in positions])


def _assert_nothing_lost(
    conn: Connection,
    reflected: MetaData,
    sector: dict[str, TableRows],
    written: dict[str, frozenset[str]],
    revision: str,
) -> None:
    lost = []
    for name in written:
        expected = len(sector[name].rows)
        if name not in reflected.tables:
            lost.append(f"{name} is gone ({expected} rows)")
            continue
        count = conn.execute(select(func.count()).select_from(reflected.tables[name])).scalar_one()
        if count != expected:
            lost.append(f"{name} has {count} rows, had {expected}")
    assert not lost, f"upgrading to {revision}: " + "; ".join(lost)


def _assert_sequences_ahead(conn: Connection, reflected: MetaData, upgraded: dict[str, TableRows]) -> None:
    """After the upgrade the app must be able to add rows: each id sequence is past the ids in use."""
    behind = []
    for table in reflected.sorted_tables:
        key = _serial_key(table)
        if key is None:
            continue
        sequence = _sequence(conn, table)
        if sequence is None:
            behind.append(f"{table.name}.{key} has no sequence")
            continue
        last, called = conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
        next_id = last + 1 if called else last
        used = max((k[0] for k in upgraded[table.name].rows), default=0)
        if next_id <= used:
            behind.append(f"{table.name}: next id {next_id}, but ids up to {used} are used")
    assert not behind, "; ".join(behind)


def _differences(name: str, before: TableRows, after: TableRows, written: frozenset[str]) -> list[str]:
    """What the upgrade did to one table's sector rows, worst first; empty if every row came through."""
    problems = []
    if len(after.rows) != len(before.rows):
        problems.append(f"{name}: {len(after.rows)} rows after the upgrade, {len(before.rows)} in the sector")
    missing = sorted(before.rows.keys() - after.rows.keys())
    if missing:
        problems.append(f"{name}: {len(missing)} rows missing, primary keys {missing[:_SHOWN]}")
    extra = sorted(after.rows.keys() - before.rows.keys())
    if extra:
        problems.append(f"{name}: {len(extra)} rows not in the sector, primary keys {extra[:_SHOWN]}")
    gone = [c for c in before.columns if c not in after.columns]
    if gone:
        problems.append(f"{name}: columns {gone} are gone")
    # Every column the rows were written with must hold the same value. A column a later revision
    # added must be filled as the app would: with the sector's value where the migration gives a
    # default, and with something where it is required.
    added = [c for c in after.columns if c not in written]
    compared = [
        (c, before.columns.index(c), after.columns.index(c))
        for c in before.columns
        if c in after.columns and (c in written or c in after.defaulted)
    ]
    required = [
        (c, after.columns.index(c)) for c in added if c in after.not_null and c not in after.defaulted
    ]
    old, new = itemgetter(*[i for _, i, _ in compared]), itemgetter(*[j for _, _, j in compared])
    changed_columns: Counter[str] = Counter()
    changed_rows = 0
    examples = []
    for key, row in before.rows.items():
        other = after.rows.get(key)
        if other is None:
            continue
        changes = (
            []
            if old(row) == new(other)
            else [(c, row[i], other[j]) for c, i, j in compared if row[i] != other[j]]
        )
        changes += [(c, "a value", None) for c, j in required if other[j] is None]
        if changes:
            changed_rows += 1
            changed_columns.update(c for c, _, _ in changes)
            if len(examples) < _SHOWN:
                examples.append(
                    f"  {name} {key}: " + ", ".join(f"{c} {was!r} -> {now!r}" for c, was, now in changes)
                )
    if changed_rows:
        counts = ", ".join(f"{c} in {n}" for c, n in changed_columns.most_common())
        problems.append(f"{name}: {changed_rows} of {len(before.rows)} rows changed ({counts})")
        problems.extend(examples)
    return problems


def test_upgrade_from_the_first_revision_keeps_every_demo_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    # Where the revisions before evidence_file_content kept the file; that one reads it from here.
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    (uploads / EVIDENCE_FILE_NAME).write_bytes(EVIDENCE_FILE)
    monkeypatch.setenv("UPLOAD_DIR", str(uploads))
    get_settings.cache_clear()
    try:
        with (
            fresh_database(tmp_path, "migsafe_head") as head_url,
            fresh_database(tmp_path, "migsafe_old") as old_url,
        ):
            sector = _load_sector(head_url)
            empty = sorted(name for name, data in sector.items() if not data.rows)
            assert not empty, (
                f"nothing to carry through the migrations in {empty}: add rows in _add_rows_the_demo_leaves_out"
            )

            written: dict[str, frozenset[str]] = {}  # table -> its columns when the sector went in
            engine = make_engine(old_url)
            try:
                for revision in _linear_chain(old_url):
                    migrate.upgrade(old_url, revision)
                    with engine.begin() as conn:
                        reflected = _reflect(conn)
                        _assert_nothing_lost(conn, reflected, sector, written, revision)
                        _fill_new_tables(conn, reflected, sector, written)
                with engine.connect() as conn:
                    reflected = _reflect(conn)
                    upgraded = {t.name: _read(conn, t) for t in reflected.sorted_tables}
                    if conn.dialect.name == "postgresql":
                        _assert_sequences_ahead(conn, reflected, upgraded)
            finally:
                engine.dispose()
    finally:
        get_settings.cache_clear()

    assert set(written) == set(sector), f"never written: {sorted(set(sector) - set(written))}"
    problems = [
        problem
        for name, before in sector.items()
        for problem in (
            _differences(name, before, upgraded[name], written[name])
            if name in upgraded
            else [f"{name}: the table is gone"]
        )
    ]
    if problems:
        pytest.fail("rows changed by the upgrade (sector value -> upgraded value):\n" + "\n".join(problems))
