"""Tables of the yearly self-assessment: cycle, assessment, each member's answers, the consensus."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, LargeBinary, Text, UniqueConstraint
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from api.db import UTCDateTime, utcnow

ASSESSMENT_STATUSES = ("in_progress", "submitted")


class Cycle(SQLModel, table=True):
    """One assessment year, named like the NHS financial year (`2026/27`)."""

    __tablename__ = "cycle"
    __table_args__ = (CheckConstraint("opens_on < closes_on", name="opens_before_closes"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=7, unique=True, index=True)
    opens_on: date
    closes_on: date
    framework_id: int = Field(foreign_key="framework.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Set when a platform admin closes the year early (api/assessments/cycles.py close_cycle).
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    version: int = Field(default=1)


class Assessment(SQLModel, table=True):
    """A trust board's self-assessment for one cycle, pinned to that cycle's framework."""

    __tablename__ = "assessment"
    __table_args__ = (
        UniqueConstraint("organisation_id", "cycle_id"),
        CheckConstraint("status IN ('in_progress', 'submitted')", name="status_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    cycle_id: int = Field(foreign_key="cycle.id", index=True)
    framework_id: int = Field(foreign_key="framework.id", index=True)
    status: str = Field(default="in_progress", max_length=20, index=True)
    opened_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    opened_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    submitted_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    submitted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Members rate until the chair closes rating or the rating deadline passes (whichever comes
    # first); only then does anyone see the board's spread. Closing is final for the year.
    rating_deadline: date | None = None
    rating_closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rating_closed_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    version: int = Field(default=1)


class AssessmentRater(SQLModel, table=True):
    """Who was on the board, in a rating role, when the assessment opened: the only members whose
    ratings make up the spread. A member who leaves later stays here (removing someone never
    changes what is shown); someone who joins later may rate, but is counted apart."""

    __tablename__ = "assessment_rater"
    __table_args__ = (UniqueConstraint("assessment_id", "user_id"),)

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    user_id: int = Field(foreign_key="user_account.id", index=True)


class MemberResponse(SQLModel, table=True):
    """One member's part in an assessment: their board role then, the 0–10 headline answer."""

    __tablename__ = "response"
    __table_args__ = (
        UniqueConstraint("assessment_id", "respondent_id"),
        CheckConstraint(
            "headline_score IS NULL OR (headline_score >= 0 AND headline_score <= 10)",
            name="headline_score_range",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    respondent_id: int = Field(foreign_key="user_account.id", index=True)
    # Snapshot of the member's board role when they answered, for the role view.
    board_role: str = Field(max_length=20)
    headline_score: int | None = None
    completed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = Field(default=1)


class Rating(SQLModel, table=True):
    """One member's rating of one criterion. A null level means "not yet known"."""

    __tablename__ = "rating"
    __table_args__ = (
        UniqueConstraint("assessment_id", "respondent_id", "criterion_id"),
        CheckConstraint("level IS NULL OR (level >= 0 AND level <= 4)", name="level_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    respondent_id: int = Field(foreign_key="user_account.id", index=True)
    criterion_id: int = Field(foreign_key="criterion.id", index=True)
    level: int | None = None
    comment: str = Field(default="", sa_type=Text)
    version: int = Field(default=1)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ConsensusRating(SQLModel, table=True):
    """The board's agreed level for one criterion, with rationale and evidence. For a fact item
    (framework version 2) it is the board's answer from its records, given once by the chair or the
    board secretary: members do not rate a fact item, so there is no spread behind it."""

    __tablename__ = "consensus_rating"
    __table_args__ = (
        UniqueConstraint("assessment_id", "criterion_id"),
        CheckConstraint("level IS NULL OR (level >= 0 AND level <= 4)", name="level_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    assessment_id: int = Field(foreign_key="assessment.id", index=True, ondelete="CASCADE")
    criterion_id: int = Field(foreign_key="criterion.id", index=True)
    # Null while the board has written a rationale or added evidence but not agreed a level.
    level: int | None = None
    rationale: str = Field(default="", sa_type=Text)
    # Framework version 2's optional flag: the trust has shared this practice with other trusts.
    # Recorded beside the level, never a condition of it (false where the framework has no flag).
    shared: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    version: int = Field(default=1)
    updated_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Evidence(SQLModel, table=True):
    """A link or an uploaded file supporting a consensus rating."""

    __tablename__ = "evidence"
    __table_args__ = (CheckConstraint("kind IN ('link', 'file')", name="kind_known"),)

    id: int | None = Field(default=None, primary_key=True)
    consensus_rating_id: int = Field(foreign_key="consensus_rating.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=10)
    title: str = Field(max_length=200)
    url: str | None = Field(default=None, max_length=2000)
    # An uploaded file's generated name (its bytes are in evidence_file_content); the original name
    # is shown. A copy carried forward to next year keeps the name, so it is not copied twice.
    stored_name: str | None = Field(default=None, max_length=80)
    content_type: str | None = Field(default=None, max_length=120)
    size_bytes: int | None = None
    sha256: str | None = Field(default=None, max_length=64)
    added_by_id: int | None = Field(default=None, foreign_key="user_account.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The year this item was carried forward from (last year's evidence copied to this year's).
    carried_from_cycle_id: int | None = Field(default=None, foreign_key="cycle.id")


class EvidenceFileContent(SQLModel, table=True):
    """The bytes of an uploaded evidence file, written in the same transaction as its evidence row
    and never changed after: every instance serves the same file, and a backup holds it."""

    __tablename__ = "evidence_file_content"

    evidence_id: int = Field(foreign_key="evidence.id", primary_key=True, ondelete="CASCADE")
    data: bytes = Field(sa_type=LargeBinary)
