"""The questionnaire framework as data: the pydantic shape every `assessments/*.yaml` file must have."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from api.organisations.types import TRUST_TYPES

KEY_PATTERN = r"^[a-z0-9]+(?:[-_][a-z0-9]+)*$"
LEVELS = (0, 1, 2, 3, 4)

# Headline figures of the 2022 survey that the sector view recomputes from tagged criteria.
Indicator = Literal["embedded_in_business", "race_equality_in_baf", "board_diversity"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


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
    # Keys in an earlier framework version that this criterion continues, so trends hold.
    replaces: list[str] = Field(default_factory=list)
    indicator: Indicator | None = None

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


class Section(_Strict):
    key: str = Field(pattern=KEY_PATTERN, max_length=64)
    kind: Literal["priority", "baf"]
    number: int = Field(ge=1, le=20)
    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    # Where the wording comes from: the Race 2.0 report itself, or our provisional reading.
    source: Literal["report", "provisional", "guidance"]
    resources: list[Resource] = Field(default_factory=list)
    criteria: list[Criterion] = Field(min_length=3, max_length=5)


class FrameworkDefinition(_Strict):
    key: str = Field(pattern=KEY_PATTERN, max_length=64)
    version: int = Field(ge=1)
    title: str = Field(min_length=1)
    description: str = Field(min_length=1)
    levels: list[LevelName] = Field(min_length=5, max_length=5)
    headline_question: str = Field(min_length=1)
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
        return self

    @property
    def priorities(self) -> list[Section]:
        return [s for s in self.sections if s.kind == "priority"]

    @property
    def baf(self) -> Section:
        return next(s for s in self.sections if s.kind == "baf")

    def criterion(self, key: str) -> Criterion | None:
        for section in self.sections:
            for criterion in section.criteria:
                if criterion.key == key:
                    return criterion
        return None
