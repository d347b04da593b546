"""An uploaded evidence file as a download, streamed from the database piece by piece."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import Request
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api.assessments import evidence as evidence_service
from api.assessments.models import Evidence
from api.errors import NotFound


def evidence_file_download(
    request: Request, session: Session, evidence: Evidence, filename: str
) -> StreamingResponse:
    """The file as an attachment with its size known up front; 404 if no bytes are stored for it."""
    size = (
        evidence_service.stored_file_size(session, evidence.id)
        if evidence.kind == "file" and evidence.id is not None
        else None
    )
    if size is None:
        raise NotFound("There is no file to download for this evidence")
    # As Starlette's FileResponse writes it: a name that is not plain ASCII goes in filename*.
    quoted = quote(filename)
    disposition = (
        f'attachment; filename="{filename}"'
        if quoted == filename
        else f"attachment; filename*=utf-8''{quoted}"
    )
    return StreamingResponse(
        evidence_service.file_chunks(request.app.state.engine, evidence.id, size),
        media_type=evidence.content_type,
        headers={
            "Content-Length": str(size),
            "Content-Disposition": disposition,
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
