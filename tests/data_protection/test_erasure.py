"""Erasure: a platform admin erases a person's name and email. Their individual ratings stay as
anonymous rows, so the board's spread, its board-at-opening count and the sector's figures do not
change; the person can no longer sign in, and their name is nowhere in the database."""

from __future__ import annotations

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, select

from api.accounts.models import User
from api.assessments.models import AssessmentRater, Cycle, Rating
from api.audit.models import AuditEvent
from api.benchmarking.models import PeerSnapshot
from api.benchmarking.service import refresh_snapshots
from api.db import metadata
from api.organisations.models import Organisation
from api.settings import Settings
from tests.assessments.helpers import Board, get_row, query
from tests.benchmarking.test_closed_year import _submit_directly
from tests.factories import PASSWORD, csrf_from, sign_in_with_second_factor


def _what_the_board_sees(board: Board, assessment_id: int) -> tuple:
    """The chair's spread of every criterion (with how many of the board at opening rated each), and
    the board at opening as stored."""
    spread = board.get(f"/api/v1/assessments/{assessment_id}/consensus", board.chair)
    assert spread.status_code == 200
    at_opening = query(
        board.engine,
        select(func.count())
        .select_from(AssessmentRater)
        .where(AssessmentRater.assessment_id == assessment_id),
    )
    return spread.json(), at_opening


def _erase(board: Board, user_id: int, email: str) -> object:
    return board.client.post(
        f"/api/v1/admin/people/{user_id}/erase", json={"email": email}, headers=board.admin.headers
    )


def _everything_in_the_database(engine: Engine) -> str:
    with engine.connect() as connection:
        return "\n".join(
            repr(row) for table in metadata.sorted_tables for row in connection.execute(table.select())
        )


def test_erasing_a_member_keeps_the_spread_and_board_count_and_leaves_their_name_nowhere(
    board: Board, rated: int, clean_database: Engine
) -> None:
    person = board.neds[0]
    # Their own audit trail, a failed sign-in and an email: all carry their name or address.
    board.client.post("/api/v1/auth/token", data={"username": person.email, "password": "wrong"})
    before = _what_the_board_sees(board, rated)
    assert any(row["shown"] for row in before[0])  # there is a spread to change
    assert before[1] == [7]
    everything = _everything_in_the_database(clean_database)
    assert person.email in everything and person.name in everything

    response = _erase(board, person.id, person.email)
    assert response.status_code == 200, response.text
    assert response.json()["ratings_kept_anonymously"] == 3

    assert _what_the_board_sees(board, rated) == before
    everything = _everything_in_the_database(clean_database)
    assert person.email not in everything
    assert person.name not in everything
    # The ratings are kept, but no longer point at the person's account.
    ratings = query(clean_database, select(Rating.respondent_id).where(Rating.assessment_id == rated))
    assert len(ratings) == 7 * 3 and person.id not in ratings
    user = get_row(clean_database, User, person.id)
    assert user.erased_at is not None and not user.is_active and user.name == "Erased person"
    # They cannot sign in: their token has gone, and their address and password are no longer known.
    assert board.get("/api/v1/me", person).status_code == 401
    token = board.client.post("/api/v1/auth/token", data={"username": person.email, "password": PASSWORD})
    assert token.status_code == 401
    (event,) = query(clean_database, select(AuditEvent).where(AuditEvent.action == "person.erased"))
    assert event.actor_id == board.admin.id and event.object_id == person.id
    # Erasing again: nobody to erase.
    assert _erase(board, person.id, person.email).status_code == 404


def test_erasing_a_member_moves_no_sector_figure_even_when_the_figures_are_taken_again(
    board: Board, rated: int, clean_database: Engine, settings: Settings
) -> None:
    board.agree_all(rated)
    assert board.submit(rated).status_code == 200
    others = query(
        clean_database,
        select(Organisation)
        .where(Organisation.peer_type == "acute", Organisation.ods_code != "RCF")
        .limit(8),
    )
    (cycle,) = query(clean_database, select(Cycle))
    for step, organisation in enumerate(others):
        _submit_directly(clean_database, organisation, cycle, 1.0 + step * 0.25)

    def role_figures() -> dict[str, list[float]]:
        with Session(clean_database) as session:
            # Taken afresh from the rows as they are now (a refresh may not be due otherwise).
            session.execute(delete(PeerSnapshot))
            refresh_snapshots(session, session.get(Cycle, cycle.id), settings.k_anonymity)
            session.commit()
        (snapshot,) = query(clean_database, select(PeerSnapshot).where(PeerSnapshot.group_kind == "all"))
        figures = {key: sorted(values.values()) for key, values in snapshot.scores.items()}
        assert any(key.startswith("role:") for key in figures) and figures.get("headline:all")
        return figures

    before = role_figures()
    assert _erase(board, board.neds[3].id, board.neds[3].email).status_code == 200
    assert role_figures() == before


def test_an_admin_erases_a_person_from_a_confirmation_page(
    board: Board, rated: int, clean_database: Engine
) -> None:
    client = board.client
    person = board.neds[1]
    with Session(clean_database) as session:
        sign_in_with_second_factor(client, session, "admin@platform.example")
    assert 'href="/admin/erase"' in client.get("/admin/people").text
    found = client.get("/admin/erase", params={"email": person.email.upper()}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == f"/admin/people/{person.id}/erase"
    assert client.get("/admin/erase", params={"email": "nobody@example.org"}).status_code == 404
    page = client.get(f"/admin/people/{person.id}/erase")
    assert page.status_code == 200
    assert "What happens when you erase someone" in page.text and "You cannot undo this" in page.text
    assert get_row(clean_database, User, person.id).erased_at is None  # showing the page changes nothing
    # A page from before the person changed their address erases nobody.
    stale = client.post(
        f"/admin/people/{person.id}/erase",
        data={"email": "someone.else@airedale.example", "csrf_token": csrf_from(page.text)},
    )
    assert stale.status_code == 409 and "has changed since the page was shown" in stale.text
    assert get_row(clean_database, User, person.id).erased_at is None
    done = client.post(
        f"/admin/people/{person.id}/erase",
        data={"email": person.email, "csrf_token": csrf_from(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin/people?done=erased"
    assert get_row(clean_database, User, person.id).erased_at is not None
    assert client.get(f"/admin/people/{person.id}/erase").status_code == 404


def test_only_a_platform_admin_may_erase_and_some_people_cannot_be_erased(board: Board, rated: int) -> None:
    # A chair (even of the person's own board) cannot: it is the platform admin's decision.
    response = board.client.post(
        f"/api/v1/admin/people/{board.neds[0].id}/erase",
        json={"email": board.neds[0].email},
        headers=board.chair.headers,
    )
    assert response.status_code == 403
    assert _erase(board, board.admin.id, board.admin.email).status_code == 409  # not yourself
    only_chair = _erase(board, board.chair.id, board.chair.email)
    assert only_chair.status_code == 409 and "only chair" in only_chair.json()["detail"]
    assert _erase(board, board.neds[0].id, "not-an-address").status_code == 422
    assert _erase(board, 10**12, "a@b.example").status_code == 404


def test_erasing_a_member_drops_the_board_reports_kept_for_their_board(
    board: Board, rated: int, clean_database: Engine
) -> None:
    from api.reports.models import RenderedExport

    report = board.get(f"/api/v1/assessments/{rated}/export.xlsx", board.chair)
    assert report.status_code == 200
    kept = select(func.count()).select_from(RenderedExport).where(RenderedExport.assessment_id == rated)
    assert query(clean_database, kept) == [1]

    person = board.neds[0]
    assert _erase(board, person.id, person.email).status_code == 200

    # A kept file may print the person's name: it goes, and the next download renders afresh.
    assert query(clean_database, kept) == [0]
