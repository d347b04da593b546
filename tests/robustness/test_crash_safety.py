"""Crash safety: the server process is killed (SIGKILL, no shutdown) in the middle of a burst of
saves and a sign-off, restarted on the same database, and must have kept every save it answered,
and either all of the sign-off or none of it.

The server is a real uvicorn process, started as `make run` starts it, on a fresh database of the
suite's backend (SQLite file or PostgreSQL). Board members save their ratings from ten threads at
once, each (member, criterion) from one thread only, always with the version the last answer
gave; the chair signs off part-way through. Four trials, each on its own assessment (its own
cycle), stop the server at different points:

A. by the clock, 20 ms after the sign-off was sent, saves in flight (the plain
   `python -m uvicorn api.asgi:app` server, nothing added);
B. the sign-off held just after its COMMIT, before its answer is sent (killed during C);
C. a save held just after its COMMIT (stored, unanswered), then another held just before its
   COMMIT, the sign-off queued behind it;
D. the sign-off held just before its COMMIT.

For B-D the server is the same app and uvicorn, started by a short launcher that adds crash
points: SQLAlchemy event listeners that, once the test arms one, hold the chosen transaction at
that point and tell the test, which then kills the process. They only watch and wait; they change
no statement. So three kills, three restarts, all on one database. Each replacement process is
launched a run ahead (importing the app takes seconds on a busy machine), but opens the database
only after the kill (checked on SQLite, through /proc).

After each restart: every answered save is there with its value and version, unless the one save
of that answer still in flight when the server died was stored instead (its own value, the next
version); no other value or version exists; each stored save has its audit event; the assessment
is wholly signed off (status, time, who, version, stored scores, audit event, peer snapshots) or
wholly not; an answered sign-off survived; nothing changed after sign-off; and the service works:
a new save is answered and, if it was not signed off, the chair signs it off now.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from api.accounts.sessions import issue_api_token
from api.assessments.models import Assessment, ConsensusRating, Rating
from api.assessments.repository import criteria_of
from api.audit.models import AuditEvent
from api.benchmarking.models import PeerSnapshot
from api.db import make_engine, utcnow
from api.migrate import upgrade
from api.organisations.models import Organisation
from api.scoring.models import OVERALL_KEY, StoredScore
from api.scoring.service import store_scores
from api.settings import PROJECT_ROOT, Settings
from tests.assessments.helpers import cycle_dates
from tests.conftest import FRAMEWORKS_DIR, TEST_SECRET, load_reference_data
from tests.databases import fresh_database
from tests.factories import bearer, make_cycle, make_user

pytestmark = pytest.mark.skipif(
    sys.platform == "win32" or not hasattr(signal, "SIGKILL"),
    reason="needs SIGKILL and a listening socket handed to a child process (POSIX)",
)

TRUST = "RCF"
PEER_TRUST = "RBS"  # one other submission per cycle, so a sign-off refreshes peer snapshots (K=2)
NEDS = 4
THREADS_PER_RATER = 2
KEYS_PER_THREAD = 3
MAX_SAVES_PER_THREAD = 400
LEVELS = (None, 0, 1, 2, 3, 4)

SERVER_START_SECONDS = 60  # a busy CI machine imports the app slowly
ACKS_SECONDS = 60
CRASH_POINT_SECONDS = 30
HOLD_BEFORE_KILL_SECONDS = 0.3  # lets any answer sent too early arrive, and more requests pile up
REQUEST_TIMEOUT = httpx.Timeout(60, connect=10)

# The deployed command (Makefile `run`), serving a listening socket the test opened on port 0.
PLAIN_SERVER = [
    "-m",
    "uvicorn",
    "api.asgi:app",
    "--http",
    "httptools",
    "--loop",
    "uvloop",
    "--proxy-headers",
    "--no-server-header",
    "--no-access-log",
    "--log-level",
    "warning",
    "--fd",
]

# The same app and server, with crash points the test arms by writing "<kind>:<when>" to a file:
# kind `save` (a transaction that wrote a rating) or `submission` (one that signed off), when
# `before-commit` or `after-commit`. The armed point fires once: it writes the "reached" file and
# waits there for the SIGKILL.
CRASH_POINT_SERVER = r"""
import os
import sys
import threading
import time
from pathlib import Path

import uvicorn
from sqlalchemy import event
from sqlalchemy.orm import Session

from api.asgi import app

arm_file = Path(os.environ["CRASH_TEST_ARM"])
reached_file = Path(os.environ["CRASH_TEST_REACHED"])
arm_lock = threading.Lock()
this_thread = threading.local()
engine = app.state.engine


def armed_for(kind):
    with arm_lock:
        try:
            wanted, _, when = arm_file.read_text().strip().partition(":")
        except FileNotFoundError:
            return None
        if wanted != kind:
            return None
        arm_file.unlink()
        return when


def hold(where):
    partial = reached_file.with_name(reached_file.name + ".partial")
    partial.write_text(where)
    partial.replace(reached_file)
    time.sleep(3600)


@event.listens_for(engine, "after_cursor_execute")
def _spot(conn, cursor, statement, parameters, context, executemany):
    sql = " ".join(statement.split()).lower()
    if sql.startswith("update assessment set status=") and "submitted_at" in sql:
        conn.info["crash_test_kind"] = "submission"
    elif sql.startswith(("update rating set ", "insert into rating ", "with caller as (")):
        # The last: the one-statement save on PostgreSQL (api/assessments/autosave.py).
        conn.info.setdefault("crash_test_kind", "save")


@event.listens_for(engine, "commit")
def _before_commit(conn):
    kind = conn.info.pop("crash_test_kind", None)
    when = armed_for(kind) if kind else None
    if when == "before-commit":
        hold(kind + " before its COMMIT")
    elif when == "after-commit":
        this_thread.hold_after = kind


@event.listens_for(engine, "rollback")
def _forget(conn):
    conn.info.pop("crash_test_kind", None)


@event.listens_for(Session, "after_commit")
def _after_commit(session):
    kind = getattr(this_thread, "hold_after", None)
    if kind:
        this_thread.hold_after = None
        hold(kind + " after its COMMIT")


uvicorn.run(
    app,
    fd=int(sys.argv[1]),
    http="httptools",
    loop="uvloop",
    proxy_headers=True,
    server_header=False,
    access_log=False,
    log_level="warning",
)
"""


# --- The server process -------------------------------------------------------------------------------


class Server:
    """One uvicorn process on the test database; `kill()` is SIGKILL, never a graceful stop."""

    def __init__(self, database_url: str, workdir: Path, label: str, *, crash_points: bool) -> None:
        self.database_url = database_url
        self.workdir = workdir
        self.label = label
        self.crash_points = crash_points
        slug = label.replace(" ", "-")
        self.arm_file = workdir / f"{slug}.arm"
        self.reached_file = workdir / f"{slug}.reached"
        self.log_path = workdir / f"{slug}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.base_url = ""

    def environment(self) -> dict[str, str]:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("UVICORN_") and name != "WEB_CONCURRENCY"
        }
        env.update(
            ENV="test",
            DATABASE_URL=self.database_url,
            SECRET_KEY=TEST_SECRET,
            K_ANONYMITY="2",
            FRAMEWORKS_DIR=str(FRAMEWORKS_DIR),
            CRASH_TEST_ARM=str(self.arm_file),
            CRASH_TEST_REACHED=str(self.reached_file),
            PYTHONUNBUFFERED="1",
        )
        return env

    def spawn(self) -> None:
        """Start the process; it opens no database connection until a request needs one."""
        # A socket bound to port 0 here and handed over: no window for another process to take the port.
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            listener.bind(("127.0.0.1", 0))
            listener.listen(256)
            self.base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
            fd = listener.fileno()
            arguments = ["-c", CRASH_POINT_SERVER] if self.crash_points else PLAIN_SERVER
            with self.log_path.open("ab") as log:
                self.process = subprocess.Popen(
                    [sys.executable, *arguments, str(fd)],
                    cwd=PROJECT_ROOT,
                    env=self.environment(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(fd,),
                    start_new_session=True,
                )
        finally:
            # Only the server may hold it: once it dies, connecting must fail at once.
            listener.close()

    def wait_until_ready(self) -> None:
        """Poll the health check (which asks the database) until it answers 200."""
        deadline = time.monotonic() + SERVER_START_SECONDS
        while True:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the {self.label} server exited while starting:\n{self.log_tail()}")
            try:
                response = httpx.get(f"{self.base_url}/healthz", timeout=5)
                if response.status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"the {self.label} server was not ready in {SERVER_START_SECONDS} s:\n{self.log_tail()}"
                )
            time.sleep(0.05)

    def start(self) -> None:
        self.spawn()
        self.wait_until_ready()

    def assert_database_unopened(self) -> None:
        """A standby must not have touched the database before the kill (checked where it can be:
        a SQLite file, on Linux)."""
        path = make_url(self.database_url).database
        fd_dir = Path(f"/proc/{self.process.pid if self.process else 0}/fd")
        if not self.database_url.startswith("sqlite") or not path or not fd_dir.is_dir():
            return
        opened = set()
        for fd in fd_dir.iterdir():
            with contextlib.suppress(OSError):
                opened.add(os.readlink(fd))
        touched = sorted(name for name in opened if name.startswith(path))
        assert not touched, f"the standby server opened {touched} before the kill"

    def arm(self, crash_point: str) -> None:
        partial = self.arm_file.with_name(self.arm_file.name + ".partial")
        partial.write_text(crash_point)
        partial.replace(self.arm_file)

    def wait_for_crash_point(self, crash_point: str) -> str:
        deadline = time.monotonic() + CRASH_POINT_SECONDS
        while not self.reached_file.exists():
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited before the crash point:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"crash point {crash_point!r} not reached in {CRASH_POINT_SECONDS} s: has the SQL "
                    "the launcher watches for changed (UPDATE assessment SET status=..., UPDATE/INSERT "
                    f"rating)?\n{self.log_tail()}"
                )
            time.sleep(0.005)
        where = self.reached_file.read_text()
        self.reached_file.unlink()
        return where

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait(timeout=30)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no server log)"


# --- The board and its assessments, written straight to the database before a server starts ----------


@dataclass(frozen=True)
class Person:
    id: int
    label: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Trial:
    name: str
    acks_before: int  # answered saves before the sign-off is sent (or the crash point armed)
    crash_point: str | None  # None: killed by the clock
    expect: str | None  # "submitted", "not submitted", or None when the timing decides
    kill_delay: float = 0.0
    # Filled in by seeding:
    cycle_id: int = 0
    assessment_id: int = 0
    peer_assessment_id: int = 0
    section_means: dict[str, float] = field(default_factory=dict)


def make_trials() -> list[Trial]:
    # In C the sign-off, sent once a save is held before its COMMIT, waits for it (the save holds
    # a share lock on the assessment); the test needs no particular outcome there, only all or none.
    return [
        Trial("A: killed by the clock 20 ms after the sign-off was sent", 25, None, None, kill_delay=0.02),
        Trial(
            "B: the sign-off held just after its COMMIT, unanswered",
            20,
            "submission:after-commit",
            "submitted",
        ),
        Trial("C: a save held after its COMMIT, another before", 20, "save:before-commit", None),
        Trial(
            "D: killed while the sign-off waits at its COMMIT",
            25,
            "submission:before-commit",
            "not submitted",
        ),
    ]


# Each run of the server ends in a SIGKILL, during its last trial; an earlier trial in a run stays
# held after its COMMIT (no lock held) until then. (with crash points?, trials)
RUNS = [(False, ["A"]), (True, ["B", "C"]), (True, ["D"])]


@dataclass
class Board:
    chair: Person
    neds: list[Person]
    keys: list[str]
    spare_assessment_id: int

    @property
    def raters(self) -> list[Person]:
        return [self.chair, *self.neds]


def _agreed_levels(db: Session, assessment: Assessment, rng: random.Random) -> dict[str, float]:
    """Agree a level for every criterion (so the chair can sign off); the expected section means."""
    by_section: dict[tuple[str, str], list[int]] = defaultdict(list)
    for section, criterion in criteria_of(db, assessment):
        level = rng.randint(0, 4)
        db.add(
            ConsensusRating(
                assessment_id=assessment.id,
                criterion_id=criterion.id,
                level=level,
                rationale="agreed at the board meeting",
            )
        )
        by_section[(section.key, section.kind)].append(level)
    db.flush()
    means = {key: sum(levels) / len(levels) for (key, _kind), levels in by_section.items()}
    priorities = [
        sum(levels) / len(levels) for (_k, kind), levels in by_section.items() if kind == "priority"
    ]
    means[OVERALL_KEY] = sum(priorities) / len(priorities)
    return means


def seed(engine: Engine, settings: Settings, trials: list[Trial]) -> Board:
    rng = random.Random(20260427)
    opens, closes = cycle_dates()
    with Session(engine, expire_on_commit=False) as db:
        trust = db.exec(select(Organisation).where(Organisation.ods_code == TRUST)).one()
        peer = db.exec(select(Organisation).where(Organisation.ods_code == PEER_TRUST)).one()
        chair = make_user(db, "chair@crash.example", role="chair", trust=TRUST, name="Hester Chair")
        neds = [make_user(db, f"ned{n}@crash.example", trust=TRUST, name=f"Ned {n}") for n in range(NEDS)]
        people = [
            Person(user.id, label, issue_api_token(db, user, settings)[1])
            for user, label in [(chair, "chair"), *((ned, f"ned{n}") for n, ned in enumerate(neds))]
        ]
        keys: list[str] = []
        # One cycle per trial, and one spare: a trust has one assessment a cycle, and a cycle with
        # no snapshot yet gets one exactly when this trust's sign-off commits.
        for number in range(len(trials) + 1):
            cycle = make_cycle(db, f"{2031 + number}/{32 + number}", opens, closes)
            assessment = Assessment(
                organisation_id=trust.id,
                cycle_id=cycle.id,
                framework_id=cycle.framework_id,
                opened_by_id=chair.id,
            )
            peer_assessment = Assessment(
                organisation_id=peer.id,
                cycle_id=cycle.id,
                framework_id=cycle.framework_id,
                status="submitted",
                submitted_at=utcnow(),
            )
            db.add(assessment)
            db.add(peer_assessment)
            db.flush()
            means = _agreed_levels(db, assessment, rng)
            _agreed_levels(db, peer_assessment, rng)
            store_scores(db, peer_assessment)
            keys = keys or [criterion.key for _s, criterion in criteria_of(db, assessment)]
            if number < len(trials):
                trial = trials[number]
                trial.cycle_id = cycle.id
                trial.assessment_id = assessment.id
                trial.peer_assessment_id = peer_assessment.id
                trial.section_means = means
            else:
                spare = assessment.id
        db.commit()
    assert len(keys) >= THREADS_PER_RATER * KEYS_PER_THREAD
    return Board(chair=people[0], neds=people[1:], keys=keys, spare_assessment_id=spare)


# --- The clients -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    level: int | None
    comment: str
    version: int  # the version the client had seen; the save, if stored, is version + 1


@dataclass
class Answer:
    """What one member's client knows of one criterion's rating."""

    acked: Sent | None = None  # the last save answered 200 (its `version` is the stored version)
    in_flight: Sent | None = None  # sent, and the server died before answering
    refused: list[Sent] = field(default_factory=list)


class Burst:
    """Each rater saves from THREADS_PER_RATER threads, each thread owning its own criteria, until
    the server dies (or the assessment is signed off)."""

    def __init__(self, base_url: str, trial: Trial, board: Board) -> None:
        self.base_url = base_url
        self.trial = trial
        self.answers: dict[tuple[int, str], Answer] = {}
        self.owned: dict[int, list[str]] = defaultdict(list)
        self.problems: list[str] = []
        self.acks = 0
        self.changed = threading.Condition()
        self.threads: list[threading.Thread] = []
        for rater in board.raters:
            for part in range(THREADS_PER_RATER):
                keys = board.keys[part * KEYS_PER_THREAD : (part + 1) * KEYS_PER_THREAD]
                for key in keys:
                    self.answers[(rater.id, key)] = Answer()
                self.owned[rater.id].extend(keys)
                self.threads.append(
                    threading.Thread(
                        target=self._saves, args=(rater, keys, f"{rater.label}/{part}"), daemon=True
                    )
                )

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def _saves(self, rater: Person, keys: list[str], label: str) -> None:
        try:
            self._save_until_stopped(rater, keys, label)
        except Exception as error:  # noqa: BLE001 - reported by the check, not lost in a thread
            self.problems.append(f"{label}: the client failed: {error!r}")

    def _save_until_stopped(self, rater: Person, keys: list[str], label: str) -> None:
        rng = random.Random(f"{self.trial.name} {label}")
        path = f"/api/v1/assessments/{self.trial.assessment_id}/ratings"
        with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT) as http:
            for n in range(MAX_SAVES_PER_THREAD):
                key = keys[n % len(keys)]
                answer = self.answers[(rater.id, key)]
                sent = Sent(
                    rng.choice(LEVELS), f"{label} save {n}", answer.acked.version if answer.acked else 0
                )
                answer.in_flight = sent
                try:
                    response = http.put(
                        f"{path}/{key}",
                        json={"level": sent.level, "comment": sent.comment, "version": sent.version},
                        headers=rater.headers,
                    )
                except httpx.ConnectError:
                    answer.in_flight = None  # never reached a server
                    return
                except httpx.TransportError:
                    return  # the server died with this save in flight
                answer.in_flight = None
                if response.status_code == 200:
                    stored = Sent(sent.level, sent.comment, sent.version + 1)
                    body = response.json()
                    if body != {"criterion_key": key, **stored.__dict__}:
                        self.problems.append(f"{label} {key}: sent {sent}, answered {body}")
                    answer.acked = stored
                    with self.changed:
                        self.acks += 1
                        self.changed.notify_all()
                elif response.status_code == 409 and response.json().get("status") == "submitted":
                    answer.refused.append(sent)
                    return
                else:
                    self.problems.append(f"{label} {key}: {response.status_code} {response.text}")
                    return

    def wait_for_acks(self, count: int) -> None:
        with self.changed:
            reached = self.changed.wait_for(
                lambda: self.acks >= count or not any(t.is_alive() for t in self.threads),
                timeout=ACKS_SECONDS,
            )
        assert reached and self.acks >= count, (
            f"only {self.acks} saves answered before the kill point: {self.problems}"
        )

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=60)
            assert not thread.is_alive(), "a client thread hung after the server was killed"

    @property
    def in_flight(self) -> int:
        return sum(answer.in_flight is not None for answer in self.answers.values())


class SignOff:
    """The chair's sign-off, from its own thread and connection."""

    def __init__(self, base_url: str, trial: Trial, chair: Person) -> None:
        self.base_url = base_url
        self.trial = trial
        self.chair = chair
        self.sent = threading.Event()
        self.response: httpx.Response | None = None
        self.error: Exception | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.sent.wait(timeout=0.01):
            assert self.thread.is_alive() and time.monotonic() < deadline, (
                f"the sign-off was never sent: {self.error!r}"
            )

    def _run(self) -> None:
        def sending(request: httpx.Request) -> None:
            if request.method == "POST":
                self.sent.set()

        hooks = {"request": [sending]}
        try:
            with httpx.Client(base_url=self.base_url, timeout=REQUEST_TIMEOUT, event_hooks=hooks) as http:
                # Open the connection first (with a file that needs no database, which a held
                # transaction may have locked), so what is sent next is the request itself.
                http.get("/static/app/js-enabled.js").raise_for_status()
                self.response = http.post(
                    f"/api/v1/assessments/{self.trial.assessment_id}/submit", headers=self.chair.headers
                )
        except httpx.TransportError as error:
            self.error = error  # the server died first
        except Exception as error:  # noqa: BLE001 - reported by start() and the check
            self.error = error

    def join(self) -> None:
        if self.thread.ident is not None:
            self.thread.join(timeout=60)
            assert not self.thread.is_alive(), "the sign-off request hung after the server was killed"


# --- Checks after the restart -------------------------------------------------------------------------


def check_saves(
    engine: Engine, base_url: str, trial: Trial, board: Board, burst: Burst
) -> tuple[list[str], int]:
    """Every answered save is there, or the one in flight after it; nothing else is. Also returns
    how many saves in flight at the kill were stored."""
    problems = list(burst.problems)
    committed_in_flight = 0
    with httpx.Client(base_url=base_url, timeout=REQUEST_TIMEOUT) as http:
        for rater in board.raters:
            response = http.get(f"/api/v1/assessments/{trial.assessment_id}/ratings", headers=rater.headers)
            assert response.status_code == 200, response.text
            stored = {row["criterion_key"]: row for row in response.json()}
            for key in sorted(set(stored) - set(burst.owned[rater.id])):
                problems.append(f"{rater.label} {key}: a rating nobody saved: {stored[key]}")
            for key in burst.owned[rater.id]:
                answer = burst.answers[(rater.id, key)]
                row = stored.get(key)
                found = None if row is None else Sent(row["level"], row["comment"], row["version"])
                allowed = [answer.acked]
                if answer.in_flight is not None:
                    sent = answer.in_flight
                    allowed.append(Sent(sent.level, sent.comment, sent.version + 1))
                if found not in allowed:
                    problems.append(
                        f"{rater.label} {key}: stored {found}; last answered save {answer.acked}; "
                        f"in flight {answer.in_flight}; refused {answer.refused}"
                    )
                elif found is not None and found != answer.acked:
                    committed_in_flight += 1
    with Session(engine) as db:
        versions = db.exec(
            select(func.coalesce(func.sum(Rating.version), 0)).where(
                Rating.assessment_id == trial.assessment_id
            )
        ).one()
        events = db.exec(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "rating.changed", AuditEvent.object_id == trial.assessment_id)
        ).one()
    # Each stored save made one version and wrote one audit event, in the same transaction.
    if versions != events:
        problems.append(
            f"{versions} rating versions stored (one a save) but {events} 'rating.changed' audit events"
        )
    print(
        f"{trial.name}: {burst.acks} saves answered, {burst.in_flight} in flight at the kill "
        f"({committed_in_flight} of them stored)"
    )
    return problems, committed_in_flight


@dataclass
class SignOffState:
    submitted: bool
    submitted_at: datetime | None
    problems: list[str]


def check_sign_off(engine: Engine, trial: Trial, board: Board) -> SignOffState:
    """All of the sign-off or none of it: status, time, who, version, scores, audit event, snapshots."""
    aid = trial.assessment_id
    with Session(engine) as db:
        assessment = db.get(Assessment, aid)
        assert assessment is not None
        scores = {
            s.section_key: s.score
            for s in db.exec(select(StoredScore).where(StoredScore.assessment_id == aid))
        }
        events = db.exec(
            select(AuditEvent).where(AuditEvent.action == "assessment.submitted", AuditEvent.object_id == aid)
        ).all()
        snapshots = db.exec(select(PeerSnapshot).where(PeerSnapshot.cycle_id == trial.cycle_id)).all()
        late = (
            db.exec(
                select(Rating.id).where(
                    Rating.assessment_id == aid, Rating.updated_at > assessment.submitted_at
                )
            ).all()
            if assessment.submitted_at
            else []
        )
    parts = {
        "status 'submitted'": assessment.status == "submitted",
        "submitted_at": assessment.submitted_at is not None,
        "submitted_by": assessment.submitted_by_id is not None,
        "version moved on": assessment.version != 1,
        "stored scores": bool(scores),
        "audit event": bool(events),
        "peer snapshots": bool(snapshots),
    }
    problems: list[str] = []
    if any(parts.values()) and not all(parts.values()):
        present = [name for name, there in parts.items() if there]
        missing = [name for name, there in parts.items() if not there]
        problems.append(f"half-written sign-off: has {present}, lacks {missing}")
    submitted = all(parts.values())
    if submitted:
        if (assessment.submitted_by_id, assessment.version) != (board.chair.id, 2):
            problems.append(f"signed off by {assessment.submitted_by_id}, version {assessment.version}")
        if set(scores) != set(trial.section_means) or any(
            abs(scores[key] - mean) > 1e-9 for key, mean in trial.section_means.items()
        ):
            problems.append(f"stored scores {scores} are not the agreed levels' means {trial.section_means}")
        if len(events) != 1:
            problems.append(f"{len(events)} 'assessment.submitted' audit events")
        expected_ids = sorted([aid, trial.peer_assessment_id])
        everyone = [s for s in snapshots if s.group_kind == "all"]
        if len(everyone) != 1 or everyone[0].assessment_ids != expected_ids:
            problems.append(
                f"'all trusts' snapshot {[(s.assessment_ids) for s in everyone]}, not {expected_ids}"
            )
        elif abs(everyone[0].scores[OVERALL_KEY][str(aid)] - scores[OVERALL_KEY]) > 1e-9:
            problems.append("the snapshot's overall score is not the stored one")
        if any(s.assessment_ids != expected_ids for s in snapshots):
            problems.append(f"snapshots {[(s.group_kind, s.assessment_ids) for s in snapshots]}")
        if late:
            problems.append(f"ratings {late} changed after the sign-off")
    return SignOffState(submitted, assessment.submitted_at, problems)


def check_trial(
    engine: Engine, server: Server, trial: Trial, board: Board, burst: Burst, sign_off: SignOff | None
) -> None:
    """Run on the restarted server: what was answered survived; the sign-off is all or nothing."""
    problems, stored_unanswered = check_saves(engine, server.base_url, trial, board, burst)
    if trial.crash_point and trial.crash_point.startswith("save") and not stored_unanswered:
        problems.append("the save held just after its COMMIT (stored, never answered) is not there")
    state = check_sign_off(engine, trial, board)
    problems += state.problems
    answered = sign_off.response if sign_off else None
    if sign_off and sign_off.error is not None and not isinstance(sign_off.error, httpx.TransportError):
        problems.append(f"the sign-off request failed: {sign_off.error!r}")
    if answered is not None:
        if answered.status_code != 200:
            problems.append(f"the sign-off was answered {answered.status_code}: {answered.text}")
        elif not state.submitted:
            problems.append("the sign-off was answered 200, and is not there after the restart")
        elif datetime.fromisoformat(answered.json()["submitted_at"]) != state.submitted_at:
            problems.append("the stored sign-off is not the one that was answered")
    if trial.crash_point and trial.crash_point.startswith("submission") and answered is not None:
        problems.append(f"the sign-off was answered although the server was held at {trial.crash_point}")
    expected = trial.expect
    if expected is not None and not state.problems and (state.submitted != (expected == "submitted")):
        problems.append(f"expected {expected}, found {'submitted' if state.submitted else 'not submitted'}")
    print(
        f"{trial.name}: sign-off {'answered' if answered is not None else 'not answered'}, "
        f"{'submitted' if state.submitted else 'not submitted'} after the restart"
    )
    assert not problems, f"{trial.name} ({server.label} server):\n  " + "\n  ".join(problems)

    # The restarted service works: through the API as well as in the tables.
    with httpx.Client(base_url=server.base_url, timeout=REQUEST_TIMEOUT) as http:
        shown = http.get(f"/api/v1/assessments/{trial.assessment_id}", headers=board.chair.headers)
        assert shown.status_code == 200, shown.text
        assert shown.json()["status"] == ("submitted" if state.submitted else "in_progress")
        ned, key = board.neds[0], burst.owned[board.neds[0].id][0]
        rows = http.get(f"/api/v1/assessments/{trial.assessment_id}/ratings", headers=ned.headers).json()
        version = next((row["version"] for row in rows if row["criterion_key"] == key), 0)
        saved = http.put(
            f"/api/v1/assessments/{trial.assessment_id}/ratings/{key}",
            json={"level": 3, "comment": "after the restart", "version": version},
            headers=ned.headers,
        )
        if state.submitted:
            assert saved.status_code == 409 and saved.json()["status"] == "submitted", saved.text
            return
        assert saved.status_code == 200 and saved.json()["version"] == version + 1, saved.text
        signed = http.post(f"/api/v1/assessments/{trial.assessment_id}/submit", headers=board.chair.headers)
        assert signed.status_code == 200 and signed.json()["status"] == "submitted", signed.text
    after = check_sign_off(engine, trial, board)
    assert after.submitted and not after.problems, f"signing off after the restart: {after.problems}"


def drive(server: Server, trial: Trial, burst: Burst, sign_off: SignOff) -> None:
    """Saves until enough are answered, then the sign-off, up to the trial's kill point."""
    burst.start()
    burst.wait_for_acks(trial.acks_before)
    if trial.crash_point is None:
        sign_off.start()
        time.sleep(trial.kill_delay)
    elif trial.crash_point.startswith("save"):
        # First one save is held just after its COMMIT, stored and unanswered; then another is held
        # just before its COMMIT, and the sign-off sent.
        server.arm("save:after-commit")
        server.wait_for_crash_point("save:after-commit")
        server.arm(trial.crash_point)
        server.wait_for_crash_point(trial.crash_point)
        sign_off.start()
    else:
        server.arm(trial.crash_point)
        sign_off.start()
        server.wait_for_crash_point(trial.crash_point)


# --- The test ----------------------------------------------------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A database of the suite's backend for this test alone: the server is killed on it three times."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    with fresh_database(tmp_path, f"crash_{worker}") as url:
        upgrade(url)
        engine = make_engine(url)
        load_reference_data(engine)
        engine.dispose()
        yield url


def test_killed_server_keeps_every_answered_save_and_never_half_signs_off(
    database: str, tmp_path: Path
) -> None:
    settings = Settings(
        env="test", database_url=database, secret_key=TEST_SECRET, frameworks_dir=FRAMEWORKS_DIR
    )
    seed_engine = make_engine(database)
    trials = make_trials()
    board = seed(seed_engine, settings, trials)
    seed_engine.dispose()
    # The test's reads stand alone on SQLite (no write lock held beside the server).
    engine = make_engine(database, sqlite_immediate=False)
    servers: list[Server] = []

    def server(label: str, crash_points: bool) -> Server:
        new = Server(database, tmp_path, label, crash_points=crash_points)
        servers.append(new)
        new.spawn()
        return new

    try:
        # Each restart is launched a run ahead, because importing the app takes seconds on a busy
        # machine; a process opens the database only when asked to, which is after the kill.
        running = server("run 1", crash_points=RUNS[0][0])
        standby = server("run 2", crash_points=RUNS[1][0])
        running.wait_until_ready()
        for number, (_crash_points, names) in enumerate(RUNS):
            started: list[tuple[Trial, Burst, SignOff]] = []
            try:
                for name in names:
                    trial = next(t for t in trials if t.name.startswith(f"{name}:"))
                    burst = Burst(running.base_url, trial, board)
                    sign_off = SignOff(running.base_url, trial, board.chair)
                    started.append((trial, burst, sign_off))
                    drive(running, trial, burst, sign_off)
                time.sleep(HOLD_BEFORE_KILL_SECONDS if started[-1][0].crash_point else 0)
                standby.assert_database_unopened()
            finally:
                running.kill()
                for _trial, burst, sign_off in started:
                    burst.join()
                    sign_off.join()
            running = standby
            if number + 1 < len(RUNS):
                after = RUNS[number + 2][0] if number + 2 < len(RUNS) else False
                standby = server(f"run {number + 3}", crash_points=after)
            running.wait_until_ready()
            failures = []
            for trial, burst, sign_off in started:
                try:
                    check_trial(engine, running, trial, board, burst, sign_off)
                except AssertionError as failure:
                    failures.append(str(failure))
            assert not failures, "\n".join(failures)

        # After the last kill, a save on an assessment still open is answered and stored.
        with httpx.Client(base_url=running.base_url, timeout=REQUEST_TIMEOUT) as http:
            saved = http.put(
                f"/api/v1/assessments/{board.spare_assessment_id}/ratings/{board.keys[0]}",
                json={"level": 2, "comment": "still working", "version": 0},
                headers=board.chair.headers,
            )
            assert saved.status_code == 200, saved.text
            mine = http.get(
                f"/api/v1/assessments/{board.spare_assessment_id}/ratings", headers=board.chair.headers
            ).json()
            assert mine == [
                {"criterion_key": board.keys[0], "level": 2, "comment": "still working", "version": 1}
            ]
    finally:
        for each in servers:
            each.kill()
        engine.dispose()
