"""A board whose last year was on framework version 1 and this year is on version 2, through HTTP.

Last year's agreed level follows `replaces`; a statement new in version 2 says so; and version 2's
generic level-4 rule (level 3 held for two yearly cycles in a row, this one included) is shown beside
level 4 and listed before sign-off where last year's agreed level does not support it.
"""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlmodel import Session, select

from api.assessments.models import Assessment, ConsensusRating, Cycle
from api.frameworks.models import Criterion
from tests.assessments.test_consensus_pages import (
    Board,
    agree,
    agree_all,
    block_of,
    build_board,
    close_rating,
    last_year,
    text_of,
)
from tests.factories import sign_in

V1, V2 = "race-equality-board-v1", "race-equality-board-v2"
# Carried into version 2 under the same key (replaces itself); last year agreed at 3 by `last_year`.
CARRIED = "accountability-smart-objectives"
# Carried too; last year agreed at level 1 (below).
CARRIED_LOW = "accountability-named-leads"
# New in version 2: it continues no version 1 statement.
NEW = "accountability-assurance-from-staff-and-public"
LEVEL_FOUR_RULE = "Level 4 needs level 3 held for 2 yearly cycles in a row"


def _board(db: Session, engine: Engine) -> Board:
    """This year (2026/27) on version 2; last year (2025/26) on version 1, signed off."""
    board = build_board(db, engine, framework_key=V2)
    with Session(engine) as session:
        last_year(board, session, CARRIED, framework_key=V1)
    with Session(engine) as session:
        previous = session.exec(
            select(Assessment).join(Cycle, Cycle.id == Assessment.cycle_id).where(Cycle.name == "2025/26")
        ).one()
        criterion_id = session.exec(
            select(Criterion.id).where(
                Criterion.framework_id == previous.framework_id, Criterion.key == CARRIED_LOW
            )
        ).one()
        session.add(ConsensusRating(assessment_id=previous.id, criterion_id=criterion_id, level=1))
        session.commit()
    return board


def test_last_years_level_follows_the_mapping_and_a_new_statement_says_it_is_new(
    client: TestClient, db: Session, clean_database: Engine
) -> None:
    board = _board(db, clean_database)
    sign_in(client, "chair@airedale.example")
    page = client.get(board.section_url).text

    carried = text_of(block_of(page, CARRIED))
    assert "Last year (2025/26): agreed level 3" in carried
    assert "New this year" not in carried

    new = text_of(block_of(page, NEW))
    assert "New this year: this statement was not in the framework the board used last year" in new
    assert "Last year (" not in new


def test_level_four_shows_the_rule_where_last_year_does_not_support_it(
    client: TestClient, db: Session, clean_database: Engine
) -> None:
    board = _board(db, clean_database)
    sign_in(client, "chair@airedale.example")
    page = client.get(board.section_url).text

    # Level 3 last year: level 4 is open to the board, no note.
    assert LEVEL_FOUR_RULE not in text_of(block_of(page, CARRIED))
    low = text_of(block_of(page, CARRIED_LOW))
    assert LEVEL_FOUR_RULE in low and "In 2025/26 the board agreed level 1." in low
    new = text_of(block_of(page, NEW))
    assert LEVEL_FOUR_RULE in new and "There is no agreed level from last year on record." in new


def test_meeting_mode_shows_the_level_four_rule_as_the_section_page_does(
    client: TestClient, db: Session, clean_database: Engine
) -> None:
    board = _board(db, clean_database)
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    def meeting(key: str) -> str:
        page = client.get(f"/assessments/{board.assessment_id}/meeting/{key}")
        assert page.status_code == 200 and 'name="level"' in page.text
        return text_of(page.text)

    assert LEVEL_FOUR_RULE not in meeting(CARRIED)
    low = meeting(CARRIED_LOW)
    assert LEVEL_FOUR_RULE in low and "In 2025/26 the board agreed level 1." in low


def test_sign_off_lists_level_four_without_level_three_last_year_as_a_warning(
    client: TestClient, db: Session, clean_database: Engine
) -> None:
    board = _board(db, clean_database)
    agree_all(board, level=2)
    with Session(board.engine) as session:
        for key in (CARRIED, CARRIED_LOW):
            row = session.exec(
                select(ConsensusRating).where(
                    ConsensusRating.assessment_id == board.assessment_id,
                    ConsensusRating.criterion_id == board.criterion_ids[key],
                )
            ).one()
            row.level = 4
            session.add(row)
        session.commit()
    sign_in(client, "chair@airedale.example")

    page = client.get(f"/assessments/{board.assessment_id}/submit")

    assert page.status_code == 200
    text = text_of(page.text)
    assert "1 statement is at level 4 without level 3 agreed last year" in text
    listed = page.text.split("app-sign-off-level-four", 1)[1].split("</ul>", 1)[0]
    assert f"#{CARRIED_LOW}" in listed and f'#{CARRIED}"' not in listed
    # A warning, not a block: the sign-off form is there.
    assert f'action="/assessments/{board.assessment_id}/submit"' in page.text


def test_version_1_has_no_level_four_rule(client: TestClient, db: Session, clean_database: Engine) -> None:
    board = build_board(db, clean_database)
    agree(board, board.keys[0], 4, "Held for years")
    sign_in(client, "chair@airedale.example")

    assert LEVEL_FOUR_RULE not in text_of(client.get(board.section_url).text)
    assert "at level 4 without level 3" not in text_of(
        client.get(f"/assessments/{board.assessment_id}/submit").text
    )
