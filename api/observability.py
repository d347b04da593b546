"""Request ids, structured logs, Prometheus metrics (/metrics) and the readiness check (/readyz).

Logs: one line per event, JSON in production and readable text elsewhere; every line written while
a request runs carries its id (X-Request-ID when the caller sends a safe one, else a new one, and
always sent back). The request line names the route's template, never the path or query string
itself (those hold emailed tokens and people's ids), and no line holds a body.

Metrics are kept per process (the figures of the worker that answers), or summed across a
host's workers when PROMETHEUS_MULTIPROC_DIR is set (docs/deployment.md). The middleware adds no
database query to a request: the outbox backlog is counted only when /metrics is read.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, text
from sqlalchemy.pool import QueuePool
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.client_ip import client_ip
from api.db import ConnectionGate, SessionDep
from api.deps import SettingsDep
from api.settings import Settings

# --- Request ids -----------------------------------------------------------------------------------

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
# Short, and only characters that cannot break a log line or a header.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def request_id_from(value: bytes | None) -> str:
    if value is not None:
        try:
            candidate = value.decode("ascii")
        except UnicodeDecodeError:
            candidate = ""
        if SAFE_REQUEST_ID.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


# --- Logs ------------------------------------------------------------------------------------------

# A safety net, not the rule: code logs no personal data, and an address that reaches a line anyway
# (an SMTP error quoting the recipient) is blotted out.
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")
OUR_HANDLER = "race_equality_board"


def _redact(value: str) -> str:
    return EMAIL.sub("[email]", value) if "@" in value else value


class RequestIdFilter(logging.Filter):
    """Puts the id of the request being handled (or "-") on every record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _redact(record.getMessage()),
            "request_id": getattr(record, "request_id", None) or request_id_var.get() or "-",
        }
        for name in ACCESS_FIELDS:
            if hasattr(record, name):
                line[name] = getattr(record, name)
        if record.exc_info:
            line["exception"] = _redact(self.formatException(record.exc_info))
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get() or "-"
        return _redact(super().format(record))


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """One handler on the root logger (replacing ours from before, leaving others alone), and
    uvicorn's own loggers sent through it. uvicorn's access log is switched off: it writes the raw
    path and query string; the request line below writes the route's template."""
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(OUR_HANDLER)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if settings.env == "production" else TextFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == OUR_HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = []
        logger.propagate = True
    # Alembic says which plugins it loads when /readyz first reads the migrations; an HTTP client
    # library would write whole URLs, query strings and all.
    for name in ("alembic", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    access.disabled = True
    return handler


request_logger = logging.getLogger("api.request")


# --- Metrics ---------------------------------------------------------------------------------------

# No *_created series: they double what is scraped and say only when the process started.
disable_created_metrics()
# Made once per process, outside any registry: each app's registry (or the multiprocess collector)
# reads them.
REQUESTS = Counter(
    "reb_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    registry=None,
)
LATENCY = Histogram(
    "reb_http_request_duration_seconds",
    "Time to answer a request, by method and route template",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=None,
)
SNAPSHOTS = Counter(
    "reb_peer_snapshots_written",
    "Peer group snapshots written (a refresh writes one per group that is due), by group kind",
    ["group_kind"],
    registry=None,
)
_snapshot_counting = False


def count_snapshot_refreshes() -> None:
    """Count snapshot rows as they are written, wherever the refresh runs (request or command)."""
    global _snapshot_counting
    if _snapshot_counting:
        return
    from api.benchmarking.models import PeerSnapshot

    def _written(_mapper: Any, _connection: Any, snapshot: PeerSnapshot) -> None:
        SNAPSHOTS.labels(snapshot.group_kind).inc()

    event.listen(PeerSnapshot, "after_insert", _written)
    event.listen(PeerSnapshot, "after_update", _written)
    _snapshot_counting = True


class LiveFigures(Collector):
    """Figures read when /metrics is: this process's connection pool and connection gate, and the
    outbox backlog (one count query, only at scrape time)."""

    def __init__(self, engine: Engine, gate: ConnectionGate) -> None:
        self.engine = engine
        self.gate = gate

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.engine.pool
        if isinstance(pool, QueuePool):  # an in-memory SQLite database has no pool to speak of
            yield GaugeMetricFamily(
                "reb_db_pool_checked_out",
                "Database connections this process has in use",
                value=pool.checkedout(),
            )
            yield GaugeMetricFamily(
                "reb_db_pool_size", "Connections this process keeps open (before overflow)", value=pool.size()
            )
        yield GaugeMetricFamily(
            "reb_db_gate_slots",
            "Requests this process runs against the database at once",
            value=self.gate.slots,
        )
        yield GaugeMetricFamily(
            "reb_db_gate_in_use", "Requests using the database now (this process)", value=self.gate.in_use()
        )
        yield GaugeMetricFamily(
            "reb_db_gate_waiting",
            "Requests waiting their turn for the database (this process)",
            value=self.gate.waiting(),
        )
        backlog = self._outbox_backlog()
        if backlog is not None:
            yield GaugeMetricFamily("reb_outbox_unsent", "Emails in the outbox not yet sent", value=backlog)

    def _outbox_backlog(self) -> int | None:
        try:
            with self.engine.connect() as connection:
                return connection.execute(
                    text("SELECT count(*) FROM outbox_email WHERE sent_at IS NULL")
                ).scalar_one()
        except Exception:  # noqa: BLE001 - the database being down must not stop the other figures
            logging.getLogger(__name__).warning("Could not count the outbox backlog for /metrics")
            return None


def metrics_registry(engine: Engine, gate: ConnectionGate) -> CollectorRegistry:
    # auto_describe stays off: describing would collect, and so query the database, at start-up.
    registry = CollectorRegistry()
    registry.register(LiveFigures(engine, gate))
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        for metric in (REQUESTS, LATENCY, SNAPSHOTS):
            registry.register(metric)
    return registry


def _scrape(registry: CollectorRegistry) -> bytes:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        # Counters and histograms summed over every worker of this host, from their shared files.
        combined = CollectorRegistry()
        multiprocess.MultiProcessCollector(combined)
        return generate_latest(combined) + generate_latest(registry)
    return generate_latest(registry)


# --- The middleware --------------------------------------------------------------------------------


def route_template(scope: Scope) -> str:
    """The matched route's path template (FastAPI puts the route in the scope), a mount's prefix,
    or "unmatched": never the raw path, which holds tokens and ids, and has no end of values."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if path:
        return path
    root = scope.get("app_root_path") or scope.get("root_path") or ""
    if root:
        return root
    return "unmatched"


class ObservabilityMiddleware:
    """Pure ASGI: sets the request id, sends it back, counts and times the request, and writes one
    line for it. No database work, nothing read from the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                header = value
                break
        request_id = request_id_from(header)
        token = request_id_var.set(request_id)
        encoded = request_id.encode("ascii")
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *(h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"),
                    (b"x-request-id", encoded),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"]
            route = route_template(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(elapsed)
            if request_logger.isEnabledFor(logging.INFO):
                request_logger.info(
                    "%s %s %d %.1fms",
                    method,
                    route,
                    status,
                    elapsed * 1000,
                    extra={
                        "method": method,
                        "route": route,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 1),
                    },
                )
            request_id_var.reset(token)


# --- Routes ----------------------------------------------------------------------------------------

router = APIRouter(include_in_schema=False)
FORWARDING_HEADERS = ("x-forwarded-for", "forwarded", "x-real-ip")


def _in_networks(address: str, entries: Iterable[str]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(entry, strict=False) for entry in entries)


def metrics_allowed(request: Request, settings: Settings) -> bool:
    token = settings.metrics_token
    if token:
        given = request.headers.get("authorization", "")
        if given.startswith("Bearer ") and hmac.compare_digest(given[7:].encode(), token.encode()):
            return True
    # A request relayed by a proxy is never let in by address: a proxy on the same machine would
    # otherwise make every visitor look like the loopback address. Scrapers come direct.
    if any(name in request.headers for name in FORWARDING_HEADERS):
        return False
    return _in_networks(client_ip(request), settings.metrics_allowed_ips)


@router.get("/metrics", name="metrics")
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus figures, for the configured addresses or the bearer of METRICS_TOKEN; 404 for
    anyone else, as if there were no such page."""
    if not metrics_allowed(request, settings):
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    return Response(_scrape(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST)


def migration_heads(request: Request) -> set[str]:
    heads = getattr(request.app.state, "migration_heads", None)
    if heads is None:
        from alembic.script import ScriptDirectory

        from api.migrate import alembic_config

        config = alembic_config(request.app.state.settings.database_url)
        heads = request.app.state.migration_heads = set(ScriptDirectory.from_config(config).get_heads())
    return heads


@router.get("/readyz", name="readyz")
def readyz(request: Request, session: SessionDep) -> Response:
    """Ready for traffic: the database answers and its migrations are at this code's head. A load
    balancer sends no requests to an instance that is not ready (during a deploy, for instance)."""
    try:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - any database failure means not ready
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    try:
        with session.begin_nested():
            current = set(session.exec(text("SELECT version_num FROM alembic_version")).scalars())  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - no alembic_version table: never migrated
        current = set()
    if current != migration_heads(request):
        return JSONResponse(
            {"status": "unavailable", "database": "ok", "migrations": "not at head"}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "migrations": "at head"})
