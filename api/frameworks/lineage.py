"""How criteria carry across framework versions: the `replaces` mapping both ways, and the diff.

A version 2 criterion names the version 1 criteria it continues (`replaces`); an empty list means it
is new. Trends, the year-on-year view, last year's rationale at consensus and the action plan's links
all follow this mapping, so a board that assessed on version 1 last year sees its next year without
a break. A criterion that replaces several takes the first of them that has an answer, in the order
listed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from sqlmodel import Session, select

from api.frameworks.loader import FrameworkFileError, load_framework_file
from api.frameworks.models import FrameworkRecord
from api.frameworks.schema import Criterion as CriterionDoc
from api.frameworks.schema import FrameworkDefinition as FrameworkDoc
from api.frameworks.schema import Section as SectionDoc
from api.frameworks.service import framework_document

T = TypeVar("T")


def lookup_keys(doc: FrameworkDoc, key: str) -> list[str]:
    """The keys to look for a criterion's earlier answers under: its own, then those it replaces."""
    criterion = doc.criterion(key)
    return [key, *(k for k in (criterion.replaces if criterion else []) if k != key)]


def successor_keys(doc: FrameworkDoc) -> dict[str, str]:
    """Earlier criterion key → the key in `doc` that continues it (itself where the key is kept)."""
    mapping: dict[str, str] = {}
    for section in doc.sections:
        for criterion in section.criteria:
            mapping[criterion.key] = criterion.key
    for section in doc.sections:
        for criterion in section.criteria:
            for old in criterion.replaces:
                mapping.setdefault(old, criterion.key)
    return mapping


def carry_forward(doc: FrameworkDoc, earlier: Mapping[str, T]) -> dict[str, T]:
    """Values keyed by an earlier version's criteria (levels, rationales), re-keyed to `doc`'s criteria.

    Each criterion takes its own key's value if there is one, else the first criterion it replaces
    that has a value. Criteria that are new, or whose predecessors have no value, are left out.
    """
    carried: dict[str, T] = {}
    for section in doc.sections:
        for criterion in section.criteria:
            for key in lookup_keys(doc, criterion.key):
                if key in earlier:
                    carried[criterion.key] = earlier[key]
                    break
    return carried


@dataclass(frozen=True)
class VersionMap:
    """The mapping between two versions, both ways: `current` names `earlier`'s keys in `replaces`."""

    current: FrameworkDoc
    earlier: FrameworkDoc
    _successors: dict[str, tuple[str, ...]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        successors: dict[str, list[str]] = {}
        for criterion in _criteria(self.current):
            for old in criterion.replaces:
                successors.setdefault(old, []).append(criterion.key)
        object.__setattr__(self, "_successors", {k: tuple(v) for k, v in successors.items()})

    def predecessors(self, key: str) -> tuple[str, ...]:
        """The earlier criteria a current criterion continues (empty for a new one)."""
        criterion = self.current.criterion(key)
        if criterion is None:
            raise KeyError(f"{key!r} is not a criterion of {self.current.key}")
        return tuple(criterion.replaces)

    def successors(self, old_key: str) -> tuple[str, ...]:
        """The current criteria that continue an earlier one (empty if it was retired)."""
        if self.earlier.criterion(old_key) is None:
            raise KeyError(f"{old_key!r} is not a criterion of {self.earlier.key}")
        return self._successors.get(old_key, ())

    @property
    def new(self) -> list[str]:
        return [c.key for c in _criteria(self.current) if not c.replaces]

    @property
    def retired(self) -> list[str]:
        return [c.key for c in _criteria(self.earlier) if c.key not in self._successors]


def version_map(session: Session, current: FrameworkRecord, earlier: FrameworkRecord) -> VersionMap:
    """The mapping between two loaded frameworks."""
    return VersionMap(framework_document(current), framework_document(earlier))


def previous_framework(session: Session, framework: FrameworkRecord) -> FrameworkRecord | None:
    """The loaded framework a framework names as its previous version, if any."""
    previous_key = framework_document(framework).previous
    if previous_key is None:
        return None
    return session.exec(select(FrameworkRecord).where(FrameworkRecord.key == previous_key)).first()


def carry_between(
    session: Session, current: FrameworkRecord, earlier: FrameworkRecord, values: Mapping[str, T]
) -> dict[str, T]:
    """Values keyed by `earlier`'s criteria, re-keyed to `current`'s, through every version between.

    Used for the year-on-year view: last year's agreed levels or rationales, on whichever version
    last year used. If `earlier` is not in `current`'s line of previous versions, only keys that
    are the same in both carry.
    """
    chain = [framework_document(current)]
    while chain[-1].key != earlier.key:
        step = chain[-1].previous
        row = (
            session.exec(select(FrameworkRecord).where(FrameworkRecord.key == step)).first() if step else None
        )
        if row is None or any(doc.key == row.key for doc in chain):
            doc = framework_document(current)
            return {c.key: values[c.key] for c in _criteria(doc) if c.key in values}
        chain.append(framework_document(row))
    carried: Mapping[str, T] = values
    for doc in reversed(chain[:-1]):
        carried = carry_forward(doc, carried)
    return dict(carried)


def _criteria(doc: FrameworkDoc) -> list[CriterionDoc]:
    return [c for s in doc.sections for c in s.criteria]


# --- The release note: what changed, criterion by criterion -------------------------------------------


_PARTS = (
    ("statement", "statement"),
    ("guidance", "guidance"),
    ("evidence_prompts", "evidence prompts"),
    ("suggested_actions", "suggested actions"),
    ("applies_to", "trust types it applies to"),
    ("indicator", "sector indicator"),
)


@dataclass
class CriterionChange:
    key: str
    section: SectionDoc
    status: str  # new | carried | unchanged
    replaces: list[str]
    changes: list[str]
    old_statement: str | None = None
    new_statement: str | None = None


@dataclass
class FrameworkDiff:
    earlier: FrameworkDoc
    current: FrameworkDoc
    framework_changes: list[str]
    criteria: list[CriterionChange]
    retired: list[tuple[SectionDoc, CriterionDoc]]

    def counts(self) -> dict[str, int]:
        kinds = [c.kind for c in _criteria(self.current)]
        return {
            "criteria": len(self.criteria),
            "new": sum(c.status == "new" for c in self.criteria),
            "carried": sum(c.status != "new" for c in self.criteria),
            "changed": sum(c.status == "carried" for c in self.criteria),
            "unchanged": sum(c.status == "unchanged" for c in self.criteria),
            "retired": len(self.retired),
            "fact": kinds.count("fact"),
            "perception": kinds.count("perception"),
        }


def _section_of(doc: FrameworkDoc, key: str) -> SectionDoc:
    return next(s for s in doc.sections if any(c.key == key for c in s.criteria))


def _criterion_changes(
    old: CriterionDoc, new: CriterionDoc, old_section: SectionDoc, new_section: SectionDoc
) -> list[str]:
    changes = []
    if old.key != new.key:
        changes.append(f"key {old.key} is now {new.key}")
    if old_section.key != new_section.key:
        changes.append(f"moved from priority {old_section.number} ({old_section.title})")
    for name, label in _PARTS:
        if getattr(old, name) != getattr(new, name):
            changes.append(f"{label} changed")
    levels = [str(level) for level in range(5) if old.descriptors.get(level) != new.descriptors.get(level)]
    if levels:
        changes.append(("level " if len(levels) == 1 else "levels ") + ", ".join(levels) + " reworded")
    if new.kind == "fact" and old.kind != "fact":
        changes.append("now a fact item")
    return changes


def diff_frameworks(earlier: FrameworkDoc, current: FrameworkDoc) -> FrameworkDiff:
    framework_changes: list[str] = []
    if earlier.headline_question != current.headline_question:
        framework_changes.append(f'headline question is now "{current.headline_question}"')
    for old_level, new_level in zip(earlier.levels, current.levels, strict=True):
        if (old_level.name, old_level.meaning) != (new_level.name, new_level.meaning):
            framework_changes.append(
                f'level {new_level.level} ({new_level.name}) now means "{new_level.meaning}"'
            )
    if current.rating_rule and current.rating_rule != earlier.rating_rule:
        framework_changes.append(f'rating rule: "{current.rating_rule}"')
    if current.embedded_rule and current.embedded_rule != earlier.embedded_rule:
        framework_changes.append(f'level 4 rule: "{current.embedded_rule.text}"')
    if current.sharing_flag and current.sharing_flag != earlier.sharing_flag:
        framework_changes.append(f'optional flag, not part of any level: "{current.sharing_flag.label}"')
    old_kinds = {c.kind for c in _criteria(earlier)}
    new_kinds = {c.kind for c in _criteria(current)}
    if old_kinds == {None} and new_kinds != {None}:
        framework_changes.append(
            "every statement is now a fact item (answered once for the board by the chair or secretary, "
            "with evidence) or a perception item (rated by every member)"
        )
    if not any(c.maps_to for c in _criteria(earlier)) and any(c.maps_to for c in _criteria(current)):
        framework_changes.append(
            "every statement names the national standards it relates to (EDS 2022, the EDI improvement "
            "plan's high impact actions, WRES indicators, CQC well-led)"
        )
    old_sections = {s.key: s for s in earlier.sections}
    for section in current.sections:
        before = old_sections.get(section.key)
        if before is None:
            framework_changes.append(f"new section {section.number}: {section.title}")
            continue
        parts = [
            name.replace("_", " ")
            for name in ("title", "summary", "source", "source_note", "resources")
            if getattr(before, name) != getattr(section, name)
        ]
        if parts:
            framework_changes.append(
                f"section {section.number} ({section.title}): {', '.join(parts)} changed"
            )
    for key, before in old_sections.items():
        if key not in {s.key for s in current.sections}:
            framework_changes.append(f"section {before.number} ({before.title}) retired")

    changes: list[CriterionChange] = []
    for section in current.sections:
        for criterion in section.criteria:
            if not criterion.replaces:
                changes.append(
                    CriterionChange(criterion.key, section, "new", [], [], new_statement=criterion.statement)
                )
                continue
            parts: list[str] = []
            old_statement = None
            for old_key in criterion.replaces:
                old = earlier.criterion(old_key)
                if old is None:  # the loader refuses this; a hand-built document may not
                    parts.append(f"replaces {old_key}, which {earlier.key} does not have")
                    continue
                parts.extend(_criterion_changes(old, criterion, _section_of(earlier, old_key), section))
                old_statement = old_statement or old.statement
            if len(criterion.replaces) > 1:
                parts.insert(0, "merges " + ", ".join(criterion.replaces))
            status = "carried" if parts else "unchanged"
            reworded = old_statement is not None and old_statement != criterion.statement
            changes.append(
                CriterionChange(
                    criterion.key,
                    section,
                    status,
                    list(criterion.replaces),
                    parts,
                    old_statement=old_statement if reworded else None,
                    new_statement=criterion.statement if reworded else None,
                )
            )
    carried = {old for c in _criteria(current) for old in c.replaces}
    retired = [(s, c) for s in earlier.sections for c in s.criteria if c.key not in carried]
    return FrameworkDiff(earlier, current, framework_changes, changes, retired)


def render_diff(diff: FrameworkDiff) -> str:
    """The diff as plain text for the release note to boards."""
    earlier, current = diff.earlier, diff.current
    lines = [
        f"What changed from {earlier.key} (version {earlier.version}) to {current.key} (version {current.version})",
        "",
        "The whole framework",
    ]
    lines += [f"  - {change}" for change in diff.framework_changes] or ["  - no change"]
    section_key = None
    for change in diff.criteria:
        if change.section.key != section_key:
            section_key = change.section.key
            lines += ["", f"{change.section.number}. {change.section.title}"]
        criterion = current.criterion(change.key)
        kind = f" [{criterion.kind}]" if criterion and criterion.kind else ""
        if change.status == "new":
            lines.append(f"  NEW {change.key}{kind}: {change.new_statement}")
            continue
        replaced = [k for k in change.replaces if k != change.key]
        head = f"  {change.key}{kind}" + (f" (replaces {', '.join(replaced)})" if replaced else "")
        if change.status == "unchanged":
            lines.append(f"{head}: unchanged")
            continue
        lines.append(f"{head}: " + "; ".join(change.changes))
        if change.old_statement and change.new_statement:
            lines.append(f"      was: {change.old_statement}")
            lines.append(f"      now: {change.new_statement}")
    lines += ["", f"Retired from {earlier.key} (no successor)"]
    lines += [f"  RETIRED {c.key} (section {s.number}): {c.statement}" for s, c in diff.retired] or ["  none"]
    n = diff.counts()
    lines += [
        "",
        f"In all: {n['criteria']} criteria, {n['new']} new and {n['carried']} carried over "
        f"({n['changed']} changed, {n['unchanged']} unchanged); {n['retired']} retired.",
    ]
    if n["fact"] or n["perception"]:
        lines.append(
            f"{n['fact']} fact items (answered once for the board) and {n['perception']} perception items "
            "(rated by every member)."
        )
    return "\n".join(lines) + "\n"


def resolve_framework_file(name: str, directory: Path) -> Path:
    """A framework named on the command line: a file, a key, or `v2` for the file of version 2."""
    as_path = Path(name)
    if as_path.suffix in {".yaml", ".yml"} or as_path.is_file():
        return as_path
    files = sorted(directory.glob("*.yaml"))
    by_key = directory / f"{name}.yaml"
    if by_key.is_file():
        return by_key
    if name[:1] in {"v", "V"} and name[1:].isdigit():
        version = int(name[1:])
        matches = [p for p in files if p.stem.endswith(f"-v{version}")]
        if len(matches) == 1:
            return matches[0]
    raise FrameworkFileError(name, [f"no framework file for {name!r} in {directory}"])


def diff_files(earlier: Path, current: Path) -> str:
    return render_diff(diff_frameworks(load_framework_file(earlier), load_framework_file(current)))
