"""Two instances behind a real reverse proxy: the service keeps no state of its own, so it does not
matter which instance answers.

Two `python -m api serve` processes on two ports share one fresh PostgreSQL database; nginx (from
Debian's packages, one worker, round-robin, never retrying a request on the other instance) is in
front and names the instance that answered in an X-Upstream header. A board's journey goes through
the proxy, each step on the instance the test chooses (round-robin alternates strictly, so a
request to /healthz moves the turn on when needed): sign in through one, rate through the other;
upload through one, download through the other; sign out through one and be signed out on both.
Sign-in delays count failures made on both. Two sign-offs of one assessment sent at the same
moment to the two instances: one sign-off, one audit event; two trusts' sign-offs at the same moment:
the peer snapshots taken once, holding both. Two closes of the year at the same moment: one wins,
the other gets 409, the final figures taken once.

PostgreSQL only: two processes sharing one SQLite file is not a layout the service supports.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from api.assessments.models import Evidence, Rating
from api.audit.models import AuditEvent
from api.benchmarking.models import PeerSnapshot
from api.db import make_engine
from api.migrate import upgrade
from api.settings import PROJECT_ROOT, Settings
from tests.assessments.helpers import (
    CYCLE,
    OTHER_TRUST,
    TRUST,
    Board,
    Person,
    all_at_once,
    build_board,
    open_assessment,
)
from tests.conftest import FRAMEWORKS_DIR, TEST_SECRET, load_reference_data
from tests.databases import backend, fresh_database
from tests.factories import PASSWORD, csrf_from, make_user

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)

if backend() != "postgresql":
    pytestmark = pytest.mark.skip(
        reason="two instances share one PostgreSQL database (run with TEST_DATABASE_BACKEND=postgresql)"
    )
elif NGINX is None and os.environ.get("CI") == "true":
    raise RuntimeError("nginx is not installed: .ci/run installs it (Debian package nginx)")
elif NGINX is None:
    pytestmark = pytest.mark.skip(reason="nginx is not installed (Debian: apt-get install nginx)")

START_SECONDS = 60
PNG_PREFIX = b"\x89PNG\r\n\x1a\n"

NGINX_CONF = """
{user}
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream instances {{
        server 127.0.0.1:{port_a} max_fails=0;
        server 127.0.0.1:{port_b} max_fails=0;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 11m;
        location / {{
            proxy_pass http://instances;
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_next_upstream off;
            add_header X-Upstream $upstream_addr always;
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"{url} exited while starting:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not start in {START_SECONDS} s:\n{log.read_text()[-3000:]}")
        time.sleep(0.1)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Proxy:
    """The proxy's address, the two instances' addresses as nginx names them, and whose turn it is."""

    url: str
    instances: dict[str, str]  # "A"/"B" -> "127.0.0.1:port"
    last: str | None = None
    clients: list[httpx.Client] = field(default_factory=list)

    def remember(self, response: httpx.Response) -> None:
        self.last = response.headers.get("x-upstream")

    def client(self) -> httpx.Client:
        """A client of the proxy (its own cookies) that notes which instance answered each request."""
        client = httpx.Client(base_url=self.url, timeout=60, event_hooks={"response": [self.remember]})
        self.clients.append(client)
        return client

    def on(
        self, instance: str, client: httpx.Client, method: str, path: str, **kwargs: object
    ) -> httpx.Response:
        """The request, answered by the chosen instance: round-robin alternates, so if that
        instance answered the last request, a look at /healthz gives the turn to the other first."""
        wanted = self.instances[instance]
        for _ in range(2):
            if self.last in self.instances.values() and self.last != wanted:
                break
            assert client.get("/healthz").status_code == 200
        assert self.last != wanted
        response = client.request(method, path, **kwargs)  # type: ignore[arg-type]
        assert response.headers["x-upstream"] == wanted, (instance, response.headers.get("x-upstream"))
        return response


@dataclass
class World:
    proxy: Proxy
    database_url: str
    board: Board
    aids: dict[str, int]  # each trust's open assessment


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("two-instances")
    with fresh_database(tmp, "two") as database_url:
        engine = make_engine(database_url)
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("UVICORN_") and name != "WEB_CONCURRENCY"
        }
        env.update(
            ENV="test",
            DATABASE_URL=database_url,
            SECRET_KEY=TEST_SECRET,
            K_ANONYMITY="2",
            FRAMEWORKS_DIR=str(FRAMEWORKS_DIR),
            TRUSTED_PROXIES='["127.0.0.1"]',
            LOG_LEVEL="WARNING",
        )
        ports = {"A": free_port(), "B": free_port()}
        processes: list[subprocess.Popen[bytes]] = []
        try:
            logs = {}
            for name, port in ports.items():
                logs[name] = tmp / f"instance-{name}.log"
                with logs[name].open("wb") as log:
                    processes.append(
                        subprocess.Popen(
                            [
                                sys.executable,
                                "-m",
                                "api",
                                "serve",
                                "--host",
                                "127.0.0.1",
                                "--port",
                                str(port),
                            ],
                            cwd=PROJECT_ROOT,
                            env=env,
                            stdin=subprocess.DEVNULL,
                            stdout=log,
                            stderr=subprocess.STDOUT,
                            start_new_session=True,
                        )
                    )
            proxy_port = free_port()
            prefix = tmp / "nginx"
            prefix.mkdir()
            (prefix / "nginx.conf").write_text(
                NGINX_CONF.format(
                    # As root, nginx's worker would otherwise run as nobody, who cannot use this folder.
                    user=f"user {getpass.getuser()};" if os.geteuid() == 0 else "",
                    prefix=prefix,
                    port=proxy_port,
                    port_a=ports["A"],
                    port_b=ports["B"],
                )
            )
            nginx_log = prefix / "error.log"
            processes.append(
                subprocess.Popen(
                    [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(nginx_log)],  # type: ignore[list-item]
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
            # The instances open the database only when a request needs it: it is made ready while
            # they start.
            upgrade(database_url)
            load_reference_data(engine)
            for (name, port), process in zip(ports.items(), processes, strict=False):
                wait_for(f"http://127.0.0.1:{port}", process, logs[name])
            wait_for(f"http://127.0.0.1:{proxy_port}", processes[-1], nginx_log)

            proxy = Proxy(
                url=f"http://127.0.0.1:{proxy_port}",
                instances={name: f"127.0.0.1:{port}" for name, port in ports.items()},
            )
            settings = Settings(
                env="test", database_url=database_url, secret_key=TEST_SECRET, frameworks_dir=FRAMEWORKS_DIR
            )
            with Session(engine) as db:
                make_user(db, "throttled@airedale.example", trust=TRUST, name="Ifeoma Throttled")
                # The board's API calls go through the proxy too.
                board = build_board(db, proxy.client(), engine, settings)  # type: ignore[arg-type]
            aids = {TRUST: open_assessment(board)}
            other = board.open(board.other_chair, trust=OTHER_TRUST)
            assert other.status_code == 201, other.text
            aids[OTHER_TRUST] = other.json()["id"]
            yield World(proxy, database_url, board, aids)
        finally:
            for client in proxy.clients if "proxy" in locals() else []:
                client.close()
            for process in reversed(processes):
                stop(process)
            engine.dispose()


def count(database_url: str, statement: object) -> int:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            return session.exec(statement).one()  # type: ignore[call-overload]
    finally:
        engine.dispose()


def sign_in_page(proxy: Proxy, instance: str, email: str) -> httpx.Client:
    browser = proxy.client()
    form = browser.get("/sign-in")
    response = proxy.on(
        instance,
        browser,
        "POST",
        "/sign-in",
        data={"email": email, "password": PASSWORD, "csrf_token": csrf_from(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return browser


def test_a_board_members_journey_alternates_between_the_two_instances(world: World) -> None:
    proxy, board = world.proxy, world.board
    aid = world.aids[TRUST]
    ned = board.neds[0]
    key = board.criterion_keys[0]

    # Signed in through A, the member rates through B.
    browser = sign_in_page(proxy, "A", ned.email)
    section = browser.get(f"/assessments/{aid}/sections/accountability")
    assert section.status_code == 200, section.text
    token = csrf_from(section.text)
    saved = proxy.on(
        "B",
        browser,
        "POST",
        f"/assessments/{aid}/ratings/{key}",
        data={f"level__{key}": "3", f"comment__{key}": "Seen in the minutes", f"version__{key}": "0"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert saved.status_code == 200, saved.text
    assert count(world.database_url, select(func.count()).select_from(Rating).where(Rating.level == 3)) == 1

    # A file uploaded through A (more than one piece, so the download streams) comes back through B.
    data = PNG_PREFIX + random.Random(2).randbytes(1_300_000)
    uploaded = proxy.on(
        "A",
        board.client,  # type: ignore[arg-type]
        "POST",
        f"/api/v1/assessments/{aid}/consensus/{key}/files",
        files={"file": ("Staff survey chart.png", data, "image/png")},
        headers=board.chair.headers,
    )
    assert uploaded.status_code == 201, uploaded.text
    evidence_id = uploaded.json()["id"]
    downloaded = proxy.on("B", browser, "GET", f"/assessments/{aid}/evidence/{evidence_id}/download")
    assert downloaded.status_code == 200
    assert downloaded.content == data
    assert count(world.database_url, select(func.count()).select_from(Evidence)) == 1

    # Signed out through A: signed out on B too.
    signed_out = proxy.on(
        "A", browser, "POST", "/sign-out", data={"csrf_token": token}, follow_redirects=False
    )
    assert signed_out.status_code == 303, signed_out.text
    for instance in ("B", "A"):
        page = proxy.on(
            instance, browser, "GET", f"/assessments/{aid}/sections/accountability", follow_redirects=False
        )
        assert page.status_code in (302, 303), (instance, page.status_code)
        assert "/sign-in" in page.headers["location"]


def test_sign_in_delays_count_failures_made_on_both_instances(world: World) -> None:
    proxy = world.proxy
    client = proxy.client()
    email = "throttled@airedale.example"
    # Five failures are let through in a day (docs/security.md): three made on A, two on B...
    for n in range(5):
        wrong = proxy.on(
            "AB"[n % 2],
            client,
            "POST",
            "/api/v1/auth/token",
            data={"username": email, "password": "Wrong-password-1"},
        )
        assert wrong.status_code == 401, wrong.text
    # ...so the next try must wait, on either instance, even with the right password.
    for instance in ("B", "A"):
        refused = proxy.on(
            instance, client, "POST", "/api/v1/auth/token", data={"username": email, "password": PASSWORD}
        )
        assert refused.status_code == 429, (instance, refused.text)
        assert int(refused.headers["retry-after"]) >= 1


def at_once_on_both(world: World, *requests: tuple[str, str, dict[str, Any]]) -> list[httpx.Response]:
    """Two requests (method, path, httpx arguments) sent at the same moment: round-robin gives one
    to each instance."""
    assert len(requests) == 2
    responses = all_at_once(
        world.proxy.url,
        [lambda http, r=r: http.request(r[0], r[1], **r[2]) for r in requests],  # type: ignore[misc]
    )
    assert {r.headers["x-upstream"] for r in responses} == set(world.proxy.instances.values())
    world.proxy.last = None  # those clients' turns were not noted
    return responses


def audit_events(world: World, action: str) -> int:
    return count(
        world.database_url, select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def agree_everything(board: Board, chair: Person, aid: int) -> None:
    assert board.close_rating(aid, chair).status_code == 200

    def agree(key: str) -> None:
        agreed = board.agree(chair, aid, key, 2, rationale="Agreed at the board")
        if agreed.status_code == 409:  # the row an evidence upload made
            version = agreed.json()["current"]["version"]
            agreed = board.agree(chair, aid, key, 2, version=version, rationale="Agreed at the board")
        assert agreed.status_code == 200, agreed.text

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(agree, board.criterion_keys))


def test_sign_off_and_closing_the_year_at_the_same_moment_on_both_instances_happen_once(world: World) -> None:
    board = world.board
    chairs = {TRUST: board.chair, OTHER_TRUST: board.other_chair}
    for trust, chair in chairs.items():
        agree_everything(board, chair, world.aids[trust])

    def snapshots() -> list[PeerSnapshot]:
        engine = make_engine(world.database_url)
        try:
            with Session(engine) as session:
                return list(session.exec(select(PeerSnapshot)).all())
        finally:
            engine.dispose()

    def submit(trust: str) -> tuple[str, str, dict[str, Any]]:
        return ("POST", f"/api/v1/assessments/{world.aids[trust]}/submit", {"headers": chairs[trust].headers})

    # The two trusts sign off at the same moment, one on each instance. With K=2, each sign-off
    # refreshes the peer groups both trusts are in; one at a time, so the second sees the first and
    # the snapshots are taken once, holding both.
    signed_off = at_once_on_both(world, submit(TRUST), submit(OTHER_TRUST))
    assert [r.status_code for r in signed_off] == [200, 200], [r.text for r in signed_off]
    taken = snapshots()
    everyone = [s for s in taken if s.group_kind == "all"]
    assert len(everyone) == 1 and sorted(everyone[0].assessment_ids) == sorted(world.aids.values())
    assert audit_events(world, "assessment.submitted") == 2

    # Reopened, the chair presses "sign off" in two tabs at once, one on each instance: one
    # sign-off, and both tabs are told of it (signing off again returns the one submission).
    assert board.reopen(world.aids[TRUST]).status_code == 200
    tabs = at_once_on_both(world, submit(TRUST), submit(TRUST))
    assert [r.status_code for r in tabs] == [200, 200], [r.text for r in tabs]
    answers = {(r.json()["status"], r.json()["submitted_at"], r.json()["version"]) for r in tabs}
    assert len(answers) == 1 and next(iter(answers))[0] == "submitted"
    assert audit_events(world, "assessment.submitted") == 3

    # Two platform admins close the year at the same moment: closed once (the other is told it
    # has already closed), final figures taken once.
    close = (
        "POST",
        "/api/v1/admin/cycles/close",
        {"headers": board.admin.headers, "json": {"cycle": CYCLE, "version": 1}},
    )
    closes = at_once_on_both(world, close, close)
    assert sorted(r.status_code for r in closes) == [200, 409], [r.text for r in closes]
    assert audit_events(world, "cycle.closed") == 1
    final = snapshots()
    assert final and all(s.final for s in final)
    groups = [(s.group_kind, s.group_value) for s in final]
    assert len(groups) == len(set(groups))
    assert {(s.group_kind, s.group_value) for s in taken} <= set(groups)
