"""A member's own rating pages: task list, one section per page, autosave, no-JS save, headline."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.assessments.models import Assessment, MemberResponse, Rating
from api.frameworks.models import Criterion, FrameworkSection
from tests.factories import csrf_from, make_cycle, make_user, organisation, sign_in

SECTION = "accountability"


@pytest.fixture
def board(db: Session) -> dict:
    cycle = make_cycle(db)
    chair = make_user(db, "chair@rcf.example.org", role="chair", trust="RCF", name="Clare Chair")
    ned = make_user(db, "ned@rcf.example.org", role="board_member", trust="RCF", name="Ned Neville")
    secretary = make_user(db, "sec@rcf.example.org", role="board_secretary", trust="RCF")
    other = make_user(db, "chair@rbs.example.org", role="chair", trust="RBS")
    assessment = Assessment(
        organisation_id=organisation(db, "RCF").id,
        cycle_id=cycle.id,
        framework_id=cycle.framework_id,
        opened_by_id=chair.id,
    )
    db.add(assessment)
    db.commit()
    criteria = db.exec(
        select(Criterion.key)
        .join(FrameworkSection, FrameworkSection.id == Criterion.section_id)
        .where(FrameworkSection.key == SECTION, Criterion.framework_id == cycle.framework_id)
        .order_by(Criterion.position)
    ).all()
    return {
        "assessment": assessment,
        "chair": chair,
        "ned": ned,
        "secretary": secretary,
        "other": other,
        "criteria": criteria,
    }


def _autosave(
    client: TestClient, assessment_id: int, key: str, level: str, version: int, token: str, comment: str = ""
):
    return client.post(
        f"/assessments/{assessment_id}/ratings/{key}",
        data={f"level__{key}": level, f"comment__{key}": comment, f"version__{key}": str(version)},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )


def _section(client: TestClient, assessment_id: int, key: str = SECTION):
    return client.get(f"/assessments/{assessment_id}/sections/{key}")


def test_chair_opens_the_assessment_from_the_trust_home_page(client: TestClient, db: Session) -> None:
    make_cycle(db)
    make_user(db, "chair@rcf.example.org", role="chair", trust="RCF")
    sign_in(client, "chair@rcf.example.org")
    home = client.get("/trusts/RCF")
    assert "Open the 2026/27 assessment" in home.text
    response = client.post(
        "/trusts/RCF/assessments",
        data={"cycle": "2026/27", "csrf_token": csrf_from(home.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assessment = db.exec(select(Assessment)).one()
    assert response.headers["location"] == f"/assessments/{assessment.id}"
    again = client.post(
        "/trusts/RCF/assessments", data={"cycle": "2026/27", "csrf_token": csrf_from(home.text)}
    )
    assert len(db.exec(select(Assessment)).all()) == 1
    assert again.status_code == 200 and "2026/27 race equality self-assessment" in again.text


def test_ned_sees_no_open_button_but_a_plain_explanation(client: TestClient, db: Session) -> None:
    make_cycle(db)
    make_user(db, "ned@rcf.example.org", role="board_member", trust="RCF")
    sign_in(client, "ned@rcf.example.org")
    page = client.get("/trusts/RCF").text
    assert "Open the 2026/27 assessment" not in page
    assert "Your chair has not opened the 2026/27 assessment yet" in page


def test_section_page_shows_every_level_descriptor_and_not_yet_known(client: TestClient, board: dict) -> None:
    sign_in(client, "ned@rcf.example.org")
    page = _section(client, board["assessment"].id)
    assert page.status_code == 200
    for key in board["criteria"]:
        for value in ("0", "1", "2", "3", "4", "unknown"):
            assert f'name="level__{key}" type="radio" value="{value}"' in page.text
    assert "0 – Not started" in page.text and "4 – Embedded" in page.text
    assert page.text.count('hx-post="/assessments/') == len(board["criteria"])


def test_autosave_stores_the_answer_and_returns_the_new_version_and_time(
    client: TestClient, db: Session, board: dict
) -> None:
    sign_in(client, "ned@rcf.example.org")
    key = board["criteria"][0]
    token = csrf_from(_section(client, board["assessment"].id).text)
    response = _autosave(client, board["assessment"].id, key, "3", 0, token, comment="Objectives set in May")
    assert response.status_code == 200
    assert f'name="version__{key}" value="1"' in response.text
    assert re.search(r"Saved at \d\d:\d\d", response.text)
    rating = db.exec(select(Rating).where(Rating.respondent_id == board["ned"].id)).one()
    assert (rating.level, rating.comment, rating.version) == (3, "Objectives set in May", 1)


def test_answers_are_there_after_a_reload_on_another_device(client: TestClient, board: dict, app) -> None:  # noqa: ANN001
    sign_in(client, "ned@rcf.example.org")
    key = board["criteria"][1]
    token = csrf_from(_section(client, board["assessment"].id).text)
    assert (
        _autosave(
            client, board["assessment"].id, key, "unknown", 0, token, comment="Need the data"
        ).status_code
        == 200
    )
    with TestClient(app) as tablet:
        sign_in(tablet, "ned@rcf.example.org")
        page = _section(tablet, board["assessment"].id).text
    assert f'name="level__{key}" type="radio" value="unknown" checked' in page
    assert "Need the data" in page


def test_an_older_autosave_never_overwrites_a_newer_one(client: TestClient, db: Session, board: dict) -> None:
    sign_in(client, "ned@rcf.example.org")
    key = board["criteria"][0]
    token = csrf_from(_section(client, board["assessment"].id).text)
    assert _autosave(client, board["assessment"].id, key, "2", 0, token).status_code == 200
    assert _autosave(client, board["assessment"].id, key, "3", 1, token).status_code == 200
    late = _autosave(client, board["assessment"].id, key, "1", 1, token)
    assert late.status_code == 409
    assert "Not saved" in late.text and "another device or tab" in late.text
    rating = db.exec(select(Rating).where(Rating.respondent_id == board["ned"].id)).one()
    db.refresh(rating)
    assert (rating.level, rating.version) == (3, 2)


def test_autosave_without_a_level_explains_and_stores_nothing(
    client: TestClient, db: Session, board: dict
) -> None:
    sign_in(client, "ned@rcf.example.org")
    key = board["criteria"][0]
    token = csrf_from(_section(client, board["assessment"].id).text)
    response = _autosave(client, board["assessment"].id, key, "", 0, token, comment="A thought")
    assert response.status_code == 422
    assert "Not saved: choose a level, or not yet known" in response.text
    assert db.exec(select(Rating)).all() == []


def test_autosave_needs_the_csrf_token(client: TestClient, db: Session, board: dict) -> None:
    sign_in(client, "ned@rcf.example.org")
    key = board["criteria"][0]
    response = _autosave(client, board["assessment"].id, key, "2", 0, "forged")
    assert response.status_code == 403
    assert db.exec(select(Rating)).all() == []


def test_save_and_continue_without_javascript_saves_the_section_and_moves_on(
    client: TestClient, db: Session, board: dict
) -> None:
    sign_in(client, "ned@rcf.example.org")
    page = _section(client, board["assessment"].id)
    data = {"csrf_token": csrf_from(page.text), "action": "continue"}
    for index, key in enumerate(board["criteria"]):
        data[f"level__{key}"] = str(index % 5)
        data[f"version__{key}"] = "0"
    response = client.post(
        f"/assessments/{board['assessment'].id}/sections/{SECTION}", data=data, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/assessments/{board['assessment'].id}/sections/education"
    levels = sorted(
        r.level for r in db.exec(select(Rating).where(Rating.respondent_id == board["ned"].id)).all()
    )
    assert levels == sorted(i % 5 for i in range(len(board["criteria"])))


def test_save_and_continue_keeps_typed_answers_when_one_is_stale(
    client: TestClient, db: Session, board: dict
) -> None:
    sign_in(client, "ned@rcf.example.org")
    first, second = board["criteria"][:2]
    page = _section(client, board["assessment"].id)
    token = csrf_from(page.text)
    # The same person saved the first criterion from another tab after this page loaded.
    assert _autosave(client, board["assessment"].id, first, "4", 0, token).status_code == 200
    data = {
        "csrf_token": token,
        f"level__{first}": "1",
        f"version__{first}": "0",
        f"level__{second}": "2",
        f"version__{second}": "0",
        f"comment__{second}": "Typed on the train",
    }
    response = client.post(f"/assessments/{board['assessment'].id}/sections/{SECTION}", data=data)
    assert response.status_code == 422
    assert (
        "There is a problem" in response.text and "You changed this answer on another device" in response.text
    )
    assert f'name="level__{first}" type="radio" value="1" checked' in response.text
    stored = {r.level for r in db.exec(select(Rating).where(Rating.respondent_id == board["ned"].id)).all()}
    assert 4 in stored and 1 not in stored


def test_comment_without_a_level_is_refused_with_the_error_summary(
    client: TestClient, db: Session, board: dict
) -> None:
    sign_in(client, "ned@rcf.example.org")
    key = board["criteria"][0]
    page = _section(client, board["assessment"].id)
    data = {"csrf_token": csrf_from(page.text), f"comment__{key}": "Only a comment", f"version__{key}": "0"}
    response = client.post(f"/assessments/{board['assessment'].id}/sections/{SECTION}", data=data)
    assert response.status_code == 422
    assert f'href="#level__{key}"' in response.text
    assert "Only a comment" in response.text
    assert db.exec(select(Rating)).all() == []


def test_task_list_shows_progress_per_section_and_overall(client: TestClient, board: dict) -> None:
    sign_in(client, "ned@rcf.example.org")
    token = csrf_from(_section(client, board["assessment"].id).text)
    _autosave(client, board["assessment"].id, board["criteria"][0], "2", 0, token)
    page = client.get(f"/assessments/{board['assessment'].id}").text
    assert "You have answered 1 of" in page
    assert f"1 of {len(board['criteria'])} answered" in page
    assert "In progress" in page and "Not started" in page


def test_headline_question_takes_0_to_10_and_nothing_else(
    client: TestClient, db: Session, board: dict
) -> None:
    sign_in(client, "ned@rcf.example.org")
    page = client.get(f"/assessments/{board['assessment'].id}/headline")
    assert "how embedded is race equality in your board" in page.text.lower()
    token = csrf_from(page.text)
    bad = client.post(
        f"/assessments/{board['assessment'].id}/headline",
        data={"score": "11", "version": "0", "csrf_token": token},
    )
    assert bad.status_code == 422 and "Select a number from 0 to 10" in bad.text
    good = client.post(
        f"/assessments/{board['assessment'].id}/headline",
        data={"score": "7", "version": "0", "csrf_token": token},
        follow_redirects=False,
    )
    assert good.status_code == 303
    response = db.exec(select(MemberResponse).where(MemberResponse.respondent_id == board["ned"].id)).one()
    assert (response.headline_score, response.board_role) == (7, "ned")


def test_board_secretary_cannot_rate_but_sees_the_board_progress(client: TestClient, board: dict) -> None:
    sign_in(client, "sec@rcf.example.org")
    assert _section(client, board["assessment"].id).status_code == 403
    overview = client.get(f"/assessments/{board['assessment'].id}")
    assert overview.status_code == 200
    assert "board members have finished their ratings" in overview.text
    assert "Your ratings" not in overview.text


def test_chair_of_another_trust_gets_404_for_the_rating_pages(client: TestClient, board: dict) -> None:
    sign_in(client, "chair@rbs.example.org")
    assert client.get(f"/assessments/{board['assessment'].id}").status_code == 404
    assert _section(client, board["assessment"].id).status_code == 404


def test_unknown_section_is_404(client: TestClient, board: dict) -> None:
    sign_in(client, "ned@rcf.example.org")
    assert _section(client, board["assessment"].id, "no-such-section").status_code == 404


def test_signed_out_person_is_sent_to_sign_in_and_back(client: TestClient, board: dict) -> None:
    response = client.get(f"/assessments/{board['assessment'].id}/sections/{SECTION}", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=%2Fassessments%2F")


def test_the_headline_answer_autosaves_with_htmx_like_every_rating(
    client: TestClient, db: Session, board: dict
) -> None:
    sign_in(client, "ned@rcf.example.org")
    aid = board["assessment"].id
    page = client.get(f"/assessments/{aid}/headline").text
    # The radios post themselves on change, as the ratings do; the button stays for no JavaScript.
    assert re.search(rf'hx-post="/assessments/{aid}/headline" hx-trigger="change"', page)
    assert 'id="autosave-headline"' in page and "Save and continue" in page
    token = csrf_from(page)
    htmx = {"HX-Request": "true"}
    first = client.post(
        f"/assessments/{aid}/headline", data={"score": "6", "version": "0", "csrf_token": token}, headers=htmx
    )
    assert first.status_code == 200
    assert 'name="version" value="1"' in first.text and re.search(r"Saved at \d\d:\d\d", first.text)
    assert "<html" not in first.text  # a fragment, not the page
    changed = client.post(
        f"/assessments/{aid}/headline", data={"score": "8", "version": "1", "csrf_token": token}, headers=htmx
    )
    assert changed.status_code == 200 and 'name="version" value="2"' in changed.text
    stale = client.post(
        f"/assessments/{aid}/headline", data={"score": "2", "version": "1", "csrf_token": token}, headers=htmx
    )
    assert stale.status_code == 409 and "Not saved" in stale.text and "another device" in stale.text
    response = db.exec(select(MemberResponse).where(MemberResponse.respondent_id == board["ned"].id)).one()
    db.refresh(response)
    assert (response.headline_score, response.version) == (8, 2)


def test_a_refused_answer_says_why_by_the_ratings_command_and_saves_nothing(
    client: TestClient, db: Session, board: dict
) -> None:
    # Both doors read RatingUpdate's rules: the autosave answers its sentence, the section page shows
    # it on the statement's own radios or comment box.
    sign_in(client, "ned@rcf.example.org")
    first, second = board["criteria"][:2]
    token = csrf_from(_section(client, board["assessment"].id).text)
    too_long = _autosave(client, board["assessment"].id, first, "2", 0, token, comment="x" * 2001)
    assert too_long.status_code == 422
    assert "Not saved: comment must be 2000 characters or fewer" in too_long.text
    no_level = _autosave(client, board["assessment"].id, first, "", 0, token, comment="A thought")
    assert no_level.status_code == 422 and "Not saved: choose a level, or not yet known" in no_level.text
    data = {
        "csrf_token": token,
        f"level__{first}": "7",
        f"version__{first}": "0",
        f"level__{second}": "2",
        f"comment__{second}": "y" * 2001,
    }
    response = client.post(f"/assessments/{board['assessment'].id}/sections/{SECTION}", data=data)
    assert response.status_code == 422
    assert f'href="#level__{first}"' in response.text and f'href="#comment__{second}"' in response.text
    assert "Choose a level from 0 to 4, or not yet known" in response.text
    assert "Comment must be 2000 characters or fewer" in response.text
    assert db.exec(select(Rating)).all() == []


def test_every_rating_page_states_the_rating_rule(client: TestClient, db: Session, board: dict) -> None:
    from html import unescape

    from api.frameworks.models import FrameworkRecord
    from api.frameworks.service import framework_document

    sign_in(client, "ned@rcf.example.org")
    framework = db.get(FrameworkRecord, board["assessment"].framework_id)
    rule = framework_document(framework).rule_for_rating
    page = unescape(_section(client, board["assessment"].id).text)

    assert rule.startswith("Choose the highest level whose conditions are all met")
    assert f'<p class="app-rating-rule"><strong>{rule}</strong></p>' in page


def test_a_framework_that_does_not_state_the_rule_rates_by_the_same_rule() -> None:
    from api.frameworks.loader import load_framework_file
    from api.frameworks.schema import DEFAULT_RATING_RULE
    from tests.conftest import FRAMEWORKS_DIR

    v1 = load_framework_file(FRAMEWORKS_DIR / "race-equality-board-v1.yaml")
    v2 = load_framework_file(FRAMEWORKS_DIR / "race-equality-board-v2.yaml")

    assert v1.rating_rule is None and v1.rule_for_rating == DEFAULT_RATING_RULE
    assert v2.rule_for_rating == v2.rating_rule and v2.rating_rule.startswith("Choose the highest level")
