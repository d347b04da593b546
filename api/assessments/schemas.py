"""Request and response models of the assessment API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.forms import FileUpload
from api.integers import MAX_INTEGER

MAX_COMMENT = 2000
Comment = Annotated[str, StringConstraints(max_length=MAX_COMMENT)]
LongText = Annotated[str, StringConstraints(max_length=5000)]


class AssessmentCreate(BaseModel):
    # The page sends the open cycle's name from a hidden field: only a changed form misses the pattern
    # (a cycle by a right-looking name that does not exist is refused by the service, naming it).
    form_messages: ClassVar[dict[str, str]] = {"cycle": "There is no such assessment cycle"}
    model_config = ConfigDict(extra="forbid")
    cycle: Annotated[str, StringConstraints(pattern=r"^\d{4}/\d{2}$")] = Field(
        description="The financial year, like 2026/27"
    )


# What a member reads when a rating is refused (the section page and its autosave; api/forms.py).
RATING_FORM_MESSAGES = {
    "level:missing": "Choose a level, or not yet known, to save your comment",
    "level": "Choose a level from 0 to 4, or not yet known",
    "comment:string_too_long": f"Comment must be {MAX_COMMENT} characters or fewer",
    "version": "Reload the page and try again",
}


class RatingUpdate(BaseModel):
    form_messages: ClassVar[dict[str, str]] = RATING_FORM_MESSAGES
    # Strict: a JSON true or "3" is a wrong type, not level 1 or 3.
    model_config = ConfigDict(extra="forbid", strict=True)
    level: int | None = Field(ge=0, le=4, description="0 to 4, or null for not yet known")
    comment: Comment = ""
    version: int = Field(ge=0, le=MAX_INTEGER, description="The version you last saw: 0 for a first answer")


class SectionAnswer(BaseModel):
    """One statement's answer on the section page without JavaScript: a level ("unknown" for not
    yet known), or nothing (`level` None) when it was left unanswered."""

    level: Literal["0", "1", "2", "3", "4", "unknown"] | None = None
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=MAX_COMMENT)] = ""
    version: int = Field(0, ge=0, le=MAX_INTEGER)

    @property
    def level_value(self) -> int | None:
        """The level as stored: None for not yet known."""
        return None if self.level in (None, "unknown") else int(self.level)

    def as_update(self) -> RatingUpdate:
        """The same answer as the one statement's command (already validated, by this model's rules)."""
        return RatingUpdate.model_construct(
            level=self.level_value, comment=self.comment, version=self.version
        )


class SectionRatings(BaseModel):
    """Every answer of one section, saved at once from the page without JavaScript (the page with
    JavaScript saves each as it changes, as RatingUpdate). `action`: "overview" goes back to the list."""

    form_messages: ClassVar[dict[str, str]] = RATING_FORM_MESSAGES
    answers: dict[str, SectionAnswer] = Field(default_factory=dict)
    action: str = ""


class RatingPublic(BaseModel):
    criterion_key: str
    level: int | None
    comment: str
    version: int


class HeadlineUpdate(BaseModel):
    form_messages: ClassVar[dict[str, str]] = {
        "score": "Select a number from 0 to 10",
        "version": "Reload the page and try again",
    }
    # Strict: a JSON true or "3" is a wrong type, not level 1 or 3.
    model_config = ConfigDict(extra="forbid", strict=True)
    score: int = Field(ge=0, le=10, description="0 (early in the journey) to 10 (fully embedded)")
    version: int = Field(ge=0, le=MAX_INTEGER)


class HeadlinePublic(BaseModel):
    score: int | None
    version: int


class SignOffConfirmation(BaseModel):
    """The chair's confirmation, on the sign-off page, that the board has seen the points listed
    (members not finished, levels without a reason, priorities without evidence)."""

    form_messages: ClassVar[dict[str, str]] = {
        "confirmed": "Confirm that the board has seen these points and agrees to sign off",
    }

    model_config = ConfigDict(extra="forbid")
    confirmed: bool = False


class ConsensusUpdate(BaseModel):
    """The board's agreed level for one statement; for a fact item (framework version 2), the
    board's answer from its records. One record per statement: a second save is a compare-and-set
    update of it."""

    form_messages: ClassVar[dict[str, str]] = {
        "level": "Select the level the board agreed",
        "rationale": "The rationale must be 5,000 characters or fewer",
        "shared": "Tick the box if the trust has shared this practice with other trusts, or leave it empty",
        "version": "Reload the page and try again",
    }

    # Strict: a JSON true or "3" is a wrong type, not level 1 or 3.
    model_config = ConfigDict(extra="forbid", strict=True)
    level: int = Field(ge=0, le=4)
    rationale: LongText = ""
    shared: bool | None = Field(
        None,
        description="Framework version 2's optional flag: the trust has shared this practice with other "
        "trusts. Never changes the level. Null or left out keeps it as it was; true is refused (422) "
        "where the framework has no such flag",
    )
    version: int = Field(ge=0, le=MAX_INTEGER)


class EvidenceFileUpload(FileUpload):
    """The evidence upload form (the page's; the API takes the file as multipart, with no other field)."""

    form_messages: ClassVar[dict[str, str]] = {"file_name": "Select a file to upload"}


class EvidencePublic(BaseModel):
    id: int
    kind: str
    title: str
    carried_forward_from: str | None = Field(
        None, description="The year (cycle) this item was carried forward from, if it was"
    )
    url: str | None
    content_type: str | None
    size_bytes: int | None


class ConsensusPublic(BaseModel):
    criterion_key: str
    level: int | None
    rationale: str
    shared: bool = Field(False, description="Shared with other trusts (framework version 2's optional flag)")
    version: int
    evidence: list[EvidencePublic] = []


class LevelCount(BaseModel):
    level: int
    count: int


class CriterionPublic(BaseModel):
    """One statement of the assessment, and who answers it."""

    key: str
    section_key: str
    statement: str
    kind: Literal["fact", "perception"] | None = Field(
        description="Framework version 2: fact (answered once for the board from its records) or "
        "perception (rated by every member); null in version 1, where every member rates every statement"
    )
    members_rate: bool = Field(
        description="Each member rates it; false for a fact item, which the chair or the board secretary "
        "answers for the board (PUT .../consensus/{criterion_key})"
    )


class CriterionSpread(BaseModel):
    """How the board rated one criterion, with no names, times or order."""

    criterion_key: str
    kind: Literal["fact", "perception"] | None = Field(
        None, description="Framework version 2: fact or perception; null in version 1"
    )
    answered_from_records: bool = Field(
        False,
        description="A fact item: members do not rate it, so there is no spread; `consensus` is the "
        "board's answer from its records, with its evidence",
    )
    rated: int = Field(description="Members on the board when the assessment opened who have rated")
    shown: bool = Field(
        description="False while rating is open, or when fewer than 5 members other than you have "
        "rated: then only `rated` is given"
    )
    hidden_because: str | None = Field(
        default=None,
        description="`open` (rating has not closed), `too_few`, or `records` (a fact item, which members "
        "do not rate); null when shown",
    )
    late_rated: int = Field(
        default=0,
        description="Ratings by people who joined after the assessment opened: counted, never shown",
    )
    counts: list[LevelCount] | None = None
    not_yet_known: int | None = None
    median: float | None = None
    low: int | None = None
    high: int | None = None
    disagreement: bool | None = None
    comments: list[str] | None = None
    consensus: ConsensusPublic | None = None


class Progress(BaseModel):
    answered: int
    total: int
    headline_answered: bool
    finished: bool


class BoardProgress(BaseModel):
    members_finished: int
    members: int
    not_finished: list[str] | None = Field(
        default=None, description="Who has not finished rating (chair and board secretary only)"
    )


class RatingWindow(BaseModel):
    closed: bool = Field(description="Members can no longer rate; the board's spread can be shown")
    deadline: date | None = Field(description="The last day members can rate (UK time)")
    closed_at: datetime | None = Field(description="When the chair closed rating, or the board signed off")


class RatingDeadlineUpdate(BaseModel):
    """Set (or, with null, remove) the last day members can rate."""

    form_messages: ClassVar[dict[str, str]] = {
        "rating_deadline": "The rating deadline must be a real date, for example 30 6 2027",
        "rating_deadline:missing": "Enter the rating deadline",
        "version": "Reload the page and try again",
    }

    rating_deadline: date | None
    version: int = Field(ge=0, le=MAX_INTEGER, description="The assessment's version you last saw")


class CloseRating(BaseModel):
    """Close rating for the year: members' ratings lock and the spread can be shown. Final."""

    form_messages: ClassVar[dict[str, str]] = {"version": "Reload the page and try again"}

    version: int = Field(ge=0, le=MAX_INTEGER, description="The assessment's version you last saw")


class SignOffPoint(BaseModel):
    criterion_key: str
    number: str
    statement: str
    level: int | None
    # The members' median, only where the reader may see the spread.
    members_median: float | None


class SignOffSection(BaseModel):
    section_key: str
    number: int
    title: str


class SignOffChecksPublic(BaseModel):
    """What the chair should have in view before signing off (docs/scoring.md)."""

    members_not_finished: list[str]
    agreed_without_rationale: list[SignOffPoint]
    far_from_median_without_rationale: list[SignOffPoint] = Field(
        description="Levels 1.5 or more from the members' median with no rationale: these block sign-off"
    )
    sections_without_evidence: list[SignOffSection]
    answered_from_records_without_evidence: list[SignOffPoint] = Field(
        default_factory=list,
        description="Fact items (framework version 2) answered for the board from records with no evidence",
    )
    level_four_not_sustained: list[SignOffPoint] = Field(
        default_factory=list,
        description="Level 4 agreed where the framework's level-4 rule (level 3 held for two yearly cycles, "
        "framework version 2) is not shown by last year's agreed level: a warning, not a block",
    )
    blocked: bool


class AssessmentPublic(BaseModel):
    id: int
    organisation_code: str
    cycle: str
    framework_key: str
    status: str
    opened_at: datetime
    submitted_at: datetime | None
    version: int
    rating: RatingWindow
    my_progress: Progress | None
    board_progress: BoardProgress


class LinkEvidenceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    form_messages: ClassVar[dict[str, str]] = {
        "title": "Enter a title for the link",
        "title:string_too_long": "The title must be 200 characters or fewer",
        "url": "Enter a web address that starts with https:// and has no spaces, like https://www.example.org/report",
        "url:missing": "Enter the web address of the link",
    }
    title: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000, strip_whitespace=True)]


MAX_REOPEN_REASON = 1000


class ReopenRequest(BaseModel):
    form_messages: ClassVar[dict[str, str]] = {
        "reason": "Give the reason for reopening",
        "reason:string_too_long": f"The reason must be {MAX_REOPEN_REASON:,} characters or fewer",
    }
    model_config = ConfigDict(extra="forbid")
    reason: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_REOPEN_REASON, strip_whitespace=True)
    ]
