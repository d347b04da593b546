"""Carrying the years across versions: the v1 ↔ v2 mapping, last year's answers, and the release-note diff."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.cli import app
from api.frameworks.lineage import VersionMap, carry_between, carry_forward, lookup_keys, successor_keys
from api.frameworks.loader import load_framework_file
from api.frameworks.models import FrameworkRecord
from api.settings import Settings, get_settings
from tests.assessments.test_consensus_pages import block_of, build_board, last_year
from tests.conftest import FRAMEWORKS_DIR, TEST_SECRET
from tests.factories import sign_in

V1 = load_framework_file(FRAMEWORKS_DIR / "race-equality-board-v1.yaml")
V2 = load_framework_file(FRAMEWORKS_DIR / "race-equality-board-v2.yaml")
MOVED = ("safe-spaces-speak-up-by-ethnicity", "challenging-discrimination-speak-up")


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


# --- The mapping, both ways -----------------------------------------------------------------------------


def test_a_v2_criterion_names_its_v1_predecessors_and_a_v1_criterion_its_successors() -> None:
    mapping = VersionMap(V2, V1)
    old, new = MOVED
    assert mapping.predecessors(new) == (old,)
    assert mapping.successors(old) == (new,)
    assert mapping.predecessors("accountability-smart-objectives") == ("accountability-smart-objectives",)
    assert mapping.predecessors("challenging-discrimination-in-the-room") == ()
    assert "challenging-discrimination-in-the-room" in mapping.new
    assert mapping.retired == []
    with pytest.raises(KeyError):
        mapping.successors(new)  # a v2 key is not a v1 criterion


def test_lookup_and_successor_keys_follow_replaces() -> None:
    old, new = MOVED
    assert lookup_keys(V2, new) == [new, old]
    assert lookup_keys(V2, "accountability-smart-objectives") == ["accountability-smart-objectives"]
    assert successor_keys(V2)[old] == new
    assert (
        successor_keys(V2)["values-behaviours-reciprocal-mentoring"]
        == "values-behaviours-learning-from-staff"
    )


def test_last_years_v1_levels_carry_onto_v2_keys_and_new_criteria_start_empty() -> None:
    v1_levels = {c.key: 3 for s in V1.sections for c in s.criteria}
    carried = carry_forward(V2, v1_levels)
    assert carried[MOVED[1]] == 3
    assert "challenging-discrimination-in-the-room" not in carried
    v2_keys = [c.key for s in V2.sections for c in s.criteria]
    assert set(carried) == {key for key in v2_keys if V2.criterion(key).replaces}  # type: ignore[union-attr]


def test_carry_between_loaded_frameworks_follows_the_chain_and_keeps_same_key_otherwise(db: Session) -> None:
    v1, v2 = (
        db.exec(select(FrameworkRecord).where(FrameworkRecord.key == k)).one() for k in (V1.key, V2.key)
    )
    rationales = {MOVED[0]: "Guardian reports by ethnicity twice a year", "education-induction": "All done"}
    assert carry_between(db, v2, v1, rationales) == {
        MOVED[1]: "Guardian reports by ethnicity twice a year",
        "education-induction": "All done",
    }
    assert carry_between(db, v1, v1, rationales) == rationales
    # Backwards (v2 is not in v1's line), only keys the two share carry.
    assert carry_between(db, v1, v2, {MOVED[1]: "x", "education-induction": "y"}) == {
        "education-induction": "y"
    }


def test_every_section_key_carries_so_section_trends_hold_across_versions() -> None:
    """Section scores, and so the trend and benchmarks, are keyed by section: v2 keeps every v1 key."""
    assert [(s.key, s.number, s.kind) for s in V2.sections] == [
        (s.key, s.number, s.kind) for s in V1.sections
    ]


# --- Last year's rationale at consensus, through the mapping -------------------------------------------------


def test_consensus_on_v2_offers_last_years_v1_answer_for_a_moved_criterion(
    client: TestClient, db: Session, clean_database: Engine, settings: Settings
) -> None:
    board = build_board(db, clean_database, framework_key=V2.key)
    with Session(clean_database) as session:
        last_year(board, session, MOVED[0], framework_key=V1.key)
    sign_in(client, "chair@airedale.example")

    page = client.get(f"/assessments/{board.assessment_id}/consensus/challenging-discrimination")

    assert page.status_code == 200
    block = block_of(page.text, MOVED[1])
    assert "Last year (2025/26): agreed level 3 – Established" in block
    assert "Reasoning from last year" in block
    assert "Last year" not in block_of(page.text, "challenging-discrimination-in-the-room")


# --- python -m api framework diff -----------------------------------------------------------------------------


def test_diff_v1_v2_prints_new_replaced_and_changed_criteria_and_the_totals(cli: CliRunner) -> None:
    result = cli.invoke(app, ["framework", "diff", "v1", "v2"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.startswith(
        "What changed from race-equality-board-v1 (version 1) to race-equality-board-v2 (version 2)"
    )
    assert "  NEW challenging-discrimination-in-the-room [perception]: Board members call out" in out
    assert (
        "  challenging-discrimination-speak-up [fact] (replaces safe-spaces-speak-up-by-ethnicity): "
        "key safe-spaces-speak-up-by-ethnicity is now challenging-discrimination-speak-up; "
        "moved from priority 3 (Foster safe spaces); statement changed" in out
    )
    assert "      was: Board members take part in reciprocal mentoring with ethnic minority staff" in out
    assert "  accountability-named-leads [fact]: level 4 reworded; now a fact item\n" in out
    assert "optional flag, not part of any level" in out
    assert "Retired from race-equality-board-v1 (no successor)\n  none\n" in out
    assert "In all: 49 criteria, 4 new and 45 carried over (45 changed, 0 unchanged); 0 retired." in out
    # Criteria are listed under their v2 priority, in order.
    assert out.index("\n5. Challenge discrimination") < out.index("challenging-discrimination-speak-up")
    assert out.index("challenging-discrimination-speak-up") < out.index("\n6. Closer engagement")


def test_diff_lists_a_retired_criterion_and_an_unchanged_one(cli: CliRunner, tmp_path: Path) -> None:
    shutil.copy(FRAMEWORKS_DIR / "race-equality-board-v1.yaml", tmp_path / "race-equality-board-v1.yaml")
    data: dict[str, Any] = yaml.safe_load((FRAMEWORKS_DIR / "race-equality-board-v2.yaml").read_text())
    baf = data["sections"][10]
    baf["criteria"] = [c for c in baf["criteria"] if c["key"] != "baf-strategic-objective"]
    v1_induction = V1.criterion("education-induction")
    assert v1_induction is not None
    induction = next(c for c in data["sections"][1]["criteria"] if c["key"] == "education-induction")
    induction["descriptors"][4] = v1_induction.descriptors[4]
    path = tmp_path / "race-equality-board-v2.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")

    result = cli.invoke(app, ["framework", "diff", str(tmp_path / "race-equality-board-v1.yaml"), str(path)])

    assert result.exit_code == 0, result.output
    assert (
        "  RETIRED baf-strategic-objective (section 11): The board has a strategic objective" in result.output
    )
    assert "  education-induction [fact]: now a fact item\n" in result.output
    assert "0 retired" not in result.output and "; 1 retired." in result.output


def test_diff_of_an_unknown_framework_fails_with_one_clear_line(cli: CliRunner) -> None:
    result = cli.invoke(app, ["framework", "diff", "v1", "v9"])
    assert result.exit_code == 1
    assert "Error: v9: no framework file for 'v9'" in result.output
