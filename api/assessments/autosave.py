"""Autosave on PostgreSQL: a member's rating saved in one statement, sent once.

`PUT /api/v1/assessments/{id}/ratings/{criterion_key}` is the busiest write of the year. On SQLite
it takes the usual path (the RaterSaving gate reads the token, then the assessment under its share
lock; service.save_rating runs the compare-and-set or the first insert, then the audit event). On
PostgreSQL the same checks and writes are one statement of CTEs (`_SAVE`):

1. `caller`: the person holding the unexpired token (`_token_principal`'s rule), with what their
   second-factor rule needs.
2. `target`: the assessment, only if it is one of the caller's boards', read under the share lock
   (`assessment_for(lock=True)`): a sign-off waits for this save, or this save sees the sign-off.
   With it: the caller's role on that board, has the year closed, has rating closed.
3. `allowed`: every check passed (second factor, role, in progress, year and rating open).
4. `criterion_asked`: the criterion by key in the assessment's framework, and whether this trust's
   members rate it (`criteria_of`'s rule: `_MEMBERS_RATE`).
5. `changed` (version > 0): the compare-and-set `UPDATE ... WHERE version = n`; `answered`
   (version 0): the first answer, `INSERT ... ON CONFLICT DO NOTHING`.
6. On a first answer only: the member's response row (`_response_row`) and their "finished" mark
   (`_touch_response`).
7. `audited`: the audit event, if anything was saved.

The statement writes nothing unless every check passed. Its one row says which: the caller gets
the same answer as on the usual path (401, 404, 403, 409, 422, or the saved rating), raised by
`permissions.OneStatementSave` (who may) and `SaveFacts.saved_rating` (the rules). One case is
left to the usual path: an assessment whose year has closed (`require_open_for_submission` decides
whether a reopened submission may still change), rare, and answered exactly as before.
`tests/assessments/test_autosave_statements.py` counts the statements.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import TextClause, bindparam, text
from sqlmodel import Session

from api.assessments.models import Rating
from api.assessments.service import (
    RATING_CHANGED,
    RATING_CHANGED_SUMMARY,
    answer_changed,
    answered_elsewhere,
    fact_item_refusal,
    my_rating,
    not_a_criterion,
    rating_has_closed,
    signed_off,
)
from api.assessments.spread import uk_today
from api.db import UTCDateTime, utcnow

# Whether the members of a trust of type `trust_type` rate criterion `cr`: criteria_of's rule (an
# empty applies_to means every type), used for the criterion saved and for the "finished" mark.
# Members rate a criterion that applies to their trust and is not a fact item (framework version 2:
# the chair or secretary answers those once for the board; repository.MEMBER_RATED). Both the save
# and the finished mark follow it.
_MEMBERS_RATE = """(
    cr.kind IS DISTINCT FROM 'fact' AND
    CASE json_typeof(cr.applies_to)
        WHEN 'array' THEN json_array_length(cr.applies_to) = 0
            OR COALESCE(jsonb_exists(CAST(cr.applies_to AS jsonb), {trust_type}), false)
        ELSE true
    END
)"""

_SAVE_SQL = """
WITH caller AS (
    SELECT u.id AS user_id, u.email, u.totp_enabled_at, t.second_factor_at,
           u.platform_role IS NOT NULL OR EXISTS (
               SELECT 1 FROM membership m
               WHERE m.user_id = u.id
                 AND (SELECT o.require_two_factor FROM organisation o WHERE o.id = m.organisation_id)
           ) AS needs_second_factor
    FROM api_token t JOIN user_account u ON u.id = t.user_id
    WHERE t.token_hash = :token_hash AND t.expires_at > :now AND u.is_active
),
target AS MATERIALIZED (
    SELECT a.id, a.organisation_id, a.framework_id, a.status, m.role, m.board_role, o.trust_type,
           c.closed_at IS NOT NULL OR :today > c.closes_on AS year_closed,
           a.rating_closed_at IS NOT NULL OR a.status = 'submitted'
               OR COALESCE(:uk_today > a.rating_deadline, false) AS rating_closed
    FROM caller
    JOIN membership m ON m.user_id = caller.user_id
    JOIN assessment a ON a.organisation_id = m.organisation_id
    JOIN organisation o ON o.id = a.organisation_id
    JOIN cycle c ON c.id = a.cycle_id
    WHERE a.id = :assessment_id
    FOR SHARE OF a
),
allowed AS (
    SELECT caller.user_id, caller.email, target.organisation_id, target.framework_id,
           target.board_role, target.trust_type
    FROM caller, target
    WHERE CASE WHEN caller.totp_enabled_at IS NULL THEN NOT caller.needs_second_factor
               ELSE COALESCE(caller.second_factor_at >= caller.totp_enabled_at, false) END
      AND target.role IN (__RATING_ROLES__)
      AND target.status = 'in_progress' AND NOT target.year_closed AND NOT target.rating_closed
),
criterion_asked AS (
    SELECT cr.id, __MEMBERS_RATE_TARGET__ AS members_rate, cr.kind = 'fact' AS is_fact
    FROM criterion cr JOIN target ON cr.framework_id = target.framework_id
    WHERE cr.key = :criterion_key
),
current AS (
    SELECT r.level, r.comment, r.version
    FROM rating r, caller
    WHERE r.assessment_id = :assessment_id AND r.respondent_id = caller.user_id
      AND r.criterion_id = (SELECT id FROM criterion_asked)
),
changed AS (
    UPDATE rating r
    SET level = :level, comment = :comment, version = r.version + 1, updated_at = :now
    FROM allowed
    WHERE :version > 0 AND r.assessment_id = :assessment_id AND r.respondent_id = allowed.user_id
      AND r.criterion_id = (SELECT id FROM criterion_asked) AND r.version = :version
      AND (SELECT members_rate FROM criterion_asked)
    RETURNING r.id, r.criterion_id, r.level, r.comment, r.version, r.updated_at, false AS first_answer
),
answered AS (
    INSERT INTO rating (assessment_id, respondent_id, criterion_id, level, comment, version, updated_at)
    SELECT :assessment_id, allowed.user_id, criterion_asked.id, :level, :comment, 1, :now
    FROM allowed, criterion_asked
    WHERE :version = 0 AND criterion_asked.members_rate
    ON CONFLICT (assessment_id, respondent_id, criterion_id) DO NOTHING
    RETURNING id, criterion_id, level, comment, version, updated_at, true AS first_answer
),
saved AS (
    SELECT * FROM changed UNION ALL SELECT * FROM answered
),
member_response AS (
    INSERT INTO response (assessment_id, respondent_id, board_role, version)
    SELECT :assessment_id, allowed.user_id, allowed.board_role, 1
    FROM allowed
    WHERE EXISTS (SELECT 1 FROM answered)
    ON CONFLICT (assessment_id, respondent_id) DO NOTHING
),
finished AS (
    UPDATE response SET completed_at = :now
    FROM allowed
    WHERE response.assessment_id = :assessment_id AND response.respondent_id = allowed.user_id
      AND response.completed_at IS NULL AND response.headline_score IS NOT NULL
      AND EXISTS (SELECT 1 FROM answered)
      AND NOT EXISTS (
          SELECT 1 FROM criterion cr
          WHERE cr.framework_id = allowed.framework_id AND __MEMBERS_RATE_ALLOWED__
            AND cr.id NOT IN (SELECT criterion_id FROM answered)
            AND NOT EXISTS (
                SELECT 1 FROM rating r
                WHERE r.assessment_id = :assessment_id AND r.respondent_id = allowed.user_id
                  AND r.criterion_id = cr.id
            )
      )
),
audited AS (
    INSERT INTO audit_event (occurred_at, action, actor_id, actor_email, organisation_id,
                             object_type, object_id, summary, details, client_ip)
    SELECT :now, :action, allowed.user_id, allowed.email, allowed.organisation_id,
           'assessment', :assessment_id, :summary, CAST('{}' AS json), NULL
    FROM allowed
    WHERE EXISTS (SELECT 1 FROM saved)
)
SELECT caller.user_id, caller.totp_enabled_at, caller.second_factor_at, caller.needs_second_factor,
       target.id AS assessment_id, target.role, target.status, target.year_closed, target.rating_closed,
       criterion_asked.id AS criterion_id, criterion_asked.members_rate, criterion_asked.is_fact,
       saved.id AS rating_id, saved.level, saved.comment, saved.version, saved.updated_at,
       current.level AS current_level, current.comment AS current_comment,
       current.version AS current_version
FROM (SELECT 1) AS one
LEFT JOIN caller ON true
LEFT JOIN target ON true
LEFT JOIN criterion_asked ON true
LEFT JOIN saved ON true
LEFT JOIN current ON true
"""


def _save_statement(rating_roles: frozenset[str]) -> TextClause:
    assert all(role.isidentifier() for role in rating_roles), rating_roles  # written into the SQL
    sql = (
        _SAVE_SQL.replace("__RATING_ROLES__", ", ".join(f"'{role}'" for role in sorted(rating_roles)))
        .replace("__MEMBERS_RATE_TARGET__", _MEMBERS_RATE.format(trust_type="target.trust_type"))
        .replace("__MEMBERS_RATE_ALLOWED__", _MEMBERS_RATE.format(trust_type="allowed.trust_type"))
    )
    return text(sql).bindparams(bindparam("now", type_=UTCDateTime))


# Built once per set of roles (one in practice): autosave runs it on nearly every save.
_STATEMENTS: dict[frozenset[str], TextClause] = {}


@dataclass(frozen=True)
class SaveFacts:
    """The statement's one row: who asked, what they may do, and what was saved (if anything)."""

    user_id: int | None
    totp_enabled_at: datetime | None
    second_factor_at: datetime | None
    needs_second_factor: bool | None
    assessment_id: int | None  # None: no such assessment among the caller's boards
    role: str | None
    status: str | None
    year_closed: bool | None
    rating_closed: bool | None
    criterion_id: int | None
    members_rate: bool | None
    is_fact: bool | None
    rating_id: int | None
    level: int | None
    comment: str | None
    version: int | None
    updated_at: datetime | None
    current_level: int | None
    current_comment: str | None
    current_version: int | None

    def saved_rating(self, session: Session, criterion_key: str, version: int) -> Rating | None:
        """The rating saved; or the error the usual path raises after the access check (409, 422);
        or None when the year has closed, which the usual path decides (see the module's docstring).
        Called once the caller has been let in (permissions.OneStatementSave)."""
        assert self.user_id is not None and self.assessment_id is not None
        if self.rating_id is not None:
            assert self.version is not None and self.updated_at is not None
            return Rating(
                id=self.rating_id,
                assessment_id=self.assessment_id,
                respondent_id=self.user_id,
                criterion_id=self.criterion_id,
                level=self.level,
                comment=self.comment or "",
                version=self.version,
                updated_at=self.updated_at.astimezone(UTC),
            )
        # In save_rating's order: signed off, the year, rating closed, the key, the version.
        if self.status != "in_progress":
            raise signed_off(self.status or "")
        if self.year_closed:
            return None
        if self.rating_closed:
            raise rating_has_closed()
        # Nothing matched: an unknown key or one this trust's members do not rate (422, as
        # criterion_for decides), a stale version or a first answer given twice (409).
        if self.is_fact:
            raise fact_item_refusal(criterion_key)
        if self.criterion_id is None or not self.members_rate:
            raise not_a_criterion(criterion_key)
        current = self._current(session, version)
        raise answer_changed(current) if version != 0 else answered_elsewhere(current)

    def _current(self, session: Session, version: int) -> Rating | None:
        """The member's rating as the statement saw it, for the 409's current value. Read again if
        it may have changed while the statement waited for another save of the same answer (its
        snapshot is from before that save committed): none yet, or the very version sent."""
        assert self.criterion_id is not None and self.assessment_id is not None and self.user_id is not None
        if self.current_version is None or self.current_version == version:
            return my_rating(session, self.assessment_id, self.user_id, self.criterion_id)
        return Rating(
            level=self.current_level, comment=self.current_comment or "", version=self.current_version
        )


def save_in_one_statement(
    session: Session,
    *,
    token_hash: str,
    assessment_id: int,
    criterion_key: str,
    level: int | None,
    comment: str,
    version: int,
    rating_roles: frozenset[str],
) -> SaveFacts:
    """Run the one statement (PostgreSQL only) and return its row. `rating_roles`: the roles the
    route's gate lets save (RATER_ROLES)."""
    statement = _STATEMENTS.get(rating_roles)
    if statement is None:
        statement = _STATEMENTS[rating_roles] = _save_statement(rating_roles)
    now = utcnow()
    today: date = now.date()
    row = session.execute(
        statement,
        {
            "token_hash": token_hash,
            "now": now,
            "today": today,
            "uk_today": uk_today(now),
            "assessment_id": assessment_id,
            "criterion_key": criterion_key,
            "level": level,
            "comment": comment,
            "version": version,
            "action": RATING_CHANGED,
            "summary": RATING_CHANGED_SUMMARY,
        },
    ).one()
    return SaveFacts(**row._asdict())
