"""Scheduled commands that every instance runs: each run's work is done by one instance at a time.

Every instance's cron (or systemd timer) may start `python -m api purge-expired` at the same
minute. A command calls `run_once(session, name)` first, in the transaction that does its work:

    with database() as session:
        if not run_once(session, "send-reminders"):
            return  # another instance is doing it now
        ...the work, in this same transaction...

On PostgreSQL this takes a transaction-level advisory lock named after the command
(`pg_try_advisory_xact_lock`): the first run gets it and holds it until its transaction commits or
rolls back; a run that starts meanwhile gets False at once and stops, exiting 0. On SQLite every
transaction holds the database's write lock from its first statement (BEGIN IMMEDIATE, api/db.py),
so a second run simply waits for the first to finish.

The lock stops two runs overlapping; a run that starts after another has committed goes ahead.
So a command must also leave a mark of what it has done in the same transaction (a row deleted,
`sent_at` written) and skip work that is already marked: then each piece of work is done once
however many instances run it, and whenever.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlmodel import Session


def lock_key(name: str) -> int:
    """The command's advisory lock: a signed 64-bit number from its name, the same on every instance."""
    digest = hashlib.sha256(f"api.scheduling:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def run_once(session: Session, name: str) -> bool:
    """True if this run may do the command's work now (the lock is held until the transaction
    ends); False if another run of the same command holds it."""
    if session.get_bind().dialect.name == "postgresql":
        return bool(
            session.execute(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": lock_key(name)}
            ).scalar_one()
        )
    # SQLite: the first statement begins the transaction and takes the write lock (waiting for
    # any other writer, up to the busy timeout).
    session.execute(text("SELECT 1"))
    return True
