"""FrameworkRecord version 2: it loads, is complete, maps to national standards, and keeps version 1 frozen."""

from __future__ import annotations

import copy
import hashlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.frameworks.loader import (
    FrameworkFileError,
    canonical_definition,
    content_hash,
    load_framework_file,
    parse_framework,
)
from api.frameworks.models import Criterion, FrameworkRecord
from api.frameworks.schema import MAPPING_TAGS
from api.frameworks.service import sync_framework
from tests.conftest import FRAMEWORKS_DIR
from tests.frameworks.test_loader import minimal_framework

V1 = FRAMEWORKS_DIR / "race-equality-board-v1.yaml"
V2 = FRAMEWORKS_DIR / "race-equality-board-v2.yaml"

# Version 1 as shipped: the file's bytes and the stored document's hash must never change.
V1_FILE_SHA256 = "38cda7bb3f55dd73b29f9b0a6dc340429da87043e27fc2fff178b3f86f5e5a31"
V1_CONTENT_HASH = "5bcaed32715d2fdc2629ffd0760f802e71ed328906c99d6432b278dcae6845c4"
# Version 2 as released (the demo's 2026/27 cycle and any board that opened on it use it): frozen the
# same way. A correction is version 3 with `previous: race-equality-board-v2`, never an edit here.
V2_FILE_SHA256 = "4c843ebd5ab5360c25139f062e26425ed5fb22400982296f4418ac9ede1fa7bb"
V2_CONTENT_HASH = "36516eb2af9288e47c4595d2753976730ea3cee0b42f8b2da33e71a0619fa377"


def _v2_criteria() -> list[Any]:
    return [c for s in load_framework_file(V2).sections for c in s.criteria]


def _raw_v2() -> dict[str, Any]:
    return yaml.safe_load(V2.read_text(encoding="utf-8"))


# --- Version 1 stays frozen -----------------------------------------------------------------------------


def test_version_1_file_and_stored_document_are_unchanged() -> None:
    assert hashlib.sha256(V1.read_bytes()).hexdigest() == V1_FILE_SHA256
    assert content_hash(canonical_definition(load_framework_file(V1))) == V1_CONTENT_HASH


def test_version_2_file_and_stored_document_are_unchanged() -> None:
    assert hashlib.sha256(V2.read_bytes()).hexdigest() == V2_FILE_SHA256
    assert content_hash(canonical_definition(load_framework_file(V2))) == V2_CONTENT_HASH


def test_version_1_document_has_none_of_the_version_2_fields() -> None:
    definition = canonical_definition(load_framework_file(V1))
    assert not {"previous", "rating_rule", "embedded_rule", "sharing_flag", "headline_anchors"} & set(
        definition
    )
    criterion = definition["sections"][0]["criteria"][0]
    assert "kind" not in criterion and "maps_to" not in criterion


# --- Version 2 loads and is complete --------------------------------------------------------------------


def test_version_2_loads_with_ten_priorities_a_baf_section_and_about_as_many_criteria_as_v1() -> None:
    doc = load_framework_file(V2)
    assert (doc.key, doc.version, doc.previous) == ("race-equality-board-v2", 2, "race-equality-board-v1")
    assert [s.kind for s in doc.sections] == ["priority"] * 10 + ["baf"]
    assert [s.number for s in doc.priorities] == list(range(1, 11))
    v1_count = sum(len(s.criteria) for s in load_framework_file(V1).sections)
    assert abs(len(_v2_criteria()) - v1_count) <= 5


def test_every_v2_criterion_has_every_part() -> None:
    raw = {c["key"]: c for s in _raw_v2()["sections"] for c in s["criteria"]}
    for criterion in _v2_criteria():
        assert criterion.statement and criterion.guidance, criterion.key
        assert sorted(criterion.descriptors) == [0, 1, 2, 3, 4], criterion.key
        assert all(len(text) > 20 for text in criterion.descriptors.values()), criterion.key
        assert criterion.evidence_prompts and criterion.suggested_actions, criterion.key
        assert criterion.kind in {"fact", "perception"}, criterion.key
        assert criterion.maps_to, criterion.key
        assert "replaces" in raw[criterion.key], f"{criterion.key} must say what it replaces, or []"


def test_every_replaced_key_is_a_v1_criterion_and_every_v1_criterion_carries_on() -> None:
    v1_keys = {c.key for s in load_framework_file(V1).sections for c in s.criteria}
    replaced = [key for c in _v2_criteria() for key in c.replaces]
    assert set(replaced) <= v1_keys
    assert set(replaced) == v1_keys  # nothing retired in version 2
    new = [c.key for c in _v2_criteria() if not c.replaces]
    assert new == [
        "accountability-assurance-from-staff-and-public",
        "safe-spaces-facilitation",
        "values-behaviours-few-priorities",
        "challenging-discrimination-in-the-room",
    ]


def test_maps_to_uses_only_the_closed_vocabulary_and_covers_every_family() -> None:
    tags = {tag for c in _v2_criteria() for tag in c.maps_to or []}
    assert tags <= set(MAPPING_TAGS)
    for family in ("eds-3", "hia-", "wres-", "cqc-"):
        assert any(tag.startswith(family) for tag in tags), family
    assert {f"wres-{n}" for n in range(1, 10)} <= tags


def test_both_fact_and_perception_items_and_perception_items_are_fewer() -> None:
    kinds = [c.kind for c in _v2_criteria()]
    assert 0 < kinds.count("perception") < kinds.count("fact")


# --- The points of issue 17 -----------------------------------------------------------------------------


def test_level_4_never_spells_out_duration_or_sharing_the_generic_rule_does() -> None:
    doc = load_framework_file(V2)
    for criterion in _v2_criteria():
        top = criterion.descriptors[4].lower()
        assert not re.search(r"\b(two|three|2|3) (years|cycles|rounds)\b|for at least", top), criterion.key
        assert not re.search(r"other trusts|with others|other boards|shares? (its|their|the)", top), (
            criterion.key
        )
    assert doc.embedded_rule is not None and doc.embedded_rule.sustained_cycles == 2
    assert "level 3" in doc.embedded_rule.text and "impact" in doc.embedded_rule.text
    assert doc.levels[4].meaning.startswith("Level 3 has held for at least two yearly cycles")
    assert doc.sharing_flag is not None and "does not change the level" in doc.sharing_flag.hint


def test_no_descriptor_uses_an_outcome_figure_as_a_gate() -> None:
    gates = re.compile(
        r"0\.80 to 1\.25|zero or above|has improved|have improved|narrowed|has risen|gap .* closed"
    )
    for criterion in _v2_criteria():
        for level, text in criterion.descriptors.items():
            assert not gates.search(text), f"{criterion.key} level {level}: {text}"


def test_rating_rule_and_anchored_headline_question_are_stated_once_for_the_framework() -> None:
    doc = load_framework_file(V2)
    assert doc.rating_rule is not None
    assert doc.rating_rule.startswith("Choose the highest level whose conditions are all met.")
    assert "0 (early in our journey) to 10 (fully embedded)" in doc.headline_question
    assert doc.headline_anchors is not None
    assert (doc.headline_anchors.low, doc.headline_anchors.high) == ("early in our journey", "fully embedded")


def test_baf_scores_race_being_explicit_and_a_wider_risk_can_reach_the_top() -> None:
    doc = load_framework_file(V2)
    risk = doc.criterion("baf-principal-risk")
    assert risk is not None and risk.indicator == "race_equality_in_baf"
    assert "within a wider one" in risk.descriptors[3]
    assert "can reach every level" in risk.guidance
    assert not any("inherent" in text.lower() for text in risk.descriptors.values())
    statements = [c.statement for c in doc.baf.criteria[1:]]
    assert all(statement.startswith("Race is explicit in") for statement in statements)
    assurance = doc.criterion("baf-assurance-lines")
    assert assurance is not None
    # No source is pinned to a line: the trust decides, and says so in its BAF.
    assert not re.search(r"internal audit|staff survey", assurance.descriptors[3], re.I)
    assert "significant, reasonable or limited" in assurance.descriptors[3]


def test_priorities_follow_the_report() -> None:
    doc = load_framework_file(V2)
    by_number = {s.number: s for s in doc.priorities}
    assurance = doc.criterion("accountability-assurance-from-staff-and-public")
    assert (
        assurance is not None and "workforce" in assurance.statement and "population" in assurance.statement
    )
    few = doc.criterion("values-behaviours-few-priorities")
    assert few is not None and few in by_number[4].criteria and "few priorities" in few.statement
    five = by_number[5]
    assert any("micro-aggressions" in c.statement for c in five.criteria)
    speak_up = doc.criterion("challenging-discrimination-speak-up")
    assert speak_up in five.criteria and speak_up is not None
    assert speak_up.replaces == ["safe-spaces-speak-up-by-ethnicity"]
    assert "cqc-freedom-to-speak-up" in (speak_up.maps_to or [])
    assert not any("speak up" in c.statement.lower() for c in by_number[3].criteria)


def test_reciprocal_mentoring_is_one_route_among_equivalents() -> None:
    doc = load_framework_file(V2)
    learning = doc.criterion("values-behaviours-learning-from-staff")
    assert learning is not None and learning.replaces == ["values-behaviours-reciprocal-mentoring"]
    for route in ("reciprocal mentoring", "structured listening", "shadowing"):
        assert route in learning.statement
    assert "reciprocal mentoring" not in learning.descriptors[3].lower()
    assert all("reciprocal" not in c.key for c in _v2_criteria())


def test_priorities_6_to_10_stay_provisional_with_the_reading_taken() -> None:
    doc = load_framework_file(V2)
    later = doc.priorities[5:]
    assert {s.source for s in later} == {"provisional"}
    assert all(s.source_note for s in later)
    six = doc.priorities[5]
    assert six.title == "Closer engagement with staff and community networks"
    assert six.source_note is not None and "press release" in six.source_note
    assert [s.source for s in doc.priorities[:5]] == ["report"] * 5


# --- The loader's checks on a successor framework ----------------------------------------------------------


def _copy_pair(tmp_path: Path, change: Any = None) -> Path:
    shutil.copy(V1, tmp_path / V1.name)
    data = _raw_v2()
    if change:
        change(data)
    path = tmp_path / V2.name
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def test_a_replaced_key_that_v1_does_not_have_is_refused_with_its_place(tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["sections"][4]["criteria"][4]["replaces"] = ["safe-spaces-speak-up"]

    with pytest.raises(FrameworkFileError) as caught:
        load_framework_file(_copy_pair(tmp_path, change))
    assert caught.value.errors == [
        "sections[4] (challenging-discrimination).criteria[4] (challenging-discrimination-speak-up).replaces: "
        "'safe-spaces-speak-up' is not a criterion of race-equality-board-v1"
    ]


def test_a_successor_without_its_previous_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / V2.name
    shutil.copy(V2, path)
    with pytest.raises(FrameworkFileError, match="no file for framework 'race-equality-board-v1'"):
        load_framework_file(path)


def test_an_unknown_maps_to_tag_is_refused_naming_the_vocabulary() -> None:
    data = _raw_v2()
    data["sections"][0]["criteria"][0]["maps_to"] = ["hia-1", "wres-10"]
    with pytest.raises(FrameworkFileError) as caught:
        parse_framework(yaml.safe_dump(data, allow_unicode=True), "v2.yaml")
    (error,) = caught.value.errors
    assert error.startswith(
        "sections[0] (accountability).criteria[0] (accountability-smart-objectives).maps_to"
    )
    assert "unknown tag 'wres-10'" in error and "wres-1 to wres-9" in error


@pytest.mark.parametrize(
    ("field", "message"),
    [
        ("kind", "criterion 'accountability-smart-objectives' needs a kind: fact or perception"),
        ("maps_to", "criterion 'accountability-smart-objectives' needs maps_to: at least one tag"),
        (
            "replaces",
            "criterion 'accountability-smart-objectives' needs replaces: the keys it continues, or [] if new",
        ),
    ],
)
def test_a_successor_criterion_missing_a_version_2_part_is_refused(field: str, message: str) -> None:
    data = _raw_v2()
    del data["sections"][0]["criteria"][0][field]
    with pytest.raises(FrameworkFileError) as caught:
        parse_framework(yaml.safe_dump(data, allow_unicode=True), "v2.yaml")
    assert caught.value.errors == [f"(top level): {message}"]


def test_a_successor_must_state_the_rating_rule() -> None:
    data = _raw_v2()
    del data["rating_rule"]
    with pytest.raises(FrameworkFileError, match="rating_rule is required"):
        parse_framework(yaml.safe_dump(data, allow_unicode=True), "v2.yaml")


def test_a_version_1_style_file_still_needs_none_of_the_version_2_parts() -> None:
    doc = parse_framework(yaml.safe_dump(minimal_framework()), "v1-style.yaml")
    assert doc.previous is None and all(c.kind is None for s in doc.sections for c in s.criteria)
    assert all(c.member_rated for s in doc.sections for c in s.criteria)


# --- Frozen once loaded, like version 1 ----------------------------------------------------------------------


def test_v2_is_loaded_with_kinds_on_its_criteria_and_v1_rows_have_none(db: Session) -> None:
    v1, v2 = (
        db.exec(select(FrameworkRecord).where(FrameworkRecord.key == key)).one() for key in (V1.stem, V2.stem)
    )
    assert v2.content_hash == content_hash(canonical_definition(load_framework_file(V2)))
    v2_kinds = {c.key: c.kind for c in db.exec(select(Criterion).where(Criterion.framework_id == v2.id))}
    assert v2_kinds["challenging-discrimination-in-the-room"] == "perception"
    assert v2_kinds["baf-principal-risk"] == "fact"
    assert set(v2_kinds.values()) == {"fact", "perception"}
    assert {c.kind for c in db.exec(select(Criterion).where(Criterion.framework_id == v1.id))} == {None}


@pytest.mark.changes_reference_data
def test_a_changed_v2_under_the_same_key_is_refused_and_names_the_change(db: Session, tmp_path: Path) -> None:
    def change(data: dict[str, Any]) -> None:
        data["sections"][0]["criteria"][1]["maps_to"] = ["eds-3c"]

    with pytest.raises(FrameworkFileError) as caught:
        sync_framework(db, _copy_pair(tmp_path, change))
    message = str(caught.value)
    assert "framework 'race-equality-board-v2' version 2 is already loaded and cannot change" in message
    assert "sections[0].criteria[1].maps_to[1] removed" in message


def test_v2_reloaded_unchanged_is_accepted(db: Session, tmp_path: Path) -> None:
    loaded = db.exec(select(FrameworkRecord).where(FrameworkRecord.key == V2.stem)).one()
    assert sync_framework(db, _copy_pair(tmp_path)).id == loaded.id
    db.rollback()


def test_framework_api_gives_v2_its_new_parts_and_v1_none(client: TestClient) -> None:
    v2 = client.get("/api/v1/frameworks/race-equality-board-v2").json()
    assert v2["rating_rule"].startswith("Choose the highest level")
    assert v2["embedded_rule"]["sustained_cycles"] == 2
    criterion = v2["sections"][0]["criteria"][0]
    assert criterion["kind"] == "fact" and "hia-1" in criterion["maps_to"]
    v1 = client.get("/api/v1/frameworks/race-equality-board-v1").json()
    assert "rating_rule" not in v1 and "kind" not in v1["sections"][0]["criteria"][0]


def test_deep_copy_of_the_document_validates_again() -> None:
    """The stored definition (JSON) reads back into the same document, so a loaded v2 reads as it was."""
    doc = load_framework_file(V2)
    again = type(doc).model_validate(copy.deepcopy(canonical_definition(doc)))
    assert again == doc


def test_level_4_needs_level_3_or_above_agreed_last_year_in_v2_but_not_in_v1() -> None:
    v2, v1 = load_framework_file(V2), load_framework_file(V1)
    assert v2.allows_embedded([3]) and v2.allows_embedded([4, 0])
    assert not v2.allows_embedded([2]) and not v2.allows_embedded([None]) and not v2.allows_embedded([])
    assert v1.allows_embedded([])


def test_the_published_api_schema_describes_the_version_2_fields(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    criterion = next(schema for name, schema in schemas.items() if name.startswith("Criterion"))
    assert {"kind", "maps_to", "replaces", "descriptors"} <= set(criterion["properties"])
    framework = schemas["FrameworkPublic"]["properties"]
    assert {"rating_rule", "embedded_rule", "sharing_flag", "headline_anchors", "previous"} <= set(framework)
