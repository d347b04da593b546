"""Loading framework files into the database; a version once loaded never changes."""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from api.frameworks.loader import (
    FrameworkFileError,
    canonical_definition,
    content_hash,
    describe_changes,
    load_framework_file,
)
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.frameworks.schema import FrameworkDefinition


def framework_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.is_file())


def sync_framework(session: Session, path: Path, display_path: str | None = None) -> FrameworkRecord:
    """Load one file: insert a new framework, accept an unchanged one, refuse a changed one."""
    shown = display_path or path.name
    doc = load_framework_file(path)
    definition = canonical_definition(doc)
    digest = content_hash(definition)
    existing = session.exec(select(FrameworkRecord).where(FrameworkRecord.key == doc.key)).first()
    if existing is not None:
        if existing.version != doc.version:
            raise FrameworkFileError(
                shown,
                [
                    f"key {doc.key!r} is already loaded as version {existing.version}; "
                    f"a new version needs a new key"
                ],
            )
        if existing.content_hash != digest:
            changes = describe_changes(existing.definition, definition)
            listed = ", ".join(changes[:10]) + (f" and {len(changes) - 10} more" if len(changes) > 10 else "")
            raise FrameworkFileError(
                shown,
                [
                    f"framework {doc.key!r} version {doc.version} is already loaded and cannot "
                    f"change; changed: {listed}. Give the new content a new key and version."
                ],
            )
        return existing

    framework = FrameworkRecord(
        key=doc.key,
        version=doc.version,
        title=doc.title,
        content_hash=digest,
        definition=definition,
        source_file=shown,
    )
    session.add(framework)
    session.flush()
    for section in doc.sections:
        section_row = FrameworkSection(
            framework_id=framework.id,
            key=section.key,
            kind=section.kind,
            number=section.number,
            title=section.title,
        )
        session.add(section_row)
        session.flush()
        for position, criterion in enumerate(section.criteria, start=1):
            session.add(
                Criterion(
                    framework_id=framework.id,
                    section_id=section_row.id,
                    key=criterion.key,
                    position=position,
                    statement=criterion.statement,
                    applies_to=list(criterion.applies_to),
                    indicator=criterion.indicator,
                    kind=criterion.kind,
                )
            )
    session.flush()
    return framework


def sync_frameworks(session: Session, directory: Path) -> list[FrameworkRecord]:
    return [sync_framework(session, path) for path in framework_files(directory)]


# Loaded frameworks never change (see sync_framework), so a parsed copy per process is safe.
_parsed: dict[tuple[int, str], FrameworkDefinition] = {}


def framework_document(framework: FrameworkRecord) -> FrameworkDefinition:
    """The validated document of a loaded framework."""
    assert framework.id is not None
    cache_key = (framework.id, framework.content_hash)
    doc = _parsed.get(cache_key)
    if doc is None:
        doc = _parsed[cache_key] = FrameworkDefinition.model_validate(framework.definition)
    return doc


def latest_framework(session: Session) -> FrameworkRecord | None:
    return session.exec(
        select(FrameworkRecord).order_by(FrameworkRecord.loaded_at.desc(), FrameworkRecord.id.desc())
    ).first()
