"""Evidence for an agreed rating: links, and uploaded files checked by their content, not their name."""

from __future__ import annotations

import hashlib
import io
import uuid
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating, Evidence
from api.assessments.repository import assessment_for
from api.assessments.service import consensus_row, criterion_for, require_manager
from api.audit.service import record
from api.deps import Principal
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
    if any(name.lower().endswith("vbaproject.bin") for name in names):
        raise FieldError(
            "file", "The file contains macros: save it as a normal .docx or .xlsx without macros"
        )
    if "[Content_Types].xml" not in names:
        raise FieldError("file", f"The file must be {ALLOWED_TEXT}")
    content_types = archive.read("[Content_Types].xml").decode("utf-8", "replace").lower()
    if "macroenabled" in content_types or "vba" in content_types:
        raise FieldError(
            "file", "The file contains macros: save it as a normal .docx or .xlsx without macros"
        )
    if "word/document.xml" in names:
        return "docx"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise FieldError("file", f"The file must be {ALLOWED_TEXT}")


def check_file(data: bytes) -> CheckedFile:
    """The type comes from the first bytes of the content; the file name is never trusted."""
    if not data:
        raise FieldError("file", "The selected file is empty")
    if len(data) > MAX_UPLOAD_BYTES:
        raise FieldError("file", "The selected file must be smaller than 10 MB")
    if data.startswith(b"%PDF-"):
        kind = "pdf"
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
        try:
            with session.begin_nested():
                session.add(consensus)
                session.flush()
        except IntegrityError:
            # Someone else created it at the same moment: the evidence goes with theirs.
            consensus = consensus_row(session, assessment, criterion)
            assert consensus is not None
    return assessment, consensus, criterion.key


def add_link(
    session: Session, principal: Principal, assessment_id: int, criterion_key: str, *, title: str, url: str
) -> Evidence:
    assessment, consensus, key = _consensus_for_evidence(session, principal, assessment_id, criterion_key)
    evidence = Evidence(
        consensus_rating_id=consensus.id,
        kind="link",
        title=title.strip()[:200],
        url=url.strip(),
        added_by_id=principal.user.id,
    )
    session.add(evidence)
    session.flush()
    record(
        session,
        "evidence.added",
        actor=principal.user,
        organisation_id=assessment.organisation_id,
        object_type="evidence",
        object_id=evidence.id,
        summary=f"Evidence link added for {key}: {evidence.title}",
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
    upload_dir: Path,
) -> Evidence:
    checked = check_file(data)
    assessment, consensus, key = _consensus_for_evidence(session, principal, assessment_id, criterion_key)
    stored_name = f"{uuid.uuid4().hex}.{checked.kind}"
    upload_dir.mkdir(parents=True, exist_ok=True)
    path = upload_dir / stored_name
    # Written before the row commits; a rollback leaves an orphan file, never a row without a file.
    path.write_bytes(data)
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
    record(
        session,
        "evidence.added",
        actor=principal.user,
        organisation_id=assessment.organisation_id,
        object_type="evidence",
        object_id=evidence.id,
        summary=f"Evidence file added for {key}: {title}",
    )
    return evidence


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
