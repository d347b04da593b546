"""Peer snapshots and the benchmark a board sees against them.

Every peer figure comes from a snapshot: a frozen copy of a peer group's submitted scores. During
an open cycle a group's snapshot is replaced only once at least K new submissions have arrived in
that group, so watching the figures move cannot reveal the trust that just submitted. Once the
cycle has closed, every snapshot is taken one last time, as the submissions stood at the close, and
marked final: figures for a closed year are final, and nothing a trust does later (a submission a
platform admin reopens and signs off again) moves them. The asking trust is always taken out of its
own peers.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import defer
from sqlmodel import Session, select

from api.accounts.roles import BOARD_ROLE_CHAIR
from api.assessments.cycles import is_closed
from api.assessments.models import Assessment, ConsensusRating, Cycle, MemberResponse, Rating
from api.benchmarking.groups import GROUP_KINDS, group_label, group_value
from api.benchmarking.maths import PeerStats, count_band, peer_stats, quartile_of
from api.benchmarking.models import PeerSnapshot
from api.db import utcnow
from api.frameworks.models import Criterion, FrameworkSection
from api.organisations.models import Organisation
from api.scoring.maths import one_decimal
from api.scoring.models import OVERALL_KEY, StoredScore


def _submitted_in_cycle(session: Session, cycle_id: int) -> list[Any]:
    """Each submission with the columns its peer groups come from: rows, not Organisation objects
    (at 10,000 trusts, building the objects took most of a second on every read of a closed cycle)."""
    # On the session's connection: plain rows, without the ORM's per-row work.
    return list(
        session.connection()
        .execute(
            select(Assessment.id, Organisation.peer_type, Organisation.region, Organisation.size_band)
            .join(Organisation, Organisation.id == Assessment.organisation_id)  # type: ignore[arg-type]
            .where(Assessment.cycle_id == cycle_id, Assessment.status == "submitted")
        )
        .all()
    )


def _stored_scores(session: Session, assessment_ids: list[int]) -> dict[int, dict[str, float | None]]:
    scores: dict[int, dict[str, float | None]] = defaultdict(dict)
    for start in range(0, len(assessment_ids), 5000):
        chunk = assessment_ids[start : start + 5000]
        rows = session.exec(
            select(StoredScore.assessment_id, StoredScore.section_key, StoredScore.score).where(
                StoredScore.assessment_id.in_(chunk)  # type: ignore[attr-defined]
            )
        ).all()
        for assessment_id, key, score in rows:
            scores[assessment_id][key] = score
    return scores


def refresh_snapshots(
    session: Session,
    cycle: Cycle,
    k: int,
    today: date | None = None,
    only_groups: set[tuple[str, str]] | None = None,
) -> int:
    """Replace the snapshots that are due. Returns how many were taken.

    Due, while the cycle is open: a group with no snapshot once it has k submissions; a group with
    k or more submissions not yet in its snapshot. Once it has closed: every group, once, as the
    submissions stand then (the final figures); after that, never again.
    """
    closed = is_closed(cycle, today or utcnow().date())
    # One refresh at a time per cycle (PostgreSQL row lock; SQLite writers queue anyway).
    session.exec(select(Cycle).where(Cycle.id == cycle.id).with_for_update()).first()
    due, existing = _due(session, cycle, k, closed, only_groups)
    if not due:
        return 0
    scores = _stored_scores(session, sorted(set().union(*due.values())))
    now = utcnow()
    for (kind, value), ids in due.items():
        by_section: dict[str, dict[str, float]] = defaultdict(dict)
        for assessment_id in sorted(ids):
            for key, score in scores.get(assessment_id, {}).items():
                if score is not None:
                    by_section[key][str(assessment_id)] = score
        if kind == "all":
            # The sector view's headline figures and role view come from the same batch.
            by_section.update(_sector_extras(session, sorted(ids)))
        snapshot = existing.get((kind, value)) or PeerSnapshot(
            cycle_id=cycle.id, group_kind=kind, group_value=value
        )
        snapshot.assessment_ids = sorted(ids)
        snapshot.scores = dict(by_section)
        snapshot.taken_at = now
        snapshot.final = closed
        session.add(snapshot)
    session.flush()
    return len(due)


def _due(
    session: Session, cycle: Cycle, k: int, closed: bool, only_groups: set[tuple[str, str]] | None
) -> tuple[dict[tuple[str, str], set[int]], dict[tuple[str, str], PeerSnapshot]]:
    """The groups whose snapshot is due (with their submissions now), and the existing snapshots.

    The snapshots are read without their scores (never needed here: a due one is overwritten) and
    as they are now in the database, not as this session may have read them before a lock.
    """
    existing = {
        (s.group_kind, s.group_value): s
        for s in session.exec(
            select(PeerSnapshot)
            .where(PeerSnapshot.cycle_id == cycle.id)
            .options(defer(PeerSnapshot.scores))  # type: ignore[arg-type]
            .execution_options(populate_existing=True)
        ).all()
    }
    if closed and any(snapshot.final for snapshot in existing.values()):
        return {}, existing  # the final figures are taken: nothing moves them any more
    members: dict[tuple[str, str], set[int]] = defaultdict(set)
    for row in _submitted_in_cycle(session, cycle.id):
        for kind in GROUP_KINDS:
            value = group_value(row, kind)
            if value is not None:
                members[(kind, value)].add(row.id)
    due: dict[tuple[str, str], set[int]] = {}
    if closed:
        # Every group, as it stands at the close; a group whose submissions were all reopened
        # before the close is emptied, not left showing them.
        due = {group: members.get(group, set()) for group in existing}
        due.update({group: ids for group, ids in members.items() if ids})
        return due, existing
    for group, ids in members.items():
        if only_groups is not None and group not in only_groups:
            continue
        snapshot = existing.get(group)
        if snapshot is None:
            if len(ids) >= k:
                due[group] = ids
        elif len(ids - set(snapshot.assessment_ids)) >= k:
            due[group] = ids
    return due, existing


def figures_final(session: Session, cycle: Cycle) -> bool:
    """Whether the closed cycle's final snapshots have been taken (one light query)."""
    return (
        session.connection()
        .execute(
            select(PeerSnapshot.id)
            .where(PeerSnapshot.cycle_id == cycle.id, PeerSnapshot.final.is_(True))  # type: ignore[attr-defined]
            .limit(1)
        )
        .first()
        is not None
    )


def _anything_to_take(session: Session, cycle: Cycle) -> bool:
    """A submission, or a snapshot: without either, a closed cycle has no figures to make final."""
    connection = session.connection()
    for statement in (
        select(Assessment.id).where(Assessment.cycle_id == cycle.id, Assessment.status == "submitted"),
        select(PeerSnapshot.id).where(PeerSnapshot.cycle_id == cycle.id),
    ):
        if connection.execute(statement.limit(1)).first() is not None:
            return True
    return False


def take_final_figures(session: Session, cycle: Cycle, k: int, today: date | None = None) -> None:
    """Once the cycle has closed, make sure its final snapshots are taken, as the submissions stood at
    the close. Called before anything that could change a submission after the close (a reopening,
    a sign-off) and on the first read, so the final figures never include a later change."""
    if (
        is_closed(cycle, today or utcnow().date())
        and not figures_final(session, cycle)
        and _anything_to_take(session, cycle)
    ):
        refresh_snapshots(session, cycle, k, today=today)


def in_final_figures(session: Session, cycle: Cycle, assessment_id: int) -> bool:
    """Whether the assessment was a submission when the closed cycle's final figures were taken."""
    everyone = session.exec(
        select(PeerSnapshot).where(
            PeerSnapshot.cycle_id == cycle.id,
            PeerSnapshot.group_kind == "all",
            PeerSnapshot.final.is_(True),  # type: ignore[attr-defined]
        )
    ).first()
    return everyone is not None and assessment_id in everyone.assessment_ids


def snapshots_to_read(
    session: Session, cycle: Cycle, k: int, kinds: tuple[str, ...], value: str | None = None
) -> list[PeerSnapshot]:
    """The snapshots of these group kinds (of the one group `value`, if given), for showing.

    After a cycle closes, the final snapshots are taken the first time anyone looks (or earlier, if
    a submission is reopened or signed off first: take_final_figures). Once taken, a read costs
    no more than the snapshots themselves, and nothing refreshes them again.
    """
    statement = select(PeerSnapshot).where(
        PeerSnapshot.cycle_id == cycle.id,
        PeerSnapshot.group_kind.in_(kinds),  # type: ignore[attr-defined]
    )
    if value is not None:
        statement = statement.where(PeerSnapshot.group_value == value)
    snapshots = list(session.exec(statement).all())
    if (
        is_closed(cycle, utcnow().date())
        and not any(snapshot.final for snapshot in snapshots)
        and not figures_final(session, cycle)
        and _anything_to_take(session, cycle)
    ):
        refresh_snapshots(session, cycle, k)
        snapshots = list(session.exec(statement).all())
    return snapshots


INDICATOR_PREFIX = "indicator:"
ROLE_PREFIX = "role:"
HEADLINE_PREFIX = "headline:"
# The respondent-role view groups board roles as the 2022 survey reported them: chairs, chief
# executives, non-executive directors and "other job roles" (every other executive director, the
# board secretary and anyone recorded as "other"). Every board role has a group, so nobody who
# answers is left out of a role row; the whole-set figures do not depend on it either (HEADLINE_ALL).
ROLE_GROUPS = {
    BOARD_ROLE_CHAIR: BOARD_ROLE_CHAIR,
    "chief_executive": "chief_executive",
    "ned": "ned",
    "executive": "other",
    "secretary": "other",
    "other": "other",
}
# Every respondent's answer to the 0 to 10 question, whatever their board role: the whole-set figures.
HEADLINE_ALL = f"{HEADLINE_PREFIX}all"


def _sector_extras(session: Session, assessment_ids: list[int]) -> dict[str, dict[str, float]]:
    """Per indicator criterion: each trust's agreed level; per respondent role: each member's
    section means and headline answer. Keyed by an opaque index; never sent to anyone."""
    extras: dict[str, dict[str, float]] = defaultdict(dict)
    for start in range(0, len(assessment_ids), 2000):
        chunk = assessment_ids[start : start + 2000]
        indicator_rows = session.exec(
            select(ConsensusRating.assessment_id, Criterion.indicator, ConsensusRating.level)
            .join(Criterion, Criterion.id == ConsensusRating.criterion_id)
            .where(
                ConsensusRating.assessment_id.in_(chunk),  # type: ignore[attr-defined]
                Criterion.indicator.is_not(None),  # type: ignore[union-attr]
                ConsensusRating.level.is_not(None),  # type: ignore[union-attr]
            )
        ).all()
        for assessment_id, indicator, level in indicator_rows:
            extras[f"{INDICATOR_PREFIX}{indicator}"][str(assessment_id)] = float(level)
        responses = session.exec(
            select(
                MemberResponse.assessment_id,
                MemberResponse.respondent_id,
                MemberResponse.board_role,
                MemberResponse.headline_score,
            ).where(
                MemberResponse.assessment_id.in_(chunk)  # type: ignore[attr-defined]
            )
        ).all()
        role_of = {(a, r): ROLE_GROUPS.get(board_role, "other") for a, r, board_role, _h in responses}
        for a, r, _board_role, headline in responses:
            if headline is not None:
                extras[HEADLINE_ALL][f"{a}.{r}"] = float(headline)
                extras[f"{HEADLINE_PREFIX}{role_of[(a, r)]}"][f"{a}.{r}"] = float(headline)
        sums: dict[tuple[int, int, str], list[int]] = defaultdict(list)
        for a, r, section_key, level in session.exec(
            select(Rating.assessment_id, Rating.respondent_id, FrameworkSection.key, Rating.level)
            .join(Criterion, Criterion.id == Rating.criterion_id)
            .join(FrameworkSection, FrameworkSection.id == Criterion.section_id)
            .where(Rating.assessment_id.in_(chunk), Rating.level.is_not(None))  # type: ignore[attr-defined,union-attr]
        ).all():
            sums[(a, r, section_key)].append(level)
        for (a, r, section_key), levels in sums.items():
            role = role_of.get((a, r))
            if role:
                extras[f"{ROLE_PREFIX}{role}:{section_key}"][f"{a}.{r}"] = sum(levels) / len(levels)
    return extras


def groups_of(organisation: Organisation) -> set[tuple[str, str]]:
    return {(kind, value) for kind in GROUP_KINDS if (value := group_value(organisation, kind)) is not None}


def after_submission(session: Session, assessment: Assessment, k: int) -> None:
    """Called in the sign-off transaction: only the new submission's own groups can be due."""
    cycle = session.get(Cycle, assessment.cycle_id)
    organisation = session.get(Organisation, assessment.organisation_id)
    assert cycle is not None and organisation is not None
    refresh_snapshots(session, cycle, k, only_groups=groups_of(organisation))


@dataclass(frozen=True)
class SectionBenchmark:
    key: str
    title: str
    own: float | None
    stats: PeerStats
    quartile: int | None


@dataclass(frozen=True)
class Benchmark:
    group: str
    group_label: str
    peer_count: int
    peer_count_band: str
    suppressed: bool
    snapshot_at: object
    precision: float | None
    sections: list[SectionBenchmark]


def _snapshot(session: Session, cycle: Cycle, kind: str, value: str, k: int) -> PeerSnapshot | None:
    snapshots = snapshots_to_read(session, cycle, k, (kind,), value)
    return snapshots[0] if snapshots else None


def section_titles(session: Session, framework_id: int) -> list[tuple[str, str]]:
    rows = session.exec(
        select(FrameworkSection.key, FrameworkSection.title)
        .where(FrameworkSection.framework_id == framework_id)
        .order_by(FrameworkSection.number)
    ).all()
    return [(OVERALL_KEY, "Overall maturity"), *rows]


def benchmark(session: Session, assessment: Assessment, kind: str, k: int) -> Benchmark:
    """The board against one peer group. Its own figures are its stored (submitted) scores only."""
    assert assessment.id is not None
    organisation = session.get(Organisation, assessment.organisation_id)
    cycle = session.get(Cycle, assessment.cycle_id)
    assert organisation is not None and cycle is not None
    value = group_value(organisation, kind)
    snapshot = _snapshot(session, cycle, kind, value, k) if value is not None else None
    peer_ids = [i for i in (snapshot.assessment_ids if snapshot else []) if i != assessment.id]
    suppressed = len(peer_ids) < k
    own_scores: dict[str, float | None] = {}
    if assessment.status == "submitted":
        own_scores = _stored_scores(session, [assessment.id]).get(assessment.id, {})
    sections = []
    for key, title in section_titles(session, assessment.framework_id):
        stats = (
            PeerStats(len(peer_ids), True, None, None, None, None)
            if suppressed or snapshot is None
            else peer_stats(snapshot.values(key, excluding=assessment.id), k)
        )
        own = one_decimal(own_scores.get(key))
        sections.append(SectionBenchmark(key, title, own, stats, quartile_of(own, stats)))
    return Benchmark(
        group=kind,
        group_label=group_label(kind, value),
        peer_count=len(peer_ids),
        peer_count_band=count_band(len(peer_ids), k),
        suppressed=suppressed,
        snapshot_at=snapshot.taken_at if snapshot and not suppressed else None,
        precision=None if suppressed else (0.5 if len(peer_ids) < 2 * k else 0.1),
        sections=sections,
    )


@dataclass(frozen=True)
class TrendPoint:
    cycle: str
    own: float | None
    peer_median: float | None
    suppressed: bool


def trend(session: Session, organisation_id: int, kind: str, k: int) -> list[TrendPoint]:
    """The trust's own overall score in every cycle, beside that cycle's peer median."""
    organisation = session.get(Organisation, organisation_id)
    assert organisation is not None
    points = []
    rows = session.exec(
        select(Cycle, Assessment)
        .outerjoin(
            Assessment,
            (Assessment.cycle_id == Cycle.id) & (Assessment.organisation_id == organisation_id),  # type: ignore[arg-type]
        )
        .order_by(Cycle.opens_on)  # type: ignore[arg-type]
    ).all()
    value = group_value(organisation, kind)
    for cycle, assessment in rows:
        own = None
        if assessment is not None and assessment.status == "submitted":
            own = one_decimal(
                _stored_scores(session, [assessment.id]).get(assessment.id, {}).get(OVERALL_KEY)
            )
        snapshot = _snapshot(session, cycle, kind, value, k) if value is not None else None
        excluding = assessment.id if assessment is not None else None
        stats = peer_stats(snapshot.values(OVERALL_KEY, excluding=excluding), k) if snapshot else None
        points.append(
            TrendPoint(
                cycle=cycle.name,
                own=own,
                peer_median=stats.median if stats and not stats.suppressed else None,
                suppressed=stats is None or stats.suppressed,
            )
        )
    return points
