"""Evidence for an agreed rating: links, and uploaded files checked by their content, not their name.

A file a board member opens must not run or fetch anything by itself: Office files with macros,
ActiveX controls, embedded OLE objects, automatic fields or links that load content from
elsewhere, and PDFs with scripts, launch or open actions or attached files are refused, each with
the reason in plain words. What these checks do not see is written down in docs/security.md.
"""

from __future__ import annotations

import hashlib
import html
import io
import re
import uuid
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, insert, literal
from sqlmodel import Session, select

from api.accounts.principal import Principal
from api.assessments.models import Assessment, ConsensusRating, Evidence, EvidenceFileContent
from api.assessments.repository import assessment_for
from api.assessments.service import consensus_row, criterion_for, require_manager
from api.audit.service import record, record_about
from api.db import added_first
from api.errors import Conflict, FieldError, NotFound
from api.integers import can_name_a_row

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
# A DOCX or XLSX is a zip: a small file can unpack to gigabytes (a zip bomb), so its real size counts.
MAX_UNPACKED_BYTES = 100 * 1024 * 1024
MAX_ZIP_ENTRIES = 2000

FILE_TYPES = {
    "pdf": ("application/pdf", "PDF"),
    "png": ("image/png", "PNG image"),
    "jpeg": ("image/jpeg", "JPEG image"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "Word document"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "Excel spreadsheet"),
}
ALLOWED_TEXT = "a PDF, Word document (DOCX), Excel spreadsheet (XLSX), PNG or JPEG"


@dataclass(frozen=True)
class CheckedFile:
    kind: str
    content_type: str
    size: int
    sha256: str


def _office_kind(data: bytes) -> str:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise FieldError("file", "The file is damaged: it could not be opened") from exc
    if len(entries) > MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
        raise FieldError("file", "The file unpacks to more than 100 MB: save a smaller copy")
    # The sizes above are what the headers claim: unpack every entry (at most the claimed total),
    # so headers that understate the real size fail the entry's checksum and are refused.
    try:
        for entry in entries:
            with archive.open(entry) as stream:
                while stream.read(1024 * 1024):
                    pass
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
        raise FieldError("file", "The file is damaged: it could not be opened") from exc
    names = {e.filename for e in entries}
    if "[Content_Types].xml" not in names:
        raise FieldError("file", f"The file must be {ALLOWED_TEXT}")
    _refuse_active_office_content(archive, embedded=False)
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise FieldError("file", f"The file must be {ALLOWED_TEXT}")


# --- Active content in Office files -----------------------------------------------------------------

MACROS = "The file contains macros: save it as a normal .docx or .xlsx without macros"
OFFICE_EXTERNAL = (
    "The file loads content from outside itself when it is opened (such as a linked template, "
    "picture or other workbook): save a copy without links to other files and upload that"
)
OFFICE_EMBEDDED = (
    "The file has another file or object embedded in it: remove the embedded object, save the "
    "file and upload it again"
)
OFFICE_ACTIVEX = (
    "The file contains ActiveX controls, which can run code: remove them, save the file and upload it again"
)
OFFICE_FIELDS = (
    "The document contains a field that fetches content or starts a program when it is opened "
    "(a DDE or INCLUDE field): remove the field, save the document and upload it again"
)
# Word, Excel and PowerPoint packages: an embedded one (a chart's data, say) is checked in turn.
OFFICE_PACKAGE_EXTENSIONS = (".docx", ".xlsx", ".pptx")
RELATIONSHIP = re.compile(r"<(?:\w+:)?Relationship\b([^>]*)>", re.S)
ATTRIBUTE = re.compile(r"([\w:]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
# Links a person clicks (never followed by themselves) may point to the web or an email address.
CLICKED_LINK_SCHEMES = ("http://", "https://", "mailto:")
FIELD_INSTRUCTION = re.compile(
    r"<(?:\w+:)?instrText\b[^>]*>([^<]*)<|\binstr\s*=\s*(?:\"([^\"]*)\"|'([^']*)')", re.S
)
ACTIVE_FIELD = re.compile(r"\b(DDE|DDEAUTO|INCLUDETEXT|INCLUDEPICTURE|IMPORT)\b", re.I)


def _attributes(tag: str) -> dict[str, str]:
    # Character references (&#69;xternal) are undone: Office reads them so.
    return {
        name.split(":")[-1]: html.unescape(double if double is not None else single)
        for name, double, single in ATTRIBUTE.findall(tag)
    }


def _refuse_active_office_content(archive: zipfile.ZipFile, *, embedded: bool) -> None:
    """Macros, ActiveX, OLE embeddings, links that load by themselves, automatic fields: refused."""
    names = [entry.filename for entry in archive.infolist()]
    lowered = [name.lower() for name in names]
    if any(name.endswith("vbaproject.bin") for name in lowered):
        raise FieldError("file", MACROS)
    content_types = (
        archive.read("[Content_Types].xml").decode("utf-8", "replace").lower()
        if "[Content_Types].xml" in names
        else ""
    )
    if "macroenabled" in content_types or "vba" in content_types:
        raise FieldError("file", MACROS)
    if "activex" in content_types or any("activex/" in name for name in lowered):
        raise FieldError("file", OFFICE_ACTIVEX)
    if "oleobject" in content_types or any("oleobject" in name for name in lowered):
        raise FieldError("file", OFFICE_EMBEDDED)
    if any(name.startswith("xl/externallinks/") for name in lowered):
        raise FieldError("file", OFFICE_EXTERNAL)
    for name, low in zip(names, lowered, strict=True):
        if "/embeddings/" in f"/{low}":
            # A chart's own workbook is an embedded package: fine if it passes the same checks.
            if embedded or not low.endswith(OFFICE_PACKAGE_EXTENSIONS):
                raise FieldError("file", OFFICE_EMBEDDED)
            try:
                inner = zipfile.ZipFile(io.BytesIO(archive.read(name)))
                entries = inner.infolist()
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                raise FieldError("file", OFFICE_EMBEDDED) from exc
            if len(entries) > MAX_ZIP_ENTRIES or sum(e.file_size for e in entries) > MAX_UNPACKED_BYTES:
                raise FieldError("file", "The file unpacks to more than 100 MB: save a smaller copy")
            try:
                _refuse_active_office_content(inner, embedded=True)
            except (
                zipfile.BadZipFile,
                zlib.error,
                OSError,
                EOFError,
                NotImplementedError,
                RuntimeError,
            ) as exc:
                raise FieldError("file", OFFICE_EMBEDDED) from exc
        elif low.endswith(".rels"):
            _refuse_active_relationships(archive.read(name).decode("utf-8", "replace"))
        elif low.startswith("word/") and low.endswith(".xml"):
            text = archive.read(name).decode("utf-8", "replace")
            instructions = " ".join(
                html.unescape("".join(parts)) for parts in FIELD_INSTRUCTION.findall(text)
            )
            if ACTIVE_FIELD.search(instructions):
                raise FieldError("file", OFFICE_FIELDS)


def _refuse_active_relationships(rels: str) -> None:
    for tag in RELATIONSHIP.findall(rels):
        attributes = _attributes(tag)
        kind = attributes.get("Type", "").rsplit("/", 1)[-1].lower()
        if kind in ("control", "activexcontrol", "activexcontrolbinary"):
            raise FieldError("file", OFFICE_ACTIVEX)
        external = attributes.get("TargetMode", "").strip().lower() == "external"
        if kind == "oleobject" or (kind == "package" and external):
            raise FieldError("file", OFFICE_EXTERNAL if external else OFFICE_EMBEDDED)
        if kind == "package" and not attributes.get("Target", "").lower().endswith(OFFICE_PACKAGE_EXTENSIONS):
            # An embedded package other than Word, Excel or PowerPoint (the part itself is checked too).
            raise FieldError("file", OFFICE_EMBEDDED)
        if not external:
            continue
        target = attributes.get("Target", "").strip().lower()
        if kind == "hyperlink" and target.startswith(CLICKED_LINK_SCHEMES):
            continue
        raise FieldError("file", OFFICE_EXTERNAL)


# --- Active content in PDFs ---------------------------------------------------------------------------

PDF_AGAIN = "print it to a new PDF (or export it again without them) and upload that"
PDF_SCRIPT = f"The PDF contains JavaScript, which could run when it is opened: {PDF_AGAIN}"
PDF_FORM_SCRIPT = f"The PDF contains an interactive (XFA) form, which can run scripts: {PDF_AGAIN}"
PDF_LAUNCH = f"The PDF contains an action that starts another program: {PDF_AGAIN}"
PDF_OPEN_ACTION = f"The PDF runs an action as soon as it is opened: {PDF_AGAIN}"
PDF_ATTACHMENT = f"The PDF has files attached inside it: {PDF_AGAIN}"
PDF_UNCHECKABLE = (
    "The PDF could not be checked for scripts or attached files (it is encrypted, or packed in an "
    "unusual way): print it to a new PDF and upload that"
)
ACTIVE_PDF_NAMES = {
    b"JavaScript": PDF_SCRIPT,
    b"JS": PDF_SCRIPT,
    b"XFA": PDF_FORM_SCRIPT,
    b"Launch": PDF_LAUNCH,
    b"EmbeddedFile": PDF_ATTACHMENT,
    b"EmbeddedFiles": PDF_ATTACHMENT,
}
# A name: a slash and the characters up to the next white space or delimiter (PDF 32000-1, 7.3.5).
PDF_NAME = re.compile(rb"/([^\x00\t\n\x0c\r ()<>\[\]{}/%]*)")
PDF_NAME_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
PDF_STREAM = re.compile(rb"stream(?:\r\n|\n|\r)")
PDF_DIRECT_LENGTH = re.compile(rb"/Length\s+(\d+)(?!\s+\d+\s+R)")
PDF_SPACE = re.compile(rb"(?:[\x00\t\n\x0c\r ]|%[^\r\n]*)*")
# A literal string (two levels of nested brackets, escapes kept; possessive, so it never backtracks): a web address in a link, such as
# (https://example.org/Launch), is text, not a name.
PDF_STRING = re.compile(rb"\((?:[^()\\]++|\\.|\((?:[^()\\]++|\\.|\((?:[^()\\]++|\\.)*+\))*+\))*+\)", re.S)


def _pdf_names(text: bytes) -> Iterator[tuple[bytes, int]]:
    """Each name in the text, its #xx escapes undone (/J#61vaScript is /JavaScript), and where it ends."""
    for match in PDF_NAME.finditer(text):
        name = PDF_NAME_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), match.group(1))
        yield name, match.end()


@dataclass(frozen=True)
class PdfStream:
    dictionary: bytes
    data: bytes


def _pdf_split(data: bytes) -> tuple[list[bytes], list[PdfStream]]:
    """The file's objects outside stream data (where a name is a name), and each stream with its
    dictionary. Stream data is skipped: an image's random bytes may spell "/JS" by chance."""
    outside: list[bytes] = []
    streams: list[PdfStream] = []
    position = 0
    while (match := PDF_STREAM.search(data, position)) is not None:
        if data[max(0, match.start() - 3) : match.start()] == b"end" or not (
            data[max(0, match.start() - 64) : match.start()].rstrip().endswith(b">>")
        ):
            # "stream" not after a dictionary (e.g. "endstream"): part of the text.
            outside.append(data[position : match.end()])
            position = match.end()
            continue
        dictionary_start = data.rfind(b"obj", position, match.start())
        dictionary = data[max(dictionary_start, position) : match.start()]
        outside.append(data[position : match.start()])
        start = match.end()
        end = -1
        length = PDF_DIRECT_LENGTH.search(dictionary)
        if length is not None:
            candidate = start + int(length.group(1))
            if data[candidate : candidate + 12].lstrip().startswith(b"endstream"):
                end = candidate
        if end == -1:
            end = data.find(b"endstream", start)
        if end == -1:
            end = len(data)
        streams.append(PdfStream(dictionary, data[start:end]))
        position = end
    outside.append(data[position:])
    return outside, streams


def _inflate(data: bytes, budget: int) -> bytes:
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, budget + 1)
    except zlib.error as exc:
        raise FieldError("file", PDF_UNCHECKABLE) from exc
    if len(inflated) > budget:
        raise FieldError("file", "The file unpacks to more than 100 MB: save a smaller copy")
    return inflated


def _refuse_active_names(text: bytes) -> None:
    text = PDF_STRING.sub(b"()", text)
    for name, end in _pdf_names(text):
        if name in ACTIVE_PDF_NAMES:
            raise FieldError("file", ACTIVE_PDF_NAMES[name])
        if name == b"OpenAction":
            # A destination ([page /Fit]: open at page one) is fine; an action (<< /S ... >>) is not.
            value_start = PDF_SPACE.match(text, end).end()  # type: ignore[union-attr]
            if not text.startswith(b"[", value_start):
                raise FieldError("file", PDF_OPEN_ACTION)


def _refuse_active_pdf_content(data: bytes) -> None:
    """Names that run or attach something, in the objects and inside object streams (unpacked)."""
    outside, streams = _pdf_split(data)
    for text in outside:
        _refuse_active_names(text)
    encrypted = any(name == b"Encrypt" for text in outside for name, _end in _pdf_names(text))
    budget = MAX_UNPACKED_BYTES
    for stream in streams:
        names = [name for name, _end in _pdf_names(stream.dictionary)]
        if b"ObjStm" not in names:
            continue
        # Objects packed in an object stream: their names are only readable unpacked.
        decoders = [name for name in names if name.endswith(b"Decode") and name != b"Decode" or name == b"Fl"]
        if encrypted or decoders not in ([], [b"FlateDecode"], [b"Fl"]):
            raise FieldError("file", PDF_UNCHECKABLE)
        content = _inflate(stream.data, budget) if decoders else stream.data
        budget -= len(content)
        _refuse_active_names(content)


def check_file(data: bytes) -> CheckedFile:
    """The type comes from the first bytes of the content; the file name is never trusted."""
    if not data:
        raise FieldError("file", "The selected file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise FieldError("file", "The selected file must be smaller than 10 MB")
    if data.startswith(b"%PDF-"):
        kind = "pdf"
        _refuse_active_pdf_content(data)
    elif data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind = "png"
    elif data.startswith(b"\xff\xd8\xff"):
        kind = "jpeg"
    elif data.startswith(b"PK\x03\x04"):
        kind = _office_kind(data)
    else:
        raise FieldError("file", f"The selected file must be {ALLOWED_TEXT}")
    return CheckedFile(kind, FILE_TYPES[kind][0], len(data), hashlib.sha256(data).hexdigest())


def _consensus_for_evidence(
    session: Session, principal: Principal, assessment_id: int, criterion_key: str
) -> tuple[Assessment, ConsensusRating, str]:
    assessment = assessment_for(session, principal, assessment_id, lock=True)
    require_manager(principal, assessment)
    if assessment.status != "in_progress":
        raise Conflict("This assessment has been signed off: nothing in it can change now")
    criterion = criterion_for(session, assessment, criterion_key)
    consensus = consensus_row(session, assessment, criterion)
    if consensus is None:
        # Evidence can come before the level is agreed: an empty consensus row holds it.
        consensus = ConsensusRating(
            assessment_id=assessment.id, criterion_id=criterion.id, updated_by_id=principal.user.id
        )
        if not added_first(session, consensus):
            # Someone else created it at the same moment: the evidence goes with theirs.
            consensus = consensus_row(session, assessment, criterion)
            assert consensus is not None
    return assessment, consensus, criterion.key


def add_link(
    session: Session,
    principal: Principal,
    assessment_id: int,
    criterion_key: str,
    *,
    title: str,
    url: str,
    carried_from_cycle_id: int | None = None,
) -> Evidence:
    """Add a link; `carried_from_cycle_id` when it is last year's, carried forward."""
    assessment, consensus, key = _consensus_for_evidence(session, principal, assessment_id, criterion_key)
    evidence = Evidence(
        consensus_rating_id=consensus.id,
        kind="link",
        title=title.strip()[:200],
        url=url.strip(),
        added_by_id=principal.user.id,
        carried_from_cycle_id=carried_from_cycle_id,
    )
    session.add(evidence)
    session.flush()
    record_about(
        session,
        "evidence.added",
        evidence,
        f"Evidence link added for {key}: {evidence.title}",
        actor=principal.user,
        organisation_id=assessment.organisation_id,
    )
    return evidence


def add_file(
    session: Session,
    principal: Principal,
    assessment_id: int,
    criterion_key: str,
    *,
    filename: str,
    data: bytes,
) -> Evidence:
    checked = check_file(data)
    assessment, consensus, key = _consensus_for_evidence(session, principal, assessment_id, criterion_key)
    stored_name = f"{uuid.uuid4().hex}.{checked.kind}"
    title = (Path(filename or "").name or f"Evidence.{checked.kind}")[:200]
    evidence = Evidence(
        consensus_rating_id=consensus.id,
        kind="file",
        title=title,
        stored_name=stored_name,
        content_type=checked.content_type,
        size_bytes=checked.size,
        sha256=checked.sha256,
        added_by_id=principal.user.id,
    )
    session.add(evidence)
    session.flush()
    # The bytes go in with the row, in the same transaction: both are kept or neither. A plain
    # INSERT, so the file is not held a second time in the session's identity map.
    session.execute(insert(EvidenceFileContent).values(evidence_id=evidence.id, data=data))
    record_about(
        session,
        "evidence.added",
        evidence,
        f"Evidence file added for {key}: {title}",
        actor=principal.user,
        organisation_id=assessment.organisation_id,
    )
    return evidence


def copy_file_content(session: Session, from_evidence_id: int, to_evidence_id: int) -> None:
    """The bytes of one evidence file copied to another evidence row, inside the database."""
    session.execute(
        insert(EvidenceFileContent).from_select(
            ["evidence_id", "data"],
            select(literal(to_evidence_id), EvidenceFileContent.data).where(
                EvidenceFileContent.evidence_id == from_evidence_id
            ),
        )
    )


# Read in pieces of this size, one short query each: a download holds no connection while the
# client reads, and never the whole file in memory. The pieces are read after the request's
# transaction, outside the connection gate: each holds a connection for its one query and waits for
# nothing else meanwhile, so it cannot hold up the requests the gate protects. (On PostgreSQL the column is stored
# uncompressed, so a piece reads only its own part of the file; see the migration.)
DOWNLOAD_CHUNK_BYTES = 512 * 1024


class FileChangedWhileRead(Exception):
    """The file's bytes were removed part-way through a download: the download ends short."""


def stored_file_size(session: Session, evidence_id: int) -> int | None:
    """How many bytes are stored for the evidence, or None if none are."""
    return session.execute(
        select(func.length(EvidenceFileContent.data)).where(EvidenceFileContent.evidence_id == evidence_id)
    ).scalar_one_or_none()


def file_chunks(engine: Engine, evidence_id: int, size: int) -> Iterator[bytes]:
    """The stored bytes, piece by piece, each read in its own short transaction."""
    for start in range(0, size, DOWNLOAD_CHUNK_BYTES):
        wanted = min(DOWNLOAD_CHUNK_BYTES, size - start)
        with engine.connect() as connection:
            piece = connection.execute(
                # substr counts from 1, on both databases, for bytes as for text.
                select(func.substr(EvidenceFileContent.data, start + 1, wanted)).where(
                    EvidenceFileContent.evidence_id == evidence_id
                )
            ).scalar_one_or_none()
        if piece is None or len(piece) != wanted:
            # Removed since the download began (the bytes never change while they exist).
            raise FileChangedWhileRead(evidence_id)
        yield bytes(piece)


def evidence_for(session: Session, principal: Principal, assessment_id: int, evidence_id: int) -> Evidence:
    """Evidence of the caller's own trust only (404 otherwise)."""
    assessment = assessment_for(session, principal, assessment_id)
    if not can_name_a_row(evidence_id):
        raise NotFound("No evidence with that id in this assessment")
    evidence = session.exec(
        select(Evidence)
        .join(ConsensusRating, ConsensusRating.id == Evidence.consensus_rating_id)
        .where(Evidence.id == evidence_id, ConsensusRating.assessment_id == assessment.id)
    ).first()
    if evidence is None:
        raise NotFound("No evidence with that id in this assessment")
    return evidence


def remove_evidence(session: Session, principal: Principal, assessment_id: int, evidence_id: int) -> None:
    evidence = evidence_for(session, principal, assessment_id, evidence_id)
    assessment = assessment_for(session, principal, assessment_id, lock=True)
    require_manager(principal, assessment)
    if assessment.status != "in_progress":
        raise Conflict("This assessment has been signed off: nothing in it can change now")
    session.delete(evidence)
    record(
        session,
        "evidence.removed",
        actor=principal.user,
        organisation_id=assessment.organisation_id,
        object_type="evidence",
        object_id=evidence_id,
        summary=f"Evidence removed: {evidence.title}",
    )
    session.flush()
