"""A board to test the assessment API with: people on two trusts, their tokens, and HTTP shortcuts.

The test session (`db`) is used only to build the board and is left with no transaction open:
on SQLite every transaction takes the write lock, so a test that kept one open would block the app.
Later reads go through `query`, a short session of its own.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, TypeVar

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.accounts.models import User
from api.accounts.sessions import issue_api_token
from api.assessments.models import Assessment
from api.assessments.repository import criteria_of
from api.db import utcnow
from api.settings import Settings
from tests.factories import bearer, make_cycle, make_user, with_second_factor

TRUST = "RCF"
OTHER_TRUST = "RBS"
CYCLE = "2026/27"

T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    id: int
    email: str
    name: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.token)


@dataclass
class Board:
    """Trust RCF's board (a chair, a secretary, six members), RBS's chair and NED, a platform admin.

    Seven raters: enough for the chair to see a spread (at least 5 others must have rated)."""

    client: TestClient
    engine: Engine
    chair: Person
    secretary: Person
    neds: list[Person]
    other_chair: Person
    other_ned: Person
    admin: Person
    criterion_keys: list[str] = field(default_factory=list)

    @property
    def raters(self) -> list[Person]:
        return [self.chair, *self.neds]

    # --- HTTP shortcuts ---------------------------------------------------------------------------

    def open(self, person: Person | None = None, trust: str = TRUST, cycle: str = CYCLE) -> httpx.Response:
        return self.client.post(
            f"/api/v1/organisations/{trust}/assessments",
            json={"cycle": cycle},
            headers=(person or self.chair).headers,
        )

    def rate(
        self,
        person: Person,
        assessment_id: int,
        key: str,
        level: Any,
        version: int = 0,
        comment: str = "",
    ) -> httpx.Response:
        return self.client.put(
            f"/api/v1/assessments/{assessment_id}/ratings/{key}",
            json={"level": level, "comment": comment, "version": version},
            headers=person.headers,
        )

    def agree(
        self, person: Person, assessment_id: int, key: str, level: int, version: int = 0, rationale: str = ""
    ) -> httpx.Response:
        return self.client.put(
            f"/api/v1/assessments/{assessment_id}/consensus/{key}",
            json={"level": level, "rationale": rationale, "version": version},
            headers=person.headers,
        )

    def agree_all(self, assessment_id: int, level: int = 2, keys: Sequence[str] | None = None) -> None:
        for key in self.criterion_keys if keys is None else keys:
            response = self.agree(self.chair, assessment_id, key, level)
            assert response.status_code == 200, response.text

    def submit(self, assessment_id: int, person: Person | None = None) -> httpx.Response:
        return self.client.post(
            f"/api/v1/assessments/{assessment_id}/submit", headers=(person or self.chair).headers
        )

    def reopen(
        self, assessment_id: int, reason: str = "The chair asked to correct an error"
    ) -> httpx.Response:
        return self.client.post(
            f"/api/v1/admin/assessments/{assessment_id}/reopen",
            json={"reason": reason},
            headers=self.admin.headers,
        )

    def close_rating(self, assessment_id: int, person: Person | None = None) -> httpx.Response:
        """The chair closes rating (at the assessment's current version)."""
        person = person or self.chair
        version = self.get(f"/api/v1/assessments/{assessment_id}", person).json()["version"]
        return self.client.post(
            f"/api/v1/assessments/{assessment_id}/close-rating",
            json={"version": version},
            headers=person.headers,
        )

    def get(self, path: str, person: Person) -> httpx.Response:
        return self.client.get(path, headers=person.headers)


def cycle_dates(today: date | None = None) -> tuple[date, date]:
    """2026/27's real dates, widened to include today so the cycle is open whatever the clock says."""
    today = today or date.today()
    return min(date(2026, 4, 1), today - timedelta(days=30)), max(
        date(2027, 3, 31), today + timedelta(days=30)
    )


def _person(db: Session, user: User, settings: Settings) -> Person:
    # As the token endpoint issues it: with the second factor passed, for those who have one.
    _token, raw = issue_api_token(
        db, user, settings, second_factor_at=utcnow() if user.totp_enabled_at else None
    )
    return Person(id=user.id, email=user.email, name=user.name, token=raw)


def build_board(db: Session, client: TestClient, engine: Engine, settings: Settings) -> Board:
    opens, closes = cycle_dates()
    make_cycle(db, CYCLE, opens, closes)
    users = {
        "chair": make_user(db, "chair@airedale.example", role="chair", trust=TRUST, name="Hester Chairwoman"),
        "secretary": make_user(
            db, "secretary@airedale.example", role="board_secretary", trust=TRUST, name="Ossian Secretan"
        ),
        "ned1": make_user(db, "ned.one@airedale.example", trust=TRUST, name="Priya Marlowe"),
        "ned2": make_user(
            db, "ned.two@airedale.example", trust=TRUST, board_role="executive", name="Tomasz Quennell"
        ),
        "ned3": make_user(db, "ned.three@airedale.example", trust=TRUST, name="Yewande Ashgrove"),
        "ned4": make_user(db, "ned.four@airedale.example", trust=TRUST, name="Bartholomew Fenwick"),
        "ned5": make_user(
            db, "ned.five@airedale.example", trust=TRUST, board_role="executive", name="Chiamaka Oduya"
        ),
        "ned6": make_user(db, "ned.six@airedale.example", trust=TRUST, name="Dagny Lindqvist"),
        "other_chair": make_user(
            db, "chair@alderhey.example", role="chair", trust=OTHER_TRUST, name="Other Chairperson"
        ),
        "other_ned": make_user(db, "ned@alderhey.example", trust=OTHER_TRUST, name="Other Nedperson"),
        "admin": with_second_factor(
            db, make_user(db, "admin@platform.example", platform_role="platform_admin", name="Ada Admin")
        ),
    }
    people = {label: _person(db, user, settings) for label, user in users.items()}
    db.commit()
    db.close()
    return Board(
        client=client,
        engine=engine,
        chair=people["chair"],
        secretary=people["secretary"],
        neds=[people[f"ned{n}"] for n in range(1, 7)],
        other_chair=people["other_chair"],
        other_ned=people["other_ned"],
        admin=people["admin"],
    )


def open_assessment(board: Board) -> int:
    response = board.open()
    assert response.status_code == 201, response.text
    assessment_id = response.json()["id"]
    if not board.criterion_keys:
        with Session(board.engine) as session:
            assessment = session.get(Assessment, assessment_id)
            assert assessment is not None
            board.criterion_keys = [criterion.key for _s, criterion in criteria_of(session, assessment)]
    return assessment_id


def query(engine: Engine, statement: Any) -> list[Any]:
    """Rows read in a short session of their own, detached, with every attribute loaded."""
    with Session(engine, expire_on_commit=False) as session:
        rows = list(session.exec(statement).all())
        session.expunge_all()
    return rows


def one(engine: Engine, statement: Any) -> Any:
    rows = query(engine, statement)
    assert len(rows) == 1, rows
    return rows[0]


def get_row(engine: Engine, model: type[T], row_id: int) -> T:
    return one(engine, select(model).where(model.id == row_id))  # type: ignore[attr-defined]


# --- A real server, for requests that really run at the same time ------------------------------------


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """The app under uvicorn in a background thread, on a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app, log_level="warning", http="httptools", loop="asyncio", lifespan="off", access_log=False
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive(), "the test server stopped while starting"
        assert time.monotonic() < deadline, "the test server did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def all_at_once(
    base_url: str, calls: Sequence[Callable[[httpx.Client], httpx.Response]]
) -> list[httpx.Response]:
    """Run each call in its own thread, on its own connection, released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[httpx.Client], httpx.Response]) -> httpx.Response:
        with httpx.Client(base_url=base_url, timeout=60) as http:
            http.get("/api/v1/me")  # opens the connection, so the barrier releases requests, not handshakes
            barrier.wait(timeout=30)
            return call(http)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))
