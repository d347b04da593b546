"""The framework as data: the shipped file, and every way a bad file is refused."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import Session, select

from api.frameworks.loader import FrameworkFileError, load_framework_file, parse_framework
from api.frameworks.models import Criterion, FrameworkRecord
from api.frameworks.service import sync_framework
from tests.conftest import FRAMEWORKS_DIR

SHIPPED = FRAMEWORKS_DIR / "race-equality-board-v1.yaml"


def _criterion(key: str) -> dict[str, Any]:
    return {
        "key": key,
        "statement": f"Statement for {key}",
        "guidance": "What to look at.",
        "descriptors": {level: f"Level {level} for {key}" for level in range(5)},
        "evidence_prompts": ["Board minutes"],
        "suggested_actions": ["Hold a board development session"],
    }


def minimal_framework(key: str = "test-framework-v1", version: int = 1) -> dict[str, Any]:
    def section(key_: str, kind: str, number: int) -> dict[str, Any]:
        return {
            "key": key_,
            "kind": kind,
            "number": number,
            "title": f"Section {key_}",
            "summary": "A summary.",
            "source": "report",
            "criteria": [_criterion(f"{key_}-{i}") for i in range(1, 4)],
        }

    return {
        "key": key,
        "version": version,
        "title": "Test framework",
        "description": "For tests.",
        "headline_question": "How embedded?",
        "levels": [
            {"level": n, "name": name, "meaning": "m"}
            for n, name in enumerate(["Not started", "Emerging", "Developing", "Established", "Embedded"])
        ],
        "sections": [section("one", "priority", 1), section("baf", "baf", 2)],
    }


def _errors(data: dict[str, Any] | str) -> list[str]:
    text = data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False)
    with pytest.raises(FrameworkFileError) as caught:
        parse_framework(text, "bad.yaml")
    return caught.value.errors


def test_shipped_framework_has_ten_priorities_and_a_baf_section() -> None:
    doc = load_framework_file(SHIPPED)
    assert len(doc.sections) == 11
    assert [s.kind for s in doc.sections] == ["priority"] * 10 + ["baf"]
    assert [s.number for s in doc.priorities] == list(range(1, 11))


def test_every_shipped_criterion_has_five_descriptors_prompts_and_actions() -> None:
    doc = load_framework_file(SHIPPED)
    for section in doc.sections:
        assert 3 <= len(section.criteria) <= 5, section.key
        for criterion in section.criteria:
            assert sorted(criterion.descriptors) == [0, 1, 2, 3, 4], criterion.key
            assert all(len(text) > 20 for text in criterion.descriptors.values()), criterion.key
            assert criterion.evidence_prompts and criterion.suggested_actions, criterion.key


def test_shipped_framework_marks_provisional_priorities_and_the_pcref_criterion() -> None:
    doc = load_framework_file(SHIPPED)
    assert [s.source for s in doc.priorities[:5]] == ["report"] * 5
    assert {s.source for s in doc.priorities[6:]} == {"provisional"}
    limited = [c for s in doc.sections for c in s.criteria if c.applies_to]
    assert limited and all(
        set(c.applies_to) <= {"mental_health", "mental_health_and_community"} for c in limited
    )
    indicators = {c.indicator for s in doc.sections for c in s.criteria if c.indicator}
    assert indicators == {"embedded_in_business", "race_equality_in_baf", "board_diversity"}


def test_missing_descriptor_is_refused_with_its_path() -> None:
    data = minimal_framework()
    del data["sections"][0]["criteria"][1]["descriptors"][3]
    errors = _errors(data)
    assert errors == ["sections[0] (one).criteria[1] (one-2).descriptors: missing a descriptor for level 3"]


def test_level_out_of_range_is_refused() -> None:
    data = minimal_framework()
    data["sections"][1]["criteria"][0]["descriptors"][5] = "Beyond embedded"
    errors = _errors(data)
    assert errors == [
        "sections[1] (baf).criteria[0] (baf-1).descriptors: level 5 is out of range: levels run from 0 to 4"
    ]


def test_duplicate_criterion_key_is_refused() -> None:
    data = minimal_framework()
    data["sections"][1]["criteria"][2]["key"] = "one-1"
    assert _errors(data) == ["(top level): duplicate criterion key 'one-1'"]


def test_duplicate_yaml_key_is_refused_with_its_line() -> None:
    text = yaml.safe_dump(minimal_framework(), sort_keys=False).replace(
        "title: Test framework\n", "title: Test framework\ntitle: Another title\n", 1
    )
    errors = _errors(text)
    assert len(errors) == 1
    assert "duplicate key 'title'" in errors[0] and errors[0].startswith("line 4:")


def test_unknown_field_and_missing_field_are_both_reported() -> None:
    data = minimal_framework()
    data["sections"][0]["criteria"][0]["colour"] = "blue"
    del data["sections"][0]["criteria"][2]["statement"]
    errors = _errors(data)
    assert "sections[0] (one).criteria[0] (one-1).colour: Extra inputs are not permitted" in errors
    assert "sections[0] (one).criteria[2] (one-3).statement: Field required" in errors


def test_unknown_trust_type_in_applies_to_is_refused() -> None:
    data = minimal_framework()
    data["sections"][0]["criteria"][0]["applies_to"] = ["hospice"]
    (error,) = _errors(data)
    assert error.startswith("sections[0] (one).criteria[0] (one-1).applies_to: unknown trust type 'hospice'")


def _write(tmp_path: Path, data: dict[str, Any], name: str = "fw.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.changes_reference_data
def test_loaded_version_cannot_change_and_the_message_names_file_and_change(
    db: Session, tmp_path: Path
) -> None:
    data = minimal_framework()
    sync_framework(db, _write(tmp_path, data))
    db.commit()
    changed = copy.deepcopy(data)
    changed["sections"][0]["criteria"][1]["statement"] = "A reworded statement"
    with pytest.raises(FrameworkFileError) as caught:
        sync_framework(db, _write(tmp_path, changed))
    message = str(caught.value)
    assert message.startswith("fw.yaml: framework 'test-framework-v1' version 1 is already loaded")
    assert "sections[0].criteria[1].statement changed" in message


@pytest.mark.changes_reference_data
def test_reloading_an_unchanged_file_is_a_no_op(db: Session, tmp_path: Path) -> None:
    path = _write(tmp_path, minimal_framework())
    first = sync_framework(db, path)
    db.commit()
    again = sync_framework(db, path)
    assert again.id == first.id
    assert len(db.exec(select(FrameworkRecord).where(FrameworkRecord.key == "test-framework-v1")).all()) == 1
    assert len(db.exec(select(Criterion).where(Criterion.framework_id == first.id)).all()) == 6


@pytest.mark.changes_reference_data
def test_same_key_with_a_new_version_number_is_refused(db: Session, tmp_path: Path) -> None:
    sync_framework(db, _write(tmp_path, minimal_framework()))
    db.commit()
    with pytest.raises(FrameworkFileError, match="a new version needs a new key"):
        sync_framework(db, _write(tmp_path, minimal_framework(version=2)))


@pytest.mark.changes_reference_data
def test_a_new_version_under_a_new_key_loads_beside_the_old(db: Session, tmp_path: Path) -> None:
    sync_framework(db, _write(tmp_path, minimal_framework()))
    sync_framework(db, _write(tmp_path, minimal_framework("test-framework-v2", 2), "fw2.yaml"))
    db.commit()
    keys = set(db.exec(select(FrameworkRecord.key)).all())
    assert {"test-framework-v1", "test-framework-v2"} <= keys
