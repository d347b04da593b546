"""Evidence for an agreed rating: links, and files checked by their content, kept for their trust only."""

from __future__ import annotations

import io
import random
import struct
import zipfile

import openpyxl
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.assessments.evidence import DOWNLOAD_CHUNK_BYTES, MAX_UPLOAD_BYTES
from api.assessments.models import Evidence, EvidenceFileContent
from api.audit.models import AuditEvent
from api.settings import Settings
from tests.assessments.helpers import OTHER_TRUST, Board, Person, build_board, open_assessment, query

PDF_TYPE = "application/pdf"
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def board(db: Session, client: TestClient, clean_database: Engine, settings: Settings) -> Board:
    return build_board(db, client, clean_database, settings)


@pytest.fixture
def aid(board: Board) -> int:
    return open_assessment(board)


@pytest.fixture
def key(board: Board, aid: int) -> str:
    return board.criterion_keys[0]


# --- Files built in memory ------------------------------------------------------------------------------


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
        b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
        b"trailer << /Root 1 0 R >>\n%%EOF\n"
    )


def image_bytes(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (0, 94, 184)).save(buffer, format=fmt)
    return buffer.getvalue()


def xlsx_bytes() -> bytes:
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "WRES indicator 9"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


DOCX_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
DOCX_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Target="word/document.xml" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    "</Relationships>"
)
DOCX_DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>Race equality plan</w:t></w:r></w:p></w:body></w:document>"
)


def zip_bytes(entries: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_bytes(extra: dict[str, bytes | str] | None = None, content_types: str = DOCX_CONTENT_TYPES) -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": content_types,
            "_rels/.rels": DOCX_RELS,
            "word/document.xml": DOCX_DOCUMENT,
            **(extra or {}),
        }
    )


def xlsx_bomb_bytes() -> bytes:
    """A workbook whose one extra sheet unpacks to 101 MB of zeros (about 100 KB packed)."""
    buffer = io.BytesIO(xlsx_bytes())
    with (
        zipfile.ZipFile(buffer, "a", zipfile.ZIP_DEFLATED) as archive,
        archive.open("xl/worksheets/sheet2.xml", "w", force_zip64=True) as entry,
    ):
        for _ in range(101):
            entry.write(bytes(1024 * 1024))
    return buffer.getvalue()


def lying_zip_bytes() -> bytes:
    """A document whose headers claim a 1 KB entry that really unpacks to 101 MB."""
    real_size = 101 * 1024 * 1024
    data = bytearray(docx_bytes({"word/media/filler.bin": bytes(real_size)}))
    claimed = 1024
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) != -1:
            name_length = struct.unpack_from("<H", data, start + (26 if signature == b"PK\x03\x04" else 28))[
                0
            ]
            name_start = start + (30 if signature == b"PK\x03\x04" else 46)
            if bytes(data[name_start : name_start + name_length]) == b"word/media/filler.bin":
                assert struct.unpack_from("<I", data, start + offset)[0] == real_size
                struct.pack_into("<I", data, start + offset, claimed)
            start += 4
    # The headers now say 1 KB: the archive opens and its declared total is tiny.
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    assert sum(entry.file_size for entry in archive.infolist()) < 10_000
    return bytes(data)


def upload(
    board: Board,
    person: Person,
    aid: int,
    key: str,
    data: bytes,
    name: str,
    mime: str = "application/octet-stream",
):  # noqa: ANN201
    return board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{key}/files",
        files={"file": (name, data, mime)},
        headers=person.headers,
    )


def add_link(board: Board, person: Person, aid: int, key: str, title: str, url: str):  # noqa: ANN201
    return board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{key}/links",
        json={"title": title, "url": url},
        headers=person.headers,
    )


def stored_evidence(engine: Engine) -> list[Evidence]:
    return query(engine, select(Evidence).order_by(Evidence.id))


def stored_files(engine: Engine) -> list[tuple[int, bytes]]:
    """Each stored file's evidence id and bytes."""
    return [
        (row.evidence_id, row.data)
        for row in query(engine, select(EvidenceFileContent).order_by(EvidenceFileContent.evidence_id))
    ]


def fields(response) -> list[str]:  # noqa: ANN001
    return [error["field"] for error in response.json()["detail"]]


# --- Links -----------------------------------------------------------------------------------------------


def test_chair_adds_link_shown_with_the_agreed_rating(board: Board, aid: int, key: str) -> None:
    response = add_link(board, board.chair, aid, key, "  WRES report 2026  ", "https://example.org/wres.pdf")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "link" and body["title"] == "WRES report 2026"
    assert body["url"] == "https://example.org/wres.pdf"
    item = next(
        i
        for i in board.get(f"/api/v1/assessments/{aid}/consensus", board.chair).json()
        if i["criterion_key"] == key
    )
    assert item["consensus"]["level"] is None
    assert [e["id"] for e in item["consensus"]["evidence"]] == [body["id"]]
    (event,) = query(board.engine, select(AuditEvent).where(AuditEvent.action == "evidence.added"))
    assert event.actor_id == board.chair.id


def test_agreeing_a_level_after_evidence_went_in_first_is_not_refused_as_stale(
    board: Board, aid: int, key: str
) -> None:
    # Adding evidence first makes an empty agreed rating (version 1, nothing agreed): a save made
    # against the statement as it was (version 0) goes through; once a level is agreed, it is stale.
    assert add_link(board, board.chair, aid, key, "Minutes", "https://example.org/m").status_code == 201
    url = f"/api/v1/assessments/{aid}/consensus/{key}"
    saved = board.client.put(
        url, json={"level": 2, "rationale": "", "version": 0}, headers=board.chair.headers
    )
    assert saved.status_code == 200, saved.text
    assert (saved.json()["level"], saved.json()["version"]) == (2, 2)
    stale = board.client.put(
        url, json={"level": 3, "rationale": "", "version": 0}, headers=board.chair.headers
    )
    assert stale.status_code == 409


def test_board_secretary_adds_link(board: Board, aid: int, key: str) -> None:
    assert add_link(board, board.secretary, aid, key, "Minutes", "http://example.org/m").status_code == 201


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "ftp://example.org/file", "example.org/paper", "https://", "https://a b"]
)
def test_link_with_bad_url_answers_422_naming_url(board: Board, aid: int, key: str, url: str) -> None:
    response = add_link(board, board.chair, aid, key, "Paper", url)
    assert response.status_code == 422
    assert fields(response) == ["url"]
    assert stored_evidence(board.engine) == []


def test_link_without_title_answers_422_naming_title(board: Board, aid: int, key: str) -> None:
    response = add_link(board, board.chair, aid, key, "   ", "https://example.org/")
    assert response.status_code == 422
    assert fields(response) == ["title"]


def test_board_member_gets_403_adding_evidence(board: Board, aid: int, key: str) -> None:
    assert add_link(board, board.neds[0], aid, key, "Paper", "https://example.org/").status_code == 403
    assert upload(board, board.neds[0], aid, key, pdf_bytes(), "a.pdf").status_code == 403
    assert stored_evidence(board.engine) == []


def test_chair_of_other_trust_gets_404_adding_evidence(board: Board, aid: int, key: str) -> None:
    assert add_link(board, board.other_chair, aid, key, "Paper", "https://example.org/").status_code == 404
    assert upload(board, board.other_chair, aid, key, pdf_bytes(), "a.pdf").status_code == 404
    assert stored_evidence(board.engine) == []


def test_evidence_for_unknown_criterion_answers_422(board: Board, aid: int) -> None:
    response = add_link(board, board.chair, aid, "no-such-criterion", "Paper", "https://example.org/")
    assert response.status_code == 422
    assert fields(response) == ["criterion_key"]


# --- Files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "name", "content_type"),
    [
        (pdf_bytes, "Board paper.pdf", PDF_TYPE),
        (lambda: image_bytes("PNG"), "chart.png", "image/png"),
        (lambda: image_bytes("JPEG"), "photo.jpg", "image/jpeg"),
        (docx_bytes, "plan.docx", DOCX_TYPE),
        (xlsx_bytes, "data.xlsx", XLSX_TYPE),
    ],
)
def test_allowed_file_is_stored_under_generated_name(
    board: Board,
    aid: int,
    key: str,
    make,
    name: str,
    content_type: str,  # noqa: ANN001
) -> None:
    data = make()
    response = upload(board, board.chair, aid, key, data, name)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["kind"] == "file"
    assert body["title"] == name
    assert body["content_type"] == content_type
    assert body["size_bytes"] == len(data)
    (row,) = stored_evidence(board.engine)
    assert row.stored_name and row.stored_name != name and name.rsplit(".", 1)[0] not in row.stored_name
    assert stored_files(board.engine) == [(row.id, data)]


def test_type_comes_from_content_not_the_name(board: Board, aid: int, key: str) -> None:
    data = image_bytes("PNG")
    response = upload(board, board.chair, aid, key, data, "report.pdf", "application/pdf")
    assert response.status_code == 201
    assert response.json()["content_type"] == "image/png"
    (row,) = stored_evidence(board.engine)
    assert row.content_type == "image/png" and row.stored_name.endswith(".png")
    download = board.get(f"/api/v1/assessments/{aid}/evidence/{row.id}", board.chair)
    assert download.headers["content-type"] == "image/png"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + bytes(64), "setup.pdf"),
        (b"<!DOCTYPE html><html><script>alert(1)</script></html>", "page.pdf"),
        (b"Just some notes from the meeting\n", "notes.pdf"),
        (b"\x7fELF\x02\x01\x01" + bytes(64), "tool.docx"),
        (b"GIF89a\x01\x00\x01\x00", "image.png"),
        (zip_bytes({"readme.txt": "hello"}), "archive.xlsx"),
        (b"PK\x03\x04 this is not really a zip", "broken.docx"),
        (b"", "empty.pdf"),
    ],
)
def test_file_of_other_type_answers_422_naming_file(
    board: Board, aid: int, key: str, data: bytes, name: str
) -> None:
    response = upload(board, board.chair, aid, key, data, name, "application/pdf")
    assert response.status_code == 422
    assert fields(response) == ["file"]
    assert stored_evidence(board.engine) == []
    assert stored_files(board.engine) == []


def test_docx_with_macros_answers_422(board: Board, aid: int, key: str) -> None:
    data = docx_bytes({"word/vbaProject.bin": b"\xd0\xcf\x11\xe0 macro storage"})
    response = upload(board, board.chair, aid, key, data, "plan.docx")
    assert response.status_code == 422
    assert fields(response) == ["file"]
    assert "macro" in response.json()["detail"][0]["msg"]
    assert stored_evidence(board.engine) == [] and stored_files(board.engine) == []


def test_macro_enabled_workbook_answers_422(board: Board, aid: int, key: str) -> None:
    content_types = DOCX_CONTENT_TYPES.replace(
        "wordprocessingml.document.main+xml", "ms-word.document.macroEnabled.main+xml"
    )
    response = upload(board, board.chair, aid, key, docx_bytes(content_types=content_types), "plan.docx")
    assert response.status_code == 422
    assert "macro" in response.json()["detail"][0]["msg"]


def test_zip_bomb_workbook_answers_422(board: Board, aid: int, key: str) -> None:
    data = xlsx_bomb_bytes()
    assert len(data) < MAX_UPLOAD_BYTES
    response = upload(board, board.chair, aid, key, data, "data.xlsx")
    assert response.status_code == 422
    assert fields(response) == ["file"]
    assert stored_evidence(board.engine) == [] and stored_files(board.engine) == []


def test_document_whose_headers_understate_its_unpacked_size_answers_422(
    board: Board, aid: int, key: str
) -> None:
    data = lying_zip_bytes()
    assert len(data) < MAX_UPLOAD_BYTES
    response = upload(board, board.chair, aid, key, data, "plan.docx")
    assert response.status_code == 422
    assert fields(response) == ["file"]
    assert stored_evidence(board.engine) == [] and stored_files(board.engine) == []


def test_document_with_too_many_entries_answers_422(board: Board, aid: int, key: str) -> None:
    data = docx_bytes({f"word/media/image{n}.png": b"" for n in range(2001)})
    response = upload(board, board.chair, aid, key, data, "plan.docx")
    assert response.status_code == 422
    assert fields(response) == ["file"]


def test_file_over_10_mb_answers_422(board: Board, aid: int, key: str) -> None:
    data = pdf_bytes() + bytes(MAX_UPLOAD_BYTES + 1 - len(pdf_bytes()))
    response = upload(board, board.chair, aid, key, data, "big.pdf")
    assert response.status_code == 422
    assert fields(response) == ["file"]
    assert "10 MB" in response.json()["detail"][0]["msg"]
    assert stored_evidence(board.engine) == [] and stored_files(board.engine) == []


def test_file_of_exactly_10_mb_is_accepted(board: Board, aid: int, key: str) -> None:
    data = pdf_bytes() + bytes(MAX_UPLOAD_BYTES - len(pdf_bytes()))
    response = upload(board, board.chair, aid, key, data, "big.pdf")
    assert response.status_code == 201
    assert response.json()["size_bytes"] == MAX_UPLOAD_BYTES


def test_upload_without_file_answers_422_naming_file(board: Board, aid: int, key: str) -> None:
    response = board.client.post(
        f"/api/v1/assessments/{aid}/consensus/{key}/files",
        files={"other": ("a.pdf", pdf_bytes(), PDF_TYPE)},
        headers=board.chair.headers,
    )
    assert response.status_code == 422
    assert fields(response) == ["file"]


# --- Downloads -------------------------------------------------------------------------------------------


def test_member_of_the_trust_downloads_exact_bytes_as_attachment(board: Board, aid: int, key: str) -> None:
    data = docx_bytes()
    evidence_id = upload(board, board.secretary, aid, key, data, "Race plan 2026.docx").json()["id"]
    for person in (board.neds[0], board.chair, board.secretary):
        response = board.get(f"/api/v1/assessments/{aid}/evidence/{evidence_id}", person)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == DOCX_TYPE
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment")
        assert "Race%20plan%202026.docx" in disposition or "Race plan 2026.docx" in disposition
        assert response.headers["x-content-type-options"] == "nosniff"
        assert "no-store" in response.headers["cache-control"]


def test_file_larger_than_one_piece_downloads_whole_with_its_length(board: Board, aid: int, key: str) -> None:
    # Read from the database in pieces of DOWNLOAD_CHUNK_BYTES: two and a bit pieces, each different.
    data = b"\x89PNG\r\n\x1a\n" + bytes(random.Random(18).randbytes(2 * DOWNLOAD_CHUNK_BYTES + 1234))
    evidence_id = upload(board, board.chair, aid, key, data, "chart.png").json()["id"]

    response = board.get(f"/api/v1/assessments/{aid}/evidence/{evidence_id}", board.neds[0])

    assert response.status_code == 200
    assert response.headers["content-length"] == str(len(data))
    assert response.content == data


def test_removed_evidence_takes_its_file_with_it(board: Board, aid: int, key: str) -> None:
    kept = upload(board, board.chair, aid, key, pdf_bytes(), "kept.pdf").json()["id"]
    removed = upload(board, board.chair, aid, key, image_bytes("PNG"), "removed.png").json()["id"]

    response = board.client.delete(
        f"/api/v1/assessments/{aid}/evidence/{removed}", headers=board.chair.headers
    )

    assert response.status_code == 204
    assert [evidence_id for evidence_id, _data in stored_files(board.engine)] == [kept]
    assert board.get(f"/api/v1/assessments/{aid}/evidence/{removed}", board.chair).status_code == 404


def test_member_of_other_trust_gets_404_downloading_evidence(board: Board, aid: int, key: str) -> None:
    evidence_id = upload(board, board.chair, aid, key, pdf_bytes(), "paper.pdf").json()["id"]
    link_id = add_link(board, board.chair, aid, key, "Paper", "https://example.org/p").json()["id"]
    other_aid = board.open(board.other_chair, trust=OTHER_TRUST).json()["id"]
    for person in (board.other_chair, board.other_ned):
        for evidence in (evidence_id, link_id):
            assert board.get(f"/api/v1/assessments/{aid}/evidence/{evidence}", person).status_code == 404
            # Nor through their own trust's assessment.
            assert (
                board.get(f"/api/v1/assessments/{other_aid}/evidence/{evidence}", person).status_code == 404
            )
    assert board.client.get(f"/api/v1/assessments/{aid}/evidence/{evidence_id}").status_code == 401


def test_link_evidence_is_returned_as_its_record(board: Board, aid: int, key: str) -> None:
    link_id = add_link(board, board.chair, aid, key, "Paper", "https://example.org/p").json()["id"]
    response = board.get(f"/api/v1/assessments/{aid}/evidence/{link_id}", board.neds[0])
    assert response.status_code == 200
    assert response.json()["url"] == "https://example.org/p"


def test_no_evidence_added_after_submission(board: Board, aid: int, key: str) -> None:
    board.agree_all(aid, 2)
    assert board.submit(aid).status_code == 200
    assert add_link(board, board.chair, aid, key, "Late", "https://example.org/").status_code == 409
    assert upload(board, board.chair, aid, key, pdf_bytes(), "late.pdf").status_code == 409
    assert stored_evidence(board.engine) == []
    assert stored_files(board.engine) == []
