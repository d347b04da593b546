"""Rendered exports kept in the database, and at most one export in progress per person.

A board report or workbook is rendered again only when something it shows has changed. Its key:

- `content_version`: SHA-256 of one query's aggregates over everything the file shows: the
  assessment's own row (status, sign-off, rating window, version), the members' ratings, the
  consensus, evidence, who finished, the board's members, the action plan, the BAF risk, the
  board's WRES indicators and high impact action progress, the trust's name, the cycles and the
  trust's assessments in other cycles (the trend), the k setting and the UK day (the file says when it was downloaded). Every write that can race bumps a row's
  `version` (compare-and-set), and a row added or removed changes a count or the largest id.
- `framework_version`: the framework's key, version and content fingerprint.
- `snapshot_batch`: the peer snapshots the benchmark and trend figures came from (their number,
  the sum of their ids and the latest refresh time).
- `viewer_part`: what depends on the person downloading. Members' spreads and medians are shown to
  a viewer only when at least MIN_OTHER_RATERS members *other than the viewer* rated (spread.py),
  so a member who rated a criterion that exactly MIN_OTHER_RATERS members rated sees it hidden
  where anyone else sees it. The part is the hash of those criteria and sections: everyone for whom
  it is empty shares one file, and no one is ever sent bytes rendered for a different view.

Old keys are replaced when a new file is stored for the same assessment and kind, and
`purge_rendered` (run by `python -m api purge-expired`) deletes files older than a week.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from api.accounts.models import Membership, User
from api.accounts.roles import RATER_ROLES
from api.actions.models import Action, ActionCriterion, ActionNote
from api.assessments.models import (
    Assessment,
    AssessmentRater,
    ConsensusRating,
    Cycle,
    Evidence,
    MemberResponse,
    Rating,
)
from api.assessments.repository import criteria_of
from api.assessments.spread import MIN_OTHER_RATERS, board_ratings, uk_today
from api.baf.models import BafRisk
from api.benchmarking.models import PeerSnapshot
from api.db import utcnow
from api.indicators.models import BoardIndicators
from api.organisations.models import Organisation
from api.reports.models import ExportLock, RenderedExport
from api.reports.subject import Subject
from api.response_cache import CachedResponse

KEEP_FOR = timedelta(days=7)


@dataclass(frozen=True)
class ExportKey:
    assessment_id: int
    kind: str
    content_version: str
    framework_version: str
    snapshot_batch: str
    viewer_part: str


def content_facts(session: Session, subject: Subject) -> tuple[object, ...]:
    """One statement: every aggregate the content version is the hash of."""
    a = subject.assessment
    assessment_id = a.id
    org_id = a.organisation_id

    def agg(model: type, version: object, *where: object) -> list[object]:
        # count, sum of versions (or ids), largest id: as scalar subqueries of the one statement.
        return [
            select(func.count()).select_from(model).where(*where).scalar_subquery(),
            select(func.coalesce(func.sum(version), 0)).select_from(model).where(*where).scalar_subquery(),
            select(func.coalesce(func.max(model.id), 0)).where(*where).scalar_subquery(),  # type: ignore[attr-defined]
        ]

    consensus_ids = select(ConsensusRating.id).where(ConsensusRating.assessment_id == assessment_id)
    action_ids = select(Action.id).where(Action.assessment_id == assessment_id)
    own = session.exec(  # type: ignore[call-overload]
        select(
            Assessment.version,
            Assessment.status,
            Assessment.submitted_at,
            Assessment.rating_closed_at,
            Assessment.rating_deadline,
            Organisation.name,
            Organisation.ods_code,
            User.name,
            *agg(Rating, Rating.version, Rating.assessment_id == assessment_id),
            *agg(ConsensusRating, ConsensusRating.version, ConsensusRating.assessment_id == assessment_id),
            *agg(Evidence, Evidence.id, Evidence.consensus_rating_id.in_(consensus_ids)),  # type: ignore[attr-defined]
            *agg(
                MemberResponse,
                MemberResponse.version,
                MemberResponse.assessment_id == assessment_id,
                MemberResponse.completed_at.is_not(None),
            ),  # type: ignore[union-attr]  # fmt: skip
            *agg(AssessmentRater, AssessmentRater.user_id, AssessmentRater.assessment_id == assessment_id),
            *agg(Membership, Membership.user_id, Membership.organisation_id == org_id),
            select(func.count())
            .select_from(Membership)
            .where(Membership.organisation_id == org_id, Membership.role.in_(RATER_ROLES))  # type: ignore[attr-defined]
            .scalar_subquery(),
            *agg(Action, Action.version, Action.assessment_id == assessment_id),
            select(func.count())
            .select_from(ActionCriterion)
            .where(ActionCriterion.action_id.in_(action_ids))  # type: ignore[attr-defined]
            .scalar_subquery(),
            *agg(ActionNote, ActionNote.id, ActionNote.action_id.in_(action_ids)),  # type: ignore[attr-defined]
            *agg(BafRisk, BafRisk.version, BafRisk.organisation_id == org_id),
            *agg(BoardIndicators, BoardIndicators.version, BoardIndicators.assessment_id == assessment_id),
            *agg(Cycle, Cycle.version),
            *agg(Assessment, Assessment.version, Assessment.organisation_id == org_id),
        )  # fmt: skip
        .select_from(Assessment)
        .join(Organisation, Organisation.id == Assessment.organisation_id)  # type: ignore[arg-type]
        .outerjoin(User, User.id == Assessment.submitted_by_id)  # type: ignore[arg-type]
        .where(Assessment.id == assessment_id)
    ).one()
    return (*own, subject.k, str(uk_today()))


def snapshot_batch(session: Session) -> str:
    """The peer snapshots every figure of an export may come from (benchmarks: this cycle; trend:
    every cycle): their number, the sum of their ids and the latest refresh."""
    count, ids, latest = session.exec(  # type: ignore[call-overload]
        select(func.count(), func.coalesce(func.sum(PeerSnapshot.id), 0), func.max(PeerSnapshot.taken_at))
    ).one()
    when = latest.isoformat() if isinstance(latest, datetime) else str(latest or "")
    return f"{count}:{ids}:{when}"[:80]


def viewer_part(session: Session, subject: Subject) -> str:
    """The criteria and sections whose spread this viewer sees differently from someone who did not
    rate them: those exactly MIN_OTHER_RATERS members rated, the viewer among them."""
    ratings = board_ratings(session, subject.assessment)
    viewer = subject.viewer_id
    differs: list[str] = []
    if ratings.closed and viewer is not None:
        section_of: dict[int, int] = {}
        for section, criterion in criteria_of(session, subject.assessment):
            section_of[criterion.id or 0] = section.id or 0
        by_section: dict[int, set[int]] = defaultdict(set)
        for criterion_id, answers in sorted(ratings.by_criterion.items()):
            raters = {r for r, _l, _c in answers}
            if viewer in raters and len(answers) == MIN_OTHER_RATERS:
                differs.append(f"c{criterion_id}")
            if criterion_id in section_of:
                by_section[section_of[criterion_id]] |= {r for r, level, _c in answers if level is not None}
        for section_id, members in sorted(by_section.items()):
            if viewer in members and len(members) == MIN_OTHER_RATERS:
                differs.append(f"s{section_id}")
    return hashlib.sha256(f"{ratings.closed}|{','.join(differs)}".encode()).hexdigest()


def export_key(session: Session, subject: Subject, kind: str) -> ExportKey:
    facts = content_facts(session, subject)
    content = hashlib.sha256(repr(facts).encode()).hexdigest()
    framework = subject.framework
    return ExportKey(
        assessment_id=subject.assessment.id or 0,
        kind=kind,
        content_version=content,
        framework_version=f"{framework.key} {framework.version} {framework.content_hash[:16]}"[:120],
        snapshot_batch=snapshot_batch(session),
        viewer_part=viewer_part(session, subject),
    )


def _matches(key: ExportKey) -> list[object]:
    return [
        RenderedExport.assessment_id == key.assessment_id,
        RenderedExport.kind == key.kind,
        RenderedExport.content_version == key.content_version,
        RenderedExport.framework_version == key.framework_version,
        RenderedExport.snapshot_batch == key.snapshot_batch,
        RenderedExport.viewer_part == key.viewer_part,
    ]


def cached_body(session: Session, key: ExportKey) -> bytes | None:
    return session.exec(select(RenderedExport.body).where(*_matches(key))).scalar_one_or_none()  # type: ignore[call-overload]


def store(session: Session, key: ExportKey, body: bytes) -> None:
    """Keep the file under its key; files of the same assessment and kind under an older content,
    framework or snapshot key are deleted (another viewer's part of the same content stays)."""
    session.exec(  # type: ignore[call-overload]
        delete(RenderedExport).where(
            RenderedExport.assessment_id == key.assessment_id,
            RenderedExport.kind == key.kind,
            or_(
                RenderedExport.content_version != key.content_version,
                RenderedExport.framework_version != key.framework_version,
                RenderedExport.snapshot_batch != key.snapshot_batch,
            ),
        )
    )
    values = {**key.__dict__, "body": body, "created_at": utcnow()}
    insert = (postgresql.insert if _is_postgresql(session) else sqlite.insert)(RenderedExport).values(
        **values
    )
    session.exec(insert.on_conflict_do_nothing())  # type: ignore[call-overload]
    session.flush()


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def take_lock(session: Session, user_id: int, hold_for: timedelta) -> str | None:
    """The person's export lock, unless another export of theirs holds it and has not expired:
    one statement (insert, or take over an expired row), so two instances cannot both take it."""
    now = utcnow()
    token = secrets.token_hex(16)
    table = ExportLock.__table__  # type: ignore[attr-defined]
    insert = (postgresql.insert if _is_postgresql(session) else sqlite.insert)(table).values(
        user_id=user_id, token=token, expires_at=now + hold_for
    )
    statement = insert.on_conflict_do_update(
        index_elements=[table.c.user_id],
        set_={"token": insert.excluded.token, "expires_at": insert.excluded.expires_at},
        where=table.c.expires_at <= now,
    ).returning(table.c.user_id)
    taken = session.exec(statement).first()  # type: ignore[call-overload]
    return token if taken is not None else None


def lock_expires_at(session: Session, user_id: int) -> datetime | None:
    return session.exec(
        select(ExportLock.expires_at).where(ExportLock.user_id == user_id)
    ).scalar_one_or_none()  # type: ignore[call-overload]


def release_lock(session: Session, user_id: int, token: str) -> None:
    session.exec(delete(ExportLock).where(and_(ExportLock.user_id == user_id, ExportLock.token == token)))  # type: ignore[call-overload]


def purge_rendered(session: Session, now: datetime | None = None) -> int:
    """Delete rendered files older than KEEP_FOR and export locks that have expired."""
    now = now or utcnow()
    purged = session.exec(delete(RenderedExport).where(RenderedExport.created_at <= now - KEEP_FOR)).rowcount  # type: ignore[call-overload, operator]
    session.exec(delete(ExportLock).where(ExportLock.expires_at <= now))  # type: ignore[call-overload]
    # Sector and benchmark answers are keyed by the day: yesterday's are never read again.
    session.exec(delete(CachedResponse).where(CachedResponse.created_at <= now - timedelta(days=1)))  # type: ignore[call-overload, operator]
    session.flush()
    return int(purged or 0)
