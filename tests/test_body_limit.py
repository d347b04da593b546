"""Request bodies have a ceiling, enforced before they are read: 1 MB on most routes, 11 MB where a
file is uploaded, answered 413 (JSON under /api/, a short page elsewhere)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import anyio
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session

from api.assessments.evidence import MAX_UPLOAD_BYTES
from api.body_limit import BodyLimitMiddleware, upload_routes
from api.errors import ErrorBody
from api.main import create_app
from api.settings import Settings
from tests.assessments import test_consensus_pages as consensus_pages
from tests.assessments.helpers import build_board, open_assessment
from tests.assessments.test_consensus_pages import evidence_titles, post_form
from tests.factories import sign_in

MB = 1024 * 1024
CHUNK = 64 * 1024
BOUNDARY = "walkboundary"

# The consensus pages' board (a chair who may upload evidence) and its upload folder.
board = consensus_pages.board


def pdf_of_size(size: int) -> bytes:
    head = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%"
    tail = b"\n%%EOF\n"
    return head + b"x" * (size - len(head) - len(tail)) + tail


@dataclass
class Sent:
    """A request sent straight to the app, its body drawn chunk by chunk, and what came back."""

    body_size: int
    declared: bool
    consumed: int = 0
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def chunks(self) -> Iterator[bytes]:
        # A file part: the form parser spools those to disk with no limit of its own.
        prefix = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        yield prefix
        left = self.body_size - len(prefix)
        while left > 0:
            size = min(CHUNK, left)
            yield b"a" * size
            left -= size


def send_raw(app: FastAPI, path: str, body_size: int, *, declared: bool) -> Sent:
    """POST a multipart body of `body_size` bytes, with or without Content-Length (chunked), counting
    how many bytes the app asked for before it answered."""
    sent = Sent(body_size, declared)
    headers = [(b"content-type", f"multipart/form-data; boundary={BOUNDARY}".encode())]
    if declared:
        headers.append((b"content-length", str(body_size).encode()))
    else:
        headers.append((b"transfer-encoding", b"chunked"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    chunks = sent.chunks()
    done = False

    async def receive() -> dict[str, object]:
        nonlocal done
        if done:
            return {"type": "http.disconnect"}
        chunk = next(chunks, None)
        if chunk is None:
            done = True
            return {"type": "http.request", "body": b"", "more_body": False}
        sent.consumed += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, object]) -> None:
        if message["type"] == "http.response.start":
            sent.status = message["status"]  # type: ignore[assignment]
            sent.headers = {k.decode(): v.decode() for k, v in message["headers"]}  # type: ignore[attr-defined]
        elif message["type"] == "http.response.body":
            sent.body += message.get("body", b"")  # type: ignore[operator]

    # In a thread of its own: a browser test earlier on this worker may have left an event loop
    # marked as running in the main thread (Playwright's sync API), and anyio.run refuses that.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(anyio.run, app, scope, receive, send).result()
    return sent


def test_sign_in_refuses_a_declared_60_mb_body_without_reading_it(app: FastAPI) -> None:
    sent = send_raw(app, "/sign-in", 60 * MB, declared=True)

    assert sent.status == 413
    assert sent.consumed == 0
    assert "The file is too large" in sent.body.decode()
    assert "no-store" in sent.headers["cache-control"]
    assert sent.headers["content-security-policy"]


def test_sign_in_stops_reading_a_chunked_60_mb_body_past_1_mb(app: FastAPI) -> None:
    sent = send_raw(app, "/sign-in", 60 * MB, declared=False)

    assert sent.status == 413
    # Read up to the limit and one chunk past it, then no further.
    assert MB < sent.consumed <= MB + CHUNK
    assert "The file is too large" in sent.body.decode()


def test_api_answers_413_as_json_in_the_error_shape(app: FastAPI) -> None:
    for declared in (True, False):
        sent = send_raw(app, "/api/v1/auth/token", 5 * MB, declared=declared)

        assert sent.status == 413
        assert sent.headers["content-type"] == "application/json"
        error = ErrorBody.model_validate_json(sent.body)
        assert error.detail == "The request body is larger than 1 MB, the most this request accepts"
        assert sent.consumed <= MB + CHUNK


def test_upload_routes_are_found_from_the_routes_file_parameters(app: FastAPI) -> None:
    middleware = BodyLimitMiddleware(app, limit=MB, upload_limit=11 * MB, uploads=upload_routes(app.routes))

    def limit(method: str, path: str) -> int:
        return middleware.limit_for({"method": method, "path": path})

    assert limit("POST", "/api/v1/assessments/7/consensus/a1/files") == 11 * MB
    assert limit("POST", "/assessments/7/consensus/accountability/a1/files") == 11 * MB
    assert limit("POST", "/admin/trusts/import") == 11 * MB
    assert limit("POST", "/api/v1/assessments/7/consensus/a1/links") == MB
    assert limit("GET", "/api/v1/assessments/7/consensus/a1/files") == MB
    assert limit("POST", "/sign-in") == MB


def test_upload_route_refuses_a_body_over_its_own_limit(app: FastAPI) -> None:
    sent = send_raw(app, "/api/v1/assessments/7/consensus/a1/files", 12 * MB, declared=False)

    assert sent.status == 413
    assert "11 MB" in ErrorBody.model_validate_json(sent.body).detail  # type: ignore[operator]
    assert sent.consumed <= 11 * MB + CHUNK


def test_limits_come_from_the_settings(settings: Settings, clean_database: Engine) -> None:
    small = create_app(settings.model_copy(update={"max_request_bytes": 4096}))
    with TestClient(small) as client:
        response = client.post("/api/v1/auth/token", data={"username": "x" * 5000, "password": "y"})
    assert response.status_code == 413
    assert ErrorBody.model_validate_json(response.text).detail == (
        "The request body is larger than 4 KB, the most this request accepts"
    )


def test_a_large_form_through_the_whole_stack_is_refused(client: TestClient) -> None:
    response = client.post("/sign-in", data={"email": "a" * (2 * MB), "password": "x"})

    assert response.status_code == 413
    assert "The file is too large" in response.text


# --- Uploads up to 10 MB still go through -----------------------------------------------------------------


def test_page_upload_still_accepts_a_10_mb_file(client: TestClient, board: consensus_pages.Board) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")

    response = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/files",
        {},
        files={"file": ("board paper.pdf", pdf_of_size(MAX_UPLOAD_BYTES), "application/pdf")},
    )

    assert response.status_code in (200, 303), response.text[:500]
    assert evidence_titles(board, key) == ["board paper.pdf"]


def test_api_upload_still_accepts_a_10_mb_file(
    db: Session, client: TestClient, clean_database: Engine, settings: Settings
) -> None:
    api_board = build_board(db, client, clean_database, settings)
    aid = open_assessment(api_board)
    key = api_board.criterion_keys[0]

    response = client.post(
        f"/api/v1/assessments/{aid}/consensus/{key}/files",
        files={"file": ("paper.pdf", pdf_of_size(MAX_UPLOAD_BYTES), "application/pdf")},
        headers=api_board.chair.headers,
    )

    assert response.status_code == 201, response.text
    assert response.json()["size_bytes"] == MAX_UPLOAD_BYTES
