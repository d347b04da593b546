"""The questionnaire framework as data: the pydantic shape every `assessments/*.yaml` file must have."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.organisations.types import TRUST_TYPES

KEY_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
LEVELS = (0, 1, 2, 3, 4)

# Headline figures of the 2022 survey that the sector view recomputes from tagged criteria.
Indicator = Literal["embedded_in_business", "race_equality_in_baf", "board_diversity"]


# What a version 2 criterion is: a `fact` rests on records the chair or secretary hold (appraisal
# objectives, training records, minutes, the BAF) and is answered once for the board; a `perception`
# is rated by every member.
CriterionKind = Literal["fact", "perception"]
FACT = "fact"

# The closed vocabulary of `maps_to`: the national standards a criterion relates to, so results,
# exports and the board report can show the related indicators beside a score.
MAPPING_TAGS: dict[str, str] = {
    "eds-3a": "EDS 2022 outcome 3A: board members and senior leaders show understanding of and "
    "commitment to equality and health inequalities",
    "eds-3b": "EDS 2022 outcome 3B: board and committee papers identify equality impacts and risks "
    "and how they will be reduced",
    "eds-3c": "EDS 2022 outcome 3C: board members and senior leaders make sure levers are in place "
    "to manage performance and monitor progress with staff and patients",
    "hia-1": "EDI improvement plan high impact action 1: measurable EDI objectives for the chair, "
    "chief executive and every board member",
    "hia-2": "EDI improvement plan high impact action 2: fair and inclusive recruitment and talent "
    "management",
    "hia-3": "EDI improvement plan high impact action 3: an improvement plan to remove pay gaps",
    "hia-4": "EDI improvement plan high impact action 4: an improvement plan on health "
    "inequalities within the workforce",
    "hia-5": "EDI improvement plan high impact action 5: induction, onboarding and development "
    "for internationally recruited staff",
    "hia-6": "EDI improvement plan high impact action 6: end the conditions for bullying, "
    "discrimination, harassment and violence at work",
    "wres-1": "WRES indicator 1: staff in each pay band, White and BME",
    "wres-2": "WRES indicator 2: relative likelihood of White applicants being appointed from "
    "shortlisting compared with BME applicants",
    "wres-3": "WRES indicator 3: relative likelihood of BME staff entering the formal "
    "disciplinary process compared with White staff",
    "wres-4": "WRES indicator 4: relative likelihood of White staff accessing non-mandatory "
    "training compared with BME staff",
    "wres-5": "WRES indicator 5: staff experiencing harassment, bullying or abuse from patients, "
    "relatives or the public",
    "wres-6": "WRES indicator 6: staff experiencing harassment, bullying or abuse from staff",
    "wres-7": "WRES indicator 7: staff believing the trust gives equal opportunities for career "
    "progression or promotion",
    "wres-8": "WRES indicator 8: staff personally experiencing discrimination from a manager, "
    "team leader or colleague",
    "wres-9": "WRES indicator 9: BME share of the voting board minus BME share of the workforce",
    "cqc-shared-direction-and-culture": "CQC well-led: shared direction and culture",
    "cqc-capable-compassionate-inclusive-leaders": "CQC well-led: capable, compassionate and "
    "inclusive leaders",
    "cqc-freedom-to-speak-up": "CQC well-led: freedom to speak up",
    "cqc-workforce-edi": "CQC well-led: workforce equality, diversity and inclusion",
    "cqc-governance-management-sustainability": "CQC well-led: governance, management and sustainability",
    "cqc-partnerships-and-communities": "CQC well-led: partnerships and communities",
    "cqc-learning-improvement-innovation": "CQC well-led: learning, improvement and innovation",
    "cqc-environmental-sustainability": "CQC well-led: environmental sustainability",
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _absent(value: object) -> bool:
    return value is None


# Fields added in version 2 of the file format are left out of the stored document when not given, so
# a version 1 file keeps the very definition (and content hash) it was loaded with.
V2_ONLY = {"default": None, "exclude_if": _absent}


class LevelName(_Strict):
    level: int = Field(ge=0, le=4)
    name: str = Field(min_length=1)
    meaning: str = Field(min_length=1)


class Resource(_Strict):
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    url: str | None = None


class Criterion(_Strict):
    key: str = Field(pattern=KEY_PATTERN, max_length=64)
    statement: str = Field(min_length=1)
    guidance: str = Field(min_length=1)
    descriptors: dict[int, str]
    evidence_prompts: list[str] = Field(min_length=1)
    suggested_actions: list[str] = Field(min_length=1)
    # Empty means every trust type; otherwise only these fine trust types answer it (PCREF, say).
    applies_to: list[str] = Field(default_factory=list)
    # Keys in an earlier framework version that this criterion continues, so trends hold. In a
    # framework that names its `previous` version, an empty list means a new criterion.
    replaces: list[str] = Field(default_factory=list)
    indicator: Indicator | None = None
    # Version 2: fact (answered once for the board, with evidence) or perception (every member).
    kind: CriterionKind | None = Field(**V2_ONLY)
    # Version 2: the national standards this criterion relates to (MAPPING_TAGS).
    maps_to: list[str] | None = Field(**V2_ONLY)

    @field_validator("descriptors")
    @classmethod
    def _all_five_levels(cls, descriptors: dict[int, str]) -> dict[int, str]:
        out_of_range = sorted(level for level in descriptors if level not in LEVELS)
        if out_of_range:
            raise ValueError(f"level {out_of_range[0]} is out of range: levels run from 0 to 4")
        missing = [level for level in LEVELS if level not in descriptors]
        if missing:
            raise ValueError("missing a descriptor for level " + ", ".join(str(level) for level in missing))
        empty = [level for level, text in descriptors.items() if not text or not text.strip()]
        if empty:
            raise ValueError(f"the descriptor for level {empty[0]} is empty")
        return {level: descriptors[level].strip() for level in LEVELS}

    @field_validator("applies_to")
    @classmethod
    def _known_trust_types(cls, applies_to: list[str]) -> list[str]:
        unknown = [t for t in applies_to if t not in TRUST_TYPES]
        if unknown:
            raise ValueError(f"unknown trust type {unknown[0]!r}; expected one of {', '.join(TRUST_TYPES)}")
        return applies_to

    @field_validator("maps_to")
    @classmethod
    def _known_tags(cls, maps_to: list[str] | None) -> list[str] | None:
        if maps_to is None:
            return None
        unknown = [tag for tag in maps_to if tag not in MAPPING_TAGS]
        if unknown:
            raise ValueError(
                f"unknown tag {unknown[0]!r}; expected EDS 2022 outcomes eds-3a to eds-3c, high impact "
                "actions hia-1 to hia-6, WRES indicators wres-1 to wres-9 or a CQC well-led quality "
                "statement (cqc-...)"
            )
        if len(set(maps_to)) != len(maps_to):
            raise ValueError("a tag is listed twice")
        return maps_to

    @field_validator("replaces")
    @classmethod
    def _no_repeats(cls, replaces: list[str]) -> list[str]:
        if len(set(replaces)) != len(replaces):
            raise ValueError("a key is listed twice")
        return replaces

    @property
    def member_rated(self) -> bool:
        """Every member rates it (a perception item, or any version 1 criterion)."""
        return self.kind != FACT


class EmbeddedRule(_Strict):
    """The generic rule for level 4, stated once for the whole framework."""

    # Level 3 must have held for this many yearly cycles in a row, this one included.
    sustained_cycles: int = Field(ge=2, le=5)
    text: str = Field(min_length=1)


class OptionalFlag(_Strict):
    """A yes-or-no a board may record beside a rating; it never changes the level."""

    label: str = Field(min_length=1)
    hint: str = Field(min_length=1)


class HeadlineAnchors(_Strict):
    """What the two ends of the 0 to 10 headline scale mean."""

    low: str = Field(min_length=1)
    high: str = Field(min_length=1)


class Section(_Strict):
    key: str = Field(pattern=KEY_PATTERN, max_length=64)
    kind: Literal["priority", "baf"]
    number: int = Field(ge=1, le=20)
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    # Where the wording comes from: the Race 2.0 report itself, or our provisional reading.
    source: Literal["report", "provisional", "guidance"]
    # Version 2: the reading we took where the source is provisional, and what supports it.
    source_note: str | None = Field(**V2_ONLY)
    resources: list[Resource] = Field(default_factory=list)
    criteria: list[Criterion] = Field(min_length=3, max_length=5)


# The rule every version rates by; version 2 states it in its own file (rating_rule).
DEFAULT_RATING_RULE = (
    "Choose the highest level whose conditions are all met. If any part of a level is missing, choose "
    "the level below it."
)


class FrameworkDefinition(_Strict):
    key: str = Field(pattern=KEY_PATTERN, max_length=64)
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    # Version 2: the key of the framework this one follows; `replaces` may name only its criteria.
    previous: str | None = Field(**V2_ONLY, pattern=KEY_PATTERN, max_length=64)
    levels: list[LevelName] = Field(min_length=5, max_length=5)
    # Version 2: how to choose a level, shown on every rating page.
    rating_rule: str | None = Field(**V2_ONLY, min_length=1)
    # Version 2: what level 4 needs beyond each criterion's own descriptor.
    embedded_rule: EmbeddedRule | None = Field(**V2_ONLY)
    # Version 2: the optional "shared with other trusts" flag (never a condition of a level).
    sharing_flag: OptionalFlag | None = Field(**V2_ONLY)
    headline_question: str = Field(min_length=1)
    headline_anchors: HeadlineAnchors | None = Field(**V2_ONLY)
    sections: list[Section] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_keys_and_levels(self) -> FrameworkDefinition:
        if [lv.level for lv in self.levels] != list(LEVELS):
            raise ValueError("levels must list 0, 1, 2, 3 and 4 in order")
        seen_sections: set[str] = set()
        seen_criteria: set[str] = set()
        for section in self.sections:
            if section.key in seen_sections:
                raise ValueError(f"duplicate section key {section.key!r}")
            seen_sections.add(section.key)
            for criterion in section.criteria:
                if criterion.key in seen_criteria:
                    raise ValueError(f"duplicate criterion key {criterion.key!r}")
                seen_criteria.add(criterion.key)
        if not any(s.kind == "baf" for s in self.sections):
            raise ValueError("a framework needs a board assurance framework section (kind: baf)")
        if self.previous is not None:
            self._complete_successor()
        return self

    def _complete_successor(self) -> None:
        """A framework that follows another carries everything version 2 asks of it."""
        if self.previous == self.key:
            raise ValueError("previous must name another framework, not this one")
        for name in ("rating_rule", "embedded_rule", "headline_anchors"):
            if getattr(self, name) is None:
                raise ValueError(f"{name} is required in a framework that names its previous version")
        for section in self.sections:
            for criterion in section.criteria:
                if criterion.kind is None:
                    raise ValueError(f"criterion {criterion.key!r} needs a kind: fact or perception")
                if not criterion.maps_to:
                    raise ValueError(f"criterion {criterion.key!r} needs maps_to: at least one tag")
                if "replaces" not in criterion.model_fields_set:
                    raise ValueError(
                        f"criterion {criterion.key!r} needs replaces: the keys it continues, or [] if new"
                    )

    def allows_embedded(self, earlier_levels: list[int | None]) -> bool:
        """Whether level 4 can be agreed this year, given the agreed levels of earlier years (latest first).

        Version 2's rule: level 3 held for `sustained_cycles` yearly cycles in a row, this one included,
        so the years before this one must each have been agreed at 3 or 4 (found through `replaces`).
        Version 1 has no such rule.
        """
        if self.embedded_rule is None:
            return True
        needed = earlier_levels[: self.embedded_rule.sustained_cycles - 1]
        return len(needed) == self.embedded_rule.sustained_cycles - 1 and all(
            level is not None and level >= 3 for level in needed
        )

    @property
    def priorities(self) -> list[Section]:
        return [s for s in self.sections if s.kind == "priority"]

    @property
    def baf(self) -> Section:
        return next(s for s in self.sections if s.kind == "baf")

    @property
    def rule_for_rating(self) -> str:
        """How to choose a level, for every rating page: the framework's own words (version 2), or
        the same rule in plain words for a version that does not state it."""
        return self.rating_rule or DEFAULT_RATING_RULE

    def criterion(self, key: str) -> Criterion | None:
        for section in self.sections:
            for criterion in section.criteria:
                if criterion.key == key:
                    return criterion
        return None
