"""Request ids, log lines, /metrics and /readyz."""

from __future__ import annotations

import asyncio
import io
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.benchmarking.models import PeerSnapshot
from api.db import ConnectionGate
from api.mail import send_email
from api.main import create_app
from api.migrate import alembic_config, upgrade
from api.observability import configure_logging
from api.settings import Settings
from tests.databases import fresh_database
from tests.factories import make_cycle, make_user, page_csrf

LOOPBACK = ("127.0.0.1", 40000)
ELSEWHERE = ("203.0.113.9", 40000)
METRICS_TOKEN = "metrics-token-that-is-long-enough-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"metrics_token": METRICS_TOKEN})


def client_from(app, address: tuple[str, int]) -> TestClient:  # noqa: ANN001
    return TestClient(app, client=address)


# --- Request ids -------------------------------------------------------------------------------------


def test_a_safe_request_id_is_sent_back(client: TestClient) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2:9_Z"})
    assert response.headers["x-request-id"] == "lb-7f3a.2:9_Z"


def test_without_a_request_id_one_is_made_for_each_request(client: TestClient) -> None:
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/about").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first) and re.fullmatch(r"[0-9a-f]{32}", second)
    assert first != second


@pytest.mark.parametrize(
    "unsafe", ["a" * 65, "has space", "semi;colon", 'quote"d', "new%0Aline", "caf\u00e9".encode()]
)
def test_an_unsafe_request_id_is_replaced(client: TestClient, unsafe: str | bytes) -> None:
    response = client.get("/healthz", headers={"X-Request-ID": unsafe})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_error_responses_carry_the_request_id_too(client: TestClient) -> None:
    response = client.get("/no-such-page", headers={"X-Request-ID": "trace-404"})
    assert response.status_code == 404 and response.headers["x-request-id"] == "trace-404"


# --- Log lines ---------------------------------------------------------------------------------------


@pytest.fixture
def log_lines(settings: Settings) -> Iterator[io.StringIO]:
    """The service's logging as production configures it, into a buffer."""
    import logging

    root = logging.getLogger()
    level = root.level
    stream = io.StringIO()
    handler = configure_logging(settings.model_copy(update={"env": "production"}), stream=stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_production_log_lines_are_json_with_the_request_id_and_no_email(
    settings: Settings, db: Session, clean_database: Engine, log_lines: io.StringIO
) -> None:
    email = "hidden.person@airedale.example"
    make_user(db, email, role="chair", trust="RCF")
    db.commit()
    # Mail goes to a server that is not there: the failure is logged from the delivery thread.
    app = create_app(settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": closed_port()}))
    with TestClient(app) as client:
        csrf = page_csrf(client, "/forgot-password")
        response = client.post(
            "/forgot-password",
            data={"email": email, "csrf_token": csrf},
            headers={"X-Request-ID": "trace-forgot-1"},
        )
        assert response.status_code == 200
        client.get("/reset-password/a-secret-emailed-token?email=" + email)
        deadline = time.monotonic() + 20
        while "Could not send" not in log_lines.getvalue():
            assert time.monotonic() < deadline, log_lines.getvalue()
            time.sleep(0.05)
    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    ours = [line for line in lines if line["request_id"] == "trace-forgot-1"]
    assert {line["logger"] for line in ours} >= {"api.request", "api.mail"}
    (request_line,) = [line for line in ours if line["logger"] == "api.request"]
    assert request_line["route"] == "/forgot-password" and request_line["status"] == 200
    assert request_line["method"] == "POST" and request_line["duration_ms"] > 0
    reset_line = next(line for line in lines if line.get("route") == "/reset-password/{token}")
    assert reset_line["request_id"] != "-"
    text = log_lines.getvalue()
    assert email not in text and "hidden.person" not in text
    assert "a-secret-emailed-token" not in text and "?email" not in text


def test_development_log_lines_are_text_with_the_request_id(settings: Settings, client: TestClient) -> None:
    import logging

    stream = io.StringIO()
    handler = configure_logging(settings.model_copy(update={"env": "development"}), stream=stream)
    try:
        client.get("/about", headers={"X-Request-ID": "dev-trace"})
    finally:
        logging.getLogger().removeHandler(handler)
    (line,) = [line for line in stream.getvalue().splitlines() if "dev-trace" in line]
    assert "INFO" in line and "[dev-trace] api.request: GET /about 200" in line


# --- /metrics ----------------------------------------------------------------------------------------


def sample(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in labels.items())
    pattern = re.escape(f"{name}{{{wanted}}}" if labels else name) + r" (\S+)"
    match = re.search(rf"^{pattern}$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_are_served_to_the_loopback_address(app) -> None:  # noqa: ANN001
    with client_from(app, LOOPBACK) as client:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    for name in ("reb_db_pool_checked_out", "reb_db_gate_waiting", "reb_db_gate_in_use", "reb_outbox_unsent"):
        assert f"\n{name} " in response.text, name


@pytest.mark.parametrize(
    ("address", "headers"),
    [
        (ELSEWHERE, {}),
        (ELSEWHERE, {"Authorization": "Bearer not-the-metrics-token-at-all-0123456789"}),
        (ELSEWHERE, {"Authorization": "Basic " + METRICS_TOKEN}),
        # A proxy on the same machine relays everyone from the loopback address: not let in by address.
        (LOOPBACK, {"X-Forwarded-For": "198.51.100.7"}),
    ],
)
def test_metrics_are_404_for_anyone_else(app, address: tuple[str, int], headers: dict[str, str]) -> None:  # noqa: ANN001
    with client_from(app, address) as client:
        response = client.get("/metrics", headers=headers)
    assert response.status_code == 404
    assert "reb_" not in response.text


def test_metrics_token_lets_a_scraper_in_from_anywhere(app) -> None:  # noqa: ANN001
    with client_from(app, ELSEWHERE) as client:
        response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200 and "reb_db_pool_checked_out" in response.text


def test_configured_addresses_may_read_metrics(settings: Settings, clean_database: Engine) -> None:
    app = create_app(settings.model_copy(update={"metrics_allowed_ips": ["203.0.113.0/24"]}))
    with client_from(app, ELSEWHERE) as client:
        assert client.get("/metrics").status_code == 200
    with client_from(app, LOOPBACK) as client:
        assert client.get("/metrics").status_code == 404


def test_request_counts_and_latency_move_by_route_template(app) -> None:  # noqa: ANN001
    with client_from(app, LOOPBACK) as client:
        before = client.get("/metrics").text
        for _ in range(3):
            client.get("/healthz")
        client.get("/reset-password/some-token-value")
        after = client.get("/metrics").text
    labels = {"method": "GET", "route": "/healthz", "status": "200"}
    assert (
        sample(after, "reb_http_requests_total", **labels)
        - sample(before, "reb_http_requests_total", **labels)
        == 3
    )
    duration = {"method": "GET", "route": "/healthz"}
    assert (
        sample(after, "reb_http_request_duration_seconds_count", **duration)
        - sample(before, "reb_http_request_duration_seconds_count", **duration)
        == 3
    )
    assert 'route="/reset-password/{token}"' in after and "some-token-value" not in after


def test_outbox_backlog_and_snapshot_writes_are_counted(app, db: Session, clean_database: Engine) -> None:  # noqa: ANN001
    with client_from(app, LOOPBACK) as client:
        before = client.get("/metrics").text
        send_email(db, app.state.settings, to="someone@example.org", subject="Hello", body="Hello")
        cycle = make_cycle(db)
        db.add(
            PeerSnapshot(
                cycle_id=cycle.id, group_kind="region", group_value="London", assessment_ids=[], scores={}
            )
        )
        db.commit()
        after = client.get("/metrics").text
    assert sample(after, "reb_outbox_unsent") - sample(before, "reb_outbox_unsent") == 1
    assert (
        sample(after, "reb_peer_snapshots_written_total", group_kind="region")
        - sample(before, "reb_peer_snapshots_written_total", group_kind="region")
        == 1
    )


def test_connection_gate_counts_requests_in_use_and_waiting() -> None:
    gate = ConnectionGate(2)

    async def scenario() -> tuple[int, int]:
        release = asyncio.Event()

        async def request() -> None:
            async with gate.semaphore():
                await release.wait()

        tasks = [asyncio.create_task(request()) for _ in range(5)]
        await asyncio.sleep(0.01)
        counts = (gate.in_use(), gate.waiting())
        release.set()
        await asyncio.gather(*tasks)
        return counts

    assert asyncio.run(scenario()) == (2, 3)


# --- /healthz and /readyz ----------------------------------------------------------------------------


def test_readyz_is_ready_when_the_database_is_at_the_migrations_head(client: TestClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "migrations": "at head"}


def test_readyz_is_503_while_migrations_are_behind_though_healthz_is_alive(
    settings: Settings, tmp_path: Path, clean_database: Engine
) -> None:
    with fresh_database(tmp_path, "behind") as url:
        script = ScriptDirectory.from_config(alembic_config(url))
        (head,) = script.get_heads()
        upgrade(url, script.get_revision(head).down_revision)  # type: ignore[arg-type]
        with TestClient(create_app(settings.model_copy(update={"database_url": url}))) as client:
            assert client.get("/healthz").status_code == 200
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["migrations"] == "not at head"
            client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_readyz_is_503_for_a_database_never_migrated(
    settings: Settings, tmp_path: Path, clean_database: Engine
) -> None:
    with (
        fresh_database(tmp_path, "bare") as url,
        TestClient(create_app(settings.model_copy(update={"database_url": url}))) as client,
    ):
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json()["migrations"] == "not at head"
        client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_readyz_is_503_when_the_database_is_unreachable(client: TestClient) -> None:
    from api.db import make_engine

    original = client.app.state.engine  # type: ignore[attr-defined]
    client.app.state.engine = make_engine("postgresql://nobody@127.0.0.1:1/none")  # type: ignore[attr-defined]
    try:
        response = client.get("/readyz")
    finally:
        client.app.state.engine = original  # type: ignore[attr-defined]
    assert response.status_code == 503 and response.json()["database"] == "unreachable"


WORKER = """
import sys
from fastapi.testclient import TestClient
from api.main import create_app
from api.settings import Settings

app = create_app(Settings(env="test", database_url=sys.argv[1], secret_key=sys.argv[2]))
with TestClient(app, client=("127.0.0.1", 40000)) as client:
    for _ in range(int(sys.argv[3])):
        assert client.get("/healthz").status_code == 200
    if sys.argv[4] == "scrape":
        print(client.get("/metrics").text)
"""


def test_with_a_multiprocess_folder_request_counts_are_summed_over_workers(
    database_url: str, tmp_path: Path, clean_database: Engine
) -> None:
    import os
    import subprocess
    import sys

    from tests.conftest import TEST_SECRET

    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}

    def worker(requests: int, then: str) -> str:
        return subprocess.run(
            [sys.executable, "-c", WORKER, database_url, TEST_SECRET, str(requests), then],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        ).stdout

    worker(2, "exit")
    scraped = worker(3, "scrape")
    assert sample(scraped, "reb_http_requests_total", method="GET", route="/healthz", status="200") == 5
    assert "reb_db_gate_waiting" in scraped
