"""A small asyncio load generator on raw HTTP/1.1 keep-alive streams, for 127.0.0.1 only.

Each client holds one connection and sends its next request when the last one is answered (closed
loop). Every run is bounded twice: by time (warm-up + measured window) and by a total request count.
Only requests that start after the warm-up and finish inside the window are measured.

A raw client, not httpx: the generator shares the two cores with the server, and httpx spends
several times more CPU per request, which would flatter a fast baseline least and a slow app most.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

HOST = "127.0.0.1"
REQUEST_TIMEOUT = 30.0


class ServerError(Exception):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(HOST, self.port)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            await self._open()
        assert self.reader is not None and self.writer is not None
        lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{self.port}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise ServerError(f"connection closed: {exc}") from exc
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        response_headers = {}
        for line in header_lines:
            if ":" in line:
                name, _, value = line.partition(":")
                response_headers[name.strip().lower()] = value.strip()
        if "content-length" in response_headers:
            data = await self.reader.readexactly(int(response_headers["content-length"]))
        elif response_headers.get("transfer-encoding", "").lower() == "chunked":
            data = await self._chunks()
        else:
            data = b""
        if response_headers.get("connection", "").lower() == "close":
            await self.close()
        return status, data

    async def _chunks(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await self.reader.readuntil(b"\r\n")
                return b"".join(parts)
            parts.append(await self.reader.readexactly(size))
            await self.reader.readexactly(2)


class Worker(Protocol):
    """One simulated client: what to send next, and what to learn from the answer."""

    def next_request(self) -> tuple[str, str, dict[str, str], bytes]: ...

    def answered(self, status: int, body: bytes) -> bool:
        """True if the answer is a success."""
        ...


@dataclass
class LoadResult:
    name: str
    clients: int
    seconds: float
    requests: int
    errors: int
    latencies_ms: list[float] = field(repr=False)
    statuses: Counter[int] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    stopped_by: str = "time"

    @property
    def throughput(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (no interpolation); nan for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-p * len(ordered) // 100))))
    return ordered[rank - 1]


async def _exchange(connection: Connection, worker: Worker) -> tuple[int, bytes, bool, float]:
    """The worker's next request and its answer: (status, body, success, seconds); status 0 if none."""
    method, path, headers, body = worker.next_request()
    began = time.perf_counter()
    try:
        status, data = await asyncio.wait_for(
            connection.request(method, path, headers, body), REQUEST_TIMEOUT
        )
        ok = worker.answered(status, data)
    except (TimeoutError, ServerError, OSError) as exc:
        await connection.close()
        status, data, ok = 0, str(exc).encode(), False
    return status, data, ok, time.perf_counter() - began


async def run_load(
    name: str,
    port: int,
    workers: Sequence[Worker],
    *,
    seconds: float,
    warmup: float,
    max_requests: int,
    pace: float | None = None,
) -> LoadResult:
    """All workers at once, for warmup + seconds or max_requests, whichever comes first.

    Closed loop by default: each client sends its next request as soon as the last is answered, so
    the server runs flat out and latency is mostly queueing (clients / throughput). With `pace`,
    each client sends one request every `pace` seconds on a fixed timetable (the clients' timetables
    spread evenly over the first interval), as people do; a request's latency runs from when it was
    due, not when it was sent, so a slow answer that delays the next request is counted in full.
    """
    loop = asyncio.get_running_loop()
    started = loop.time()
    measure_from = started + warmup
    deadline = measure_from + seconds
    sent = 0
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    samples: list[str] = []
    stopped_by = "time"
    first_measured: float | None = None
    last_measured: float | None = None

    async def client(index: int, worker: Worker) -> None:
        nonlocal sent, errors, stopped_by, first_measured, last_measured
        connection = Connection(port)
        due = started + (pace * index / len(workers) if pace else 0.0)
        try:
            while True:
                if pace:
                    await asyncio.sleep(max(0.0, due - loop.time()))
                now = loop.time()
                if now >= deadline:
                    return
                if sent >= max_requests:
                    stopped_by = "count"
                    return
                sent += 1
                status, data, ok, elapsed = await _exchange(connection, worker)
                finished = loop.time()
                if pace:
                    now = min(now, due)  # late because the last answer was slow: counted from when due
                    elapsed = finished - now
                    due += pace
                if now >= measure_from and finished <= deadline:
                    latencies.append(elapsed * 1000)
                    statuses[status] += 1
                    first_measured = now if first_measured is None else min(first_measured, now)
                    last_measured = finished if last_measured is None else max(last_measured, finished)
                    if not ok:
                        errors += 1
                        if len(samples) < 5:
                            samples.append(f"{status} {data[:200]!r}")
        finally:
            await connection.close()

    async with asyncio.timeout(warmup + seconds + REQUEST_TIMEOUT + 10), asyncio.TaskGroup() as group:
        for index, worker in enumerate(workers):
            group.create_task(client(index, worker))
    window = (last_measured - first_measured) if first_measured and last_measured else 0.0
    return LoadResult(
        name=name,
        clients=len(workers),
        seconds=window,
        requests=len(latencies),
        errors=errors,
        latencies_ms=latencies,
        statuses=statuses,
        error_samples=samples,
        stopped_by=stopped_by,
    )


async def run_pass(name: str, port: int, jobs: Sequence[tuple[Worker, int]], *, timeout: float) -> LoadResult:
    """Each worker sends exactly its count of requests, all workers at once, closed loop; all measured.

    For a pass that must happen in full (the autosave first pass), not a window of steady state:
    its seconds run from the first request sent to the last answer.
    """
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    samples: list[str] = []

    async def client(worker: Worker, count: int) -> None:
        nonlocal errors
        connection = Connection(port)
        try:
            for _ in range(count):
                status, data, ok, elapsed = await _exchange(connection, worker)
                latencies.append(elapsed * 1000)
                statuses[status] += 1
                if not ok:
                    errors += 1
                    if len(samples) < 5:
                        samples.append(f"{status} {data[:200]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    async with asyncio.timeout(timeout), asyncio.TaskGroup() as group:
        for worker, count in jobs:
            group.create_task(client(worker, count))
    return LoadResult(
        name=name,
        clients=len(jobs),
        seconds=time.perf_counter() - started,
        requests=len(latencies),
        errors=errors,
        latencies_ms=latencies,
        statuses=statuses,
        error_samples=samples,
        stopped_by="count",
    )


@dataclass
class LatencyResult:
    name: str
    latencies_ms: list[float] = field(repr=False)
    errors: int
    status: int
    size_bytes: int

    @property
    def n(self) -> int:
        return len(self.latencies_ms)

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.latencies_ms, 95)

    @property
    def worst(self) -> float:
        return max(self.latencies_ms) if self.latencies_ms else float("nan")


async def sequential(
    name: str,
    port: int,
    path: str,
    headers: dict[str, str],
    *,
    count: int,
    seconds: float,
    warmup: int = 2,
) -> LatencyResult:
    """One client, one request at a time: `warmup` unmeasured, then up to `count` or `seconds`."""
    connection = Connection(port)
    latencies: list[float] = []
    errors = 0
    status, size = 0, 0
    deadline = time.perf_counter() + seconds
    try:
        for i in range(warmup + count):
            if i >= warmup and time.perf_counter() >= deadline:
                break
            began = time.perf_counter()
            try:
                status, data = await asyncio.wait_for(connection.request("GET", path, headers), 60)
            except (TimeoutError, ServerError, OSError):
                await connection.close()
                status, data = 0, b""
            elapsed = (time.perf_counter() - began) * 1000
            size = len(data)
            if i >= warmup:
                latencies.append(elapsed)
                errors += status != 200
    finally:
        await connection.close()
    return LatencyResult(name, latencies, errors, status, size)


# --- The two workloads ------------------------------------------------------------------------------


class AutosaveWorker:
    """A board member saving their own ratings, criterion after criterion, carrying each version."""

    def __init__(self, token: str, assessment_id: int, criteria: list[str], versions: dict[str, int]) -> None:
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.assessment_id = assessment_id
        self.criteria = criteria
        self.versions = {key: versions.get(key, 0) for key in criteria}
        self.position = 0
        self.sent_key = ""
        self.first_answers = 0  # requests sent with version 0: a first answer, so an insert

    def next_request(self) -> tuple[str, str, dict[str, str], bytes]:
        key = self.criteria[self.position % len(self.criteria)]
        self.position += 1
        self.sent_key = key
        version = self.versions[key]
        self.first_answers += version == 0
        body = json.dumps(
            {"level": (version + self.position) % 5, "comment": f"Autosave {version}", "version": version}
        ).encode()
        return "PUT", f"/api/v1/assessments/{self.assessment_id}/ratings/{key}", self.headers, body

    def answered(self, status: int, body: bytes) -> bool:
        if status == 200:
            self.versions[self.sent_key] = json.loads(body)["version"]
            return True
        if status == 409:
            current = json.loads(body).get("current") or {}
            self.versions[self.sent_key] = current.get("version", 0)
        return False


class BaselineWorker:
    """The baseline's client: one primary-key update of its own row per request."""

    def __init__(self, item_id: int) -> None:
        self.path = f"/items/{item_id}"
        self.headers = {"Content-Type": "application/json"}
        self.n = 0

    def next_request(self) -> tuple[str, str, dict[str, str], bytes]:
        self.n += 1
        return "PUT", self.path, self.headers, json.dumps({"value": self.n}).encode()

    def answered(self, status: int, body: bytes) -> bool:
        return status == 200
