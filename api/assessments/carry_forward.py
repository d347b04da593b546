"""Last year's agreed rating beside this year's, and carrying its rationale and evidence forward.

A carried item of evidence is marked by the cycle it came from (`Evidence.carried_from_cycle_id`),
not by its title: the title stays the one the board gave it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, select

from api.accounts.principal import Principal
from api.assessments import evidence as evidence_service
from api.assessments import service
from api.assessments.models import Assessment, ConsensusRating, Cycle, Evidence
from api.assessments.repository import assessment_for, evidence_of, previous_assessment
from api.audit.service import record_about
from api.errors import Conflict, NotFound
from api.frameworks.lineage import lookup_keys
from api.frameworks.models import Criterion, FrameworkRecord
from api.frameworks.schema import FrameworkDefinition
from api.frameworks.service import framework_document


@dataclass(frozen=True)
class LastYear:
    cycle: str
    level: int | None
    rationale: str
    evidence: list[Evidence]
    cycle_id: int = 0

    @property
    def evidence_titles(self) -> list[str]:
        return [e.title for e in self.evidence]


def evidence_key(evidence: Evidence) -> tuple[str, str | None]:
    """What makes two items the same evidence: the link's address, or the stored file."""
    return (evidence.kind, evidence.url if evidence.kind == "link" else evidence.stored_name)


def last_years(session: Session, assessment: Assessment, wanted: dict[str, list[str]]) -> dict[str, LastYear]:
    """Last year's agreed rating per current criterion key, found by its key or a key it replaces."""
    previous = previous_assessment(session, assessment)
    if previous is None:
        return {}
    cycle = session.get(Cycle, previous.cycle_id)
    assert cycle is not None and cycle.id is not None
    rows = session.exec(
        select(Criterion.key, ConsensusRating)
        .join(ConsensusRating, ConsensusRating.criterion_id == Criterion.id)
        .where(ConsensusRating.assessment_id == previous.id)
    ).all()
    by_key = dict(rows)
    evidence = evidence_of(session, previous.id)
    found: dict[str, LastYear] = {}
    for current_key, keys in wanted.items():
        for key in keys:
            consensus = by_key.get(key)
            if consensus is None:
                continue
            items = evidence.get(consensus.criterion_id, [])
            if consensus.level is not None or consensus.rationale.strip() or items:
                found[current_key] = LastYear(
                    cycle.name, consensus.level, consensus.rationale, items, cycle.id
                )
                break
    return found


def last_years_for(session: Session, assessment: Assessment, keys: list[str]) -> dict[str, LastYear]:
    """Last year's agreed rating for each of these current criterion keys, through `replaces`."""
    doc = framework_doc(session, assessment)
    return last_years(session, assessment, {key: lookup_keys(doc, key) for key in keys})


def level_four_notes(doc: FrameworkDefinition, found: dict[str, LastYear], keys: list[str]) -> dict[str, str]:
    """Why level 4 (Embedded) is not yet supported, per criterion key, under a framework's generic
    level-4 rule (version 2: level 3 held for two yearly cycles in a row, this one included).

    Only last year is looked at, which is all version 2's rule of two cycles needs. A board new to the
    service has no last year on record: it may still hold the evidence, so this is a prompt to say so
    in the rationale (and a sign-off warning), never a block.
    """
    rule = doc.embedded_rule
    if rule is None:
        return {}
    notes: dict[str, str] = {}
    for key in keys:
        last = found.get(key)
        if doc.allows_embedded([last.level] if last else []):
            continue
        if last is not None and last.level is not None:
            seen = f"In {last.cycle} the board agreed level {last.level}."
        else:
            seen = "There is no agreed level from last year on record."
        notes[key] = (
            f"Level 4 needs level 3 held for {rule.sustained_cycles} yearly cycles in a row, this one "
            f"included. {seen} If the board has evidence from before, say so in the rationale."
        )
    return notes


def is_new_statement(
    doc: FrameworkDefinition, key: str, previous: Assessment | None, framework_id: int
) -> bool:
    """A statement new in this framework version (it continues none of the last version's), where
    the board's previous assessment used an earlier version: there is nothing to compare."""
    criterion = doc.criterion(key)
    return (
        previous is not None
        and previous.framework_id != framework_id
        and criterion is not None
        and not criterion.replaces
    )


def framework_doc(session: Session, assessment: Assessment) -> FrameworkDefinition:
    """The validated framework document an assessment is on."""
    framework = session.get(FrameworkRecord, assessment.framework_id)
    assert framework is not None
    return framework_document(framework)


def cycle_names(session: Session, rows: list[Evidence]) -> dict[int, str]:
    """The names of the cycles these items were carried forward from, in one query."""
    ids = {e.carried_from_cycle_id for e in rows if e.carried_from_cycle_id is not None}
    if not ids:
        return {}
    return dict(session.exec(select(Cycle.id, Cycle.name).where(Cycle.id.in_(ids))).all())  # type: ignore[union-attr, arg-type]


def carry_forward(
    session: Session, principal: Principal, assessment_id: int, criterion_key: str, *, k_anonymity: int
) -> None:
    """Copy last year's rationale (only into an empty one) and evidence (each item once) for one
    statement, found by its key or a key it replaces. Nothing from last year: 404; signed off: 409.

    A copied file gets its own copy of the bytes (in the database); each copy records the year it
    came from.
    """
    assessment = assessment_for(session, principal, assessment_id, lock=True)
    service.require_manager(principal, assessment)
    criterion = service.criterion_for(session, assessment, criterion_key)
    framework = session.get(FrameworkRecord, assessment.framework_id)
    assert framework is not None
    definition = framework_document(framework).criterion(criterion.key)
    keys = [criterion.key, *(definition.replaces if definition else [])]
    last = last_years(session, assessment, {criterion.key: keys}).get(criterion.key)
    if last is None:
        raise NotFound("There is nothing from last year for this statement")
    if assessment.status != "in_progress":
        raise Conflict("This assessment has been signed off: nothing in it can change now")
    consensus = service.consensus_row(session, assessment, criterion)
    if last.rationale.strip() and (consensus is None or not consensus.rationale.strip()):
        service.save_consensus(
            session,
            principal,
            assessment_id,
            criterion_key,
            level=consensus.level if consensus else None,
            rationale=last.rationale,
            version=consensus.version if consensus else 0,
            k_anonymity=k_anonymity,
        )
    have = {evidence_key(e) for e in evidence_of(session, assessment.id).get(criterion.id or 0, [])}
    for old in last.evidence:
        if evidence_key(old) in have:
            continue
        have.add(evidence_key(old))
        if old.kind == "link":
            evidence_service.add_link(
                session,
                principal,
                assessment_id,
                criterion_key,
                title=old.title,
                url=old.url or "",
                carried_from_cycle_id=last.cycle_id,
            )
            continue
        consensus = service.consensus_row(session, assessment, criterion)
        if consensus is None:
            consensus = ConsensusRating(
                assessment_id=assessment.id, criterion_id=criterion.id, updated_by_id=principal.user.id
            )
            session.add(consensus)
            session.flush()
        copied = Evidence(
            consensus_rating_id=consensus.id,
            kind="file",
            title=old.title,
            stored_name=old.stored_name,
            content_type=old.content_type,
            size_bytes=old.size_bytes,
            sha256=old.sha256,
            added_by_id=principal.user.id,
            carried_from_cycle_id=last.cycle_id,
        )
        session.add(copied)
        session.flush()
        evidence_service.copy_file_content(session, old.id, copied.id)  # type: ignore[arg-type]
        record_about(
            session,
            "evidence.added",
            copied,
            f"Evidence file carried forward from {last.cycle} for {criterion_key}: {old.title}",
            actor=principal.user,
            organisation_id=assessment.organisation_id,
        )
    session.flush()
