"""The chair's and board secretary's consensus pages, sign-off and the admin's reopening, through HTTP.

The board is built with the test session, which is then left with no transaction open (on SQLite an
open one would hold the write lock the app needs); later reads use short sessions of their own.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.accounts.models import User, WebSession
from api.assessments.models import (
    Assessment,
    AssessmentRater,
    ConsensusRating,
    Cycle,
    Evidence,
    EvidenceFileContent,
    Rating,
)
from api.assessments.repository import criteria_of
from api.audit.models import AuditEvent
from api.db import utcnow
from api.frameworks.models import FrameworkRecord
from api.frameworks.service import sync_framework
from api.settings import Settings
from tests.factories import csrf_from, make_cycle, make_user, organisation, page_csrf, sign_in

TRUST = "RCF"
OTHER_TRUST = "RBS"
SECTION = "accountability"
STALE = "Someone else changed this agreed rating while you were editing"


# --- The board ------------------------------------------------------------------------------------------


@dataclass
class Board:
    engine: Engine
    assessment_id: int
    criterion_ids: dict[str, int]
    section_keys: list[str]
    neds: list[User]

    @property
    def keys(self) -> list[str]:
        return self.section_keys

    @property
    def section_url(self) -> str:
        return f"/assessments/{self.assessment_id}/consensus/{SECTION}"

    def save_url(self, key: str) -> str:
        return f"{self.section_url}/{key}"


# Names and emails chosen so that any of them appearing in a page is not a coincidence.
NEDS = [
    ("Ottoline Vanstraaten", "ottoline.v@airedale.example"),
    ("Peregrine Quillfeather", "peregrine.q@airedale.example"),
    ("Wilhelmina Strand", "wilhelmina.s@airedale.example"),
    ("Bartholomew Ashdown", "bartholomew.a@airedale.example"),
    ("Cordelia Fairweather", "cordelia.f@airedale.example"),
    ("Evander Thistlewood", "evander.t@airedale.example"),
]


def new_assessment(
    db: Session, cycle_name: str, opens: date, closes: date, framework_key: str | None = None
) -> Assessment:
    cycle = make_cycle(db, cycle_name, opens, closes)
    if framework_key:
        framework = db.exec(select(FrameworkRecord).where(FrameworkRecord.key == framework_key)).one()
        cycle.framework_id = framework.id
        db.add(cycle)
        db.commit()
    organisation_id = organisation(db, TRUST).id
    assessment = Assessment(
        organisation_id=organisation_id, cycle_id=cycle.id, framework_id=cycle.framework_id
    )
    db.add(assessment)
    db.commit()
    return assessment


def build_board(db: Session, engine: Engine, *, framework_key: str | None = None) -> Board:
    chair = make_user(db, "chair@airedale.example", role="chair", trust=TRUST, name="Hester Chairwoman")
    make_user(db, "secretary@airedale.example", role="board_secretary", trust=TRUST, name="Ossian Secretan")
    neds = [make_user(db, email, trust=TRUST, name=name) for name, email in NEDS]
    make_user(db, "chair@alderhey.example", role="chair", trust=OTHER_TRUST, name="Other Chairperson")
    assessment = new_assessment(db, "2026/27", date(2026, 4, 1), date(2027, 3, 31), framework_key)
    # The board when the assessment opened (the service records it when a chair opens one).
    db.add_all(AssessmentRater(assessment_id=assessment.id, user_id=person.id) for person in [chair, *neds])
    db.commit()
    pairs = criteria_of(db, assessment)
    board = Board(
        engine=engine,
        assessment_id=assessment.id,
        criterion_ids={criterion.key: criterion.id for _s, criterion in pairs},
        section_keys=[criterion.key for section, criterion in pairs if section.key == SECTION],
        neds=neds,
    )
    db.commit()
    db.close()
    return board


@pytest.fixture
def board(db: Session, clean_database: Engine) -> Board:
    return build_board(db, clean_database)


def add(engine: Engine, *rows: Any) -> None:
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()


def query(engine: Engine, statement: Any) -> list[Any]:
    with Session(engine, expire_on_commit=False) as session:
        rows = list(session.exec(statement).all())
        session.expunge_all()
    return rows


def consensus(board: Board, key: str) -> ConsensusRating | None:
    rows = query(
        board.engine,
        select(ConsensusRating).where(
            ConsensusRating.assessment_id == board.assessment_id,
            ConsensusRating.criterion_id == board.criterion_ids[key],
        ),
    )
    return rows[0] if rows else None


def evidence_titles(board: Board, key: str) -> list[str]:
    return query(
        board.engine,
        select(Evidence.title)
        .join(ConsensusRating, ConsensusRating.id == Evidence.consensus_rating_id)
        .where(
            ConsensusRating.assessment_id == board.assessment_id,
            ConsensusRating.criterion_id == board.criterion_ids[key],
        )
        .order_by(Evidence.id),
    )


def carried_evidence(board: Board, key: str) -> list[tuple[str, str | None]]:
    """This year's evidence for `key`: its title, and the year it was carried forward from."""
    return query(
        board.engine,
        select(Evidence.title, Cycle.name)
        .join(ConsensusRating, ConsensusRating.id == Evidence.consensus_rating_id)
        .outerjoin(Cycle, Cycle.id == Evidence.carried_from_cycle_id)
        .where(
            ConsensusRating.assessment_id == board.assessment_id,
            ConsensusRating.criterion_id == board.criterion_ids[key],
        )
        .order_by(Evidence.id),
    )


def status_of(board: Board) -> Assessment:
    return query(board.engine, select(Assessment).where(Assessment.id == board.assessment_id))[0]


def rate(board: Board, key: str, answers: list[tuple[int | None, str]]) -> None:
    """Each NED in turn gives one of `answers` (level, comment) for the criterion."""
    add(
        board.engine,
        *[
            Rating(
                assessment_id=board.assessment_id,
                respondent_id=ned.id,
                criterion_id=board.criterion_ids[key],
                level=level,
                comment=comment,
            )
            for ned, (level, comment) in zip(board.neds, answers, strict=False)
        ],
    )


def close_rating(board: Board) -> None:
    """Rating closed (as the chair's "Close rating" would): the spread can be shown."""
    with board.engine.begin() as connection:
        connection.execute(
            update(Assessment).where(Assessment.id == board.assessment_id).values(rating_closed_at=utcnow())
        )


def agree(board: Board, key: str, level: int | None, rationale: str = "", version: int = 1) -> None:
    add(
        board.engine,
        ConsensusRating(
            assessment_id=board.assessment_id,
            criterion_id=board.criterion_ids[key],
            level=level,
            rationale=rationale,
            version=version,
        ),
    )


def agree_all(board: Board, level: int = 2) -> None:
    for key in board.criterion_ids:
        agree(board, key, level, "Seen in board papers")


def block_of(html: str, key: str) -> str:
    """One statement's part of the section page."""
    match = re.search(rf'<section class="app-consensus-criterion" id="{key}".*?</section>', html, re.S)
    assert match, f"no block for {key}"
    return match.group(0)


def text_of(html: str) -> str:
    """What a person reads: the page without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def textarea_value(html: str, element_id: str) -> str:
    match = re.search(rf'<textarea[^>]*id="{element_id}"[^>]*>(.*?)</textarea>', html, re.S)
    assert match, f"no textarea {element_id}"
    return match.group(1)


def meta_csrf(client: TestClient, path: str = "/account") -> str:
    """The token every page carries for htmx, for pages the person may not open themselves."""
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', client.get(path).text)
    assert match, "no CSRF token on the page"
    return match.group(1)


def post_form(client: TestClient, page: str, action: str, data: dict[str, Any], **kwargs: Any) -> Any:
    token = page_csrf(client, page)
    return client.post(action, data={**data, "csrf_token": token}, follow_redirects=False, **kwargs)


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def macro_docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<Types><Override ContentType="application/vnd.ms-word.document.macroEnabled.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
        archive.writestr("word/vbaProject.bin", b"\x00\x01")
    return buffer.getvalue()


def sign_in_admin(client: TestClient, engine: Engine, db: Session) -> None:
    """A platform admin who has set up two-factor and passed it in this browser session."""
    admin = make_user(db, "admin@platform.example", platform_role="platform_admin", name="Ada Admin")
    admin.totp_secret = "JBSWY3DPEHPK3PXP"
    admin.totp_enabled_at = utcnow()
    db.add(admin)
    db.commit()
    db.close()
    sign_in(client, "admin@platform.example")
    with Session(engine) as session:
        session.execute(
            update(WebSession).where(WebSession.user_id == admin.id).values(second_factor_at=utcnow())  # type: ignore[arg-type]
        )
        session.commit()


# --- The spread, without names ----------------------------------------------------------------------------


def test_spread_shows_counts_median_range_and_comments_but_no_names(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    rate(
        board,
        key,
        [
            (4, "Zebra crossing papers show it"),
            (2, "apple pie objectives only"),
            (2, ""),
            (1, "Missing in papers"),
            (2, ""),
        ],
    )
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    page = client.get(board.section_url)

    assert page.status_code == 200
    block = block_of(page.text, key)
    assert re.search(r"2 – Developing</th>\s*<td[^>]*>3</td>", block)
    assert re.search(r"4 – Embedded</th>\s*<td[^>]*>1</td>", block)
    assert re.search(r"0 – Not started</th>\s*<td[^>]*>0</td>", block)
    assert re.search(r"Not yet known</th>\s*<td[^>]*>0</td>", block)
    assert re.search(r"Median</dt>\s*<dd[^>]*>2</dd>", block)
    assert "from 1 to 4" in block
    assert "Members&#39; ratings are 3 or more levels apart: discuss" in block
    # Alphabetical, not the order they were given in.
    comments = re.findall(r"<li>([^<]*)</li>", block.split("What members said")[1].split("</ul>")[0])
    assert comments == ["apple pie objectives only", "Missing in papers", "Zebra crossing papers show it"]
    for name, email in NEDS:
        assert name not in page.text and email not in page.text
        for part in name.split():
            assert part not in page.text


def test_spread_counts_not_yet_known_apart_and_flags_no_discussion_when_close(
    client: TestClient, board: Board
) -> None:
    key = board.keys[1]
    rate(board, key, [(3, ""), (3, ""), (None, ""), (None, ""), (3, "")])
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    block = block_of(client.get(board.section_url).text, key)

    assert re.search(r"Not yet known</th>\s*<td[^>]*>2</td>", block)
    assert re.search(r"Median</dt>\s*<dd[^>]*>3</dd>", block)
    assert "all chose 3" in block
    assert "levels apart" not in block


def test_fewer_than_five_raters_shows_only_how_many_have_rated(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    rate(board, key, [(0, "Secret remark nobody should see"), (4, ""), (2, ""), (3, "")])
    close_rating(board)
    sign_in(client, "chair@airedale.example")

    block = block_of(client.get(board.section_url).text, key)

    assert "4 members have rated so far" in block
    assert "at least 5 members other than you" in block
    assert "<table" not in block
    assert "Median" not in block and "Range" not in block
    assert "Secret remark nobody should see" not in block
    assert "levels apart" not in block


# --- Recording the agreed level -------------------------------------------------------------------------


def test_chair_saves_agreed_level_with_the_form(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")

    response = post_form(
        client,
        board.section_url,
        board.save_url(key),
        {"level": "3", "rationale": "Appraisal records seen in March", "version": "0"},
    )

    assert response.status_code == 303
    assert response.headers["location"].endswith(f"#{key}")
    stored = consensus(board, key)
    assert stored is not None and stored.level == 3 and stored.rationale == "Appraisal records seen in March"
    page = client.get(response.headers["location"])
    block = block_of(page.text, key)
    assert "The agreed level has been saved." in block
    assert "Agreed: 3 – Established" in block


def test_chair_saves_agreed_level_with_htmx_and_gets_the_block_back(client: TestClient, board: Board) -> None:
    key = board.keys[1]
    sign_in(client, "chair@airedale.example")
    token = page_csrf(client, board.section_url)

    response = client.post(
        board.save_url(key),
        data={"level": "2", "rationale": "Named in the scheme of delegation", "version": "0"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    assert response.status_code == 200
    assert response.text.lstrip().startswith(f'<section class="app-consensus-criterion" id="{key}"')
    assert "<html" not in response.text
    assert "Agreed: 2 – Developing" in response.text
    assert 'name="version" value="1"' in response.text
    stored = consensus(board, key)
    assert (
        stored is not None and stored.level == 2 and stored.rationale == "Named in the scheme of delegation"
    )


def test_saving_without_a_level_shows_the_error_and_keeps_the_text(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")

    response = post_form(
        client, board.section_url, board.save_url(key), {"rationale": "Half-written thoughts", "version": "0"}
    )

    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert f'href="#{key}-level"' in response.text and "Select the level the board agreed" in response.text
    assert textarea_value(response.text, f"{key}-rationale") == "Half-written thoughts"
    assert consensus(board, key) is None


def test_saving_without_the_csrf_token_is_refused(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")

    response = client.post(board.save_url(key), data={"level": "3", "version": "0"}, follow_redirects=False)

    assert response.status_code == 403
    assert consensus(board, key) is None


def test_stale_version_shows_error_summary_keeps_typed_text_and_changes_nothing(
    client: TestClient, board: Board
) -> None:
    key = board.keys[0]
    agree(board, key, 2, "Their careful wording", version=2)
    sign_in(client, "chair@airedale.example")

    response = post_form(
        client,
        board.section_url,
        board.save_url(key),
        {"level": "4", "rationale": "My own long paragraph", "version": "1"},
    )

    assert response.status_code == 409
    assert "There is a problem" in response.text and STALE in response.text
    assert f'href="#{key}-rationale"' in response.text
    block = block_of(response.text, key)
    assert textarea_value(block, f"{key}-rationale") == "My own long paragraph"
    assert "Their careful wording" in block
    # The next save is made against the version now shown.
    assert 'name="version" value="2"' in block
    stored = consensus(board, key)
    assert stored is not None
    assert (stored.level, stored.rationale, stored.version) == (2, "Their careful wording", 2)


def test_stale_version_with_htmx_answers_the_block_with_the_error(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    agree(board, key, 1, "Theirs", version=3)
    sign_in(client, "chair@airedale.example")
    token = page_csrf(client, board.section_url)

    response = client.post(
        board.save_url(key),
        data={"level": "4", "rationale": "Mine, typed on the tablet", "version": "2"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )

    # htmx swaps only 2xx answers: the problem comes back in the fragment.
    assert response.status_code == 200
    assert "<html" not in response.text
    assert "nhsuk-error-summary" in response.text and STALE in response.text
    assert textarea_value(response.text, f"{key}-rationale") == "Mine, typed on the tablet"
    stored = consensus(board, key)
    assert stored is not None and (stored.level, stored.rationale) == (1, "Theirs")


def test_evidence_added_first_does_not_make_the_open_page_stale(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")
    page = client.get(board.section_url).text
    response = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/links",
        {"title": "Board paper", "url": "https://example.org/paper"},
    )
    assert response.status_code == 303

    # The level form was shown with version 0, before the link made an (empty) agreed rating.
    response = client.post(
        board.save_url(key),
        data={"level": "2", "rationale": "", "version": "0", "csrf_token": csrf_from(page)},
        follow_redirects=False,
    )

    assert response.status_code == 303
    stored = consensus(board, key)
    assert stored is not None and stored.level == 2


# --- Who may see these pages --------------------------------------------------------------------------


def test_board_member_gets_403_on_consensus_pages(client: TestClient, board: Board) -> None:
    sign_in(client, NEDS[0][1])
    token = meta_csrf(client)

    assert client.get(f"/assessments/{board.assessment_id}/consensus").status_code == 403
    assert client.get(board.section_url).status_code == 403
    response = client.post(
        board.save_url(board.keys[0]), data={"level": "4", "version": "0", "csrf_token": token}
    )
    assert response.status_code == 403
    assert consensus(board, board.keys[0]) is None


def test_chair_of_another_trust_gets_404(client: TestClient, board: Board) -> None:
    agree(board, board.keys[0], 2, "Private to Airedale")
    sign_in(client, "chair@alderhey.example")
    token = meta_csrf(client)

    assert client.get(f"/assessments/{board.assessment_id}/consensus").status_code == 404
    page = client.get(board.section_url)
    assert page.status_code == 404 and "Private to Airedale" not in page.text
    response = client.post(
        board.save_url(board.keys[0]), data={"level": "4", "version": "1", "csrf_token": token}
    )
    assert response.status_code == 404
    assert consensus(board, board.keys[0]).level == 2  # type: ignore[union-attr]


def test_board_secretary_records_agreed_levels(client: TestClient, board: Board) -> None:
    key = board.keys[2]
    sign_in(client, "secretary@airedale.example")

    overview = client.get(f"/assessments/{board.assessment_id}/consensus")
    response = post_form(client, board.section_url, board.save_url(key), {"level": "1", "version": "0"})

    assert overview.status_code == 200
    assert response.status_code == 303
    assert consensus(board, key).level == 1  # type: ignore[union-attr]


# --- Overview --------------------------------------------------------------------------------------------


def test_overview_shows_sections_agreed_counts_and_board_progress(client: TestClient, board: Board) -> None:
    agree(board, board.keys[0], 2)
    agree(board, board.keys[1], None, "Evidence only, no level yet")
    sign_in(client, "chair@airedale.example")

    page = client.get(f"/assessments/{board.assessment_id}/consensus")

    assert page.status_code == 200
    assert "nhsuk-task-list" in page.text
    assert f"1 of {len(board.keys)} agreed" in page.text
    text = text_of(page.text)
    assert "0 of 7 members have finished their ratings" in text
    left = len(board.criterion_ids) - 1
    assert f"{left} of {len(board.criterion_ids)} statements still need an agreed level" in text
    assert "Sign off and submit" not in page.text


# --- Evidence --------------------------------------------------------------------------------------------


def test_png_uploaded_on_the_page_is_listed_and_downloads(
    client: TestClient, board: Board, db: Session
) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")
    data = png_bytes()

    response = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/files",
        {},
        files={"file": ("wres-chart.png", data, "image/png")},
    )

    assert response.status_code == 303
    assert response.headers["location"].endswith(f"#{key}")
    block = block_of(client.get(response.headers["location"]).text, key)
    assert "The file has been uploaded." in block
    link = re.search(r'href="(/assessments/\d+/evidence/\d+/download)">wres-chart.png</a>', block)
    assert link
    download = client.get(link.group(1))
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment")
    # Only that trust: another board's chair gets 404.
    client.cookies.clear()
    sign_in(client, "chair@alderhey.example")
    assert client.get(link.group(1)).status_code == 404


def test_macro_docx_is_refused_with_an_error_summary_at_the_file_input(
    client: TestClient, board: Board
) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")

    response = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/files",
        {},
        files={"file": ("plan.docx", macro_docx_bytes(), "application/octet-stream")},
    )

    assert response.status_code == 422
    assert "There is a problem" in response.text
    assert f'href="#{key}-file"' in response.text
    assert "The file contains macros" in response.text
    assert evidence_titles(board, key) == []


def test_upload_without_choosing_a_file_asks_for_one(client: TestClient, board: Board) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")

    response = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/files",
        {},
        files={"file": ("", b"", "application/octet-stream")},
    )

    assert response.status_code == 422
    assert f'href="#{key}-file"' in response.text and "Select a file to upload" in response.text
    assert evidence_titles(board, key) == []


def test_link_is_added_and_removed_and_bad_address_keeps_what_was_typed(
    client: TestClient, board: Board
) -> None:
    key = board.keys[0]
    sign_in(client, "chair@airedale.example")

    bad = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/links",
        {"title": "Pay gap report", "url": "not a web address"},
    )
    assert bad.status_code == 422
    assert f'href="#{key}-link-url"' in bad.text
    assert 'value="Pay gap report"' in bad.text and 'value="not a web address"' in bad.text
    assert evidence_titles(board, key) == []

    added = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/links",
        {"title": "Pay gap report", "url": "https://example.org/pay-gap"},
    )
    assert added.status_code == 303
    assert evidence_titles(board, key) == ["Pay gap report"]
    evidence_id = query(board.engine, select(Evidence.id))[0]

    token = page_csrf(client, board.section_url)
    removed = client.post(
        f"{board.save_url(key)}/evidence/{evidence_id}/remove",
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert removed.status_code == 200
    assert removed.text.lstrip().startswith('<div class="app-consensus-evidence"')
    assert "The evidence has been removed." in removed.text
    assert evidence_titles(board, key) == []


# --- Last year's answer as a starting point ---------------------------------------------------------------


def last_year(board: Board, db: Session, key: str, *, framework_key: str | None = None) -> None:
    """The same trust's 2025/26 assessment, with an agreed level, rationale, a link and a file."""
    previous = new_assessment(db, "2025/26", date(2025, 4, 1), date(2026, 3, 31), framework_key)
    previous_criterion = {c.key: c.id for _s, c in criteria_of(db, previous)}[key]
    previous.status = "submitted"
    db.add(previous)
    db.commit()
    row = ConsensusRating(
        assessment_id=previous.id,
        criterion_id=previous_criterion,
        level=3,
        rationale="Reasoning from last year",
    )
    db.add(row)
    db.commit()
    db.add(
        Evidence(consensus_rating_id=row.id, kind="link", title="Board paper", url="https://example.org/bp")
    )
    file = Evidence(
        consensus_rating_id=row.id,
        kind="file",
        title="minutes.pdf",
        stored_name="stored-last-year.pdf",
        content_type="application/pdf",
        size_bytes=18,
    )
    db.add(file)
    db.flush()
    db.add(EvidenceFileContent(evidence_id=file.id, data=b"%PDF-1.4 last year"))
    db.commit()
    db.close()


def test_last_year_is_offered_and_copied_only_into_an_empty_rationale(
    client: TestClient, board: Board, db: Session, settings: Settings
) -> None:
    empty_key, written_key = board.keys[0], board.keys[1]
    last_year(board, db, empty_key)
    agree(board, written_key, None, "This year's own words")
    sign_in(client, "chair@airedale.example")

    block = block_of(client.get(board.section_url).text, empty_key)
    assert "Last year (2025/26): agreed level 3 – Established" in block
    assert "Reasoning from last year" in block and "Board paper" in block and "minutes.pdf" in block
    assert "Use last year&#39;s rationale and evidence as a starting point" in block

    response = post_form(client, board.section_url, f"{board.save_url(empty_key)}/carry-forward", {})

    assert response.status_code == 303
    stored = consensus(board, empty_key)
    assert stored is not None and stored.rationale == "Reasoning from last year" and stored.level is None
    assert carried_evidence(board, empty_key) == [("Board paper", "2025/26"), ("minutes.pdf", "2025/26")]
    block = block_of(client.get(response.headers["location"]).text, empty_key)
    tags = re.findall(
        r'<strong class="nhsuk-tag nhsuk-tag--grey[^"]*">\s*Carried forward from 2025/26', block
    )
    assert len(tags) == 3  # the rationale and both items
    # The copied file has its own copy of the bytes, downloadable by this year's board under its own name.
    download = re.search(r'href="(/assessments/\d+/evidence/\d+/download)">minutes.pdf</a>', block)
    assert download
    got = client.get(download.group(1))
    assert got.content == b"%PDF-1.4 last year"
    assert 'filename="minutes.pdf"' in got.headers["content-disposition"]

    # A second press copies nothing twice.
    post_form(client, board.section_url, f"{board.save_url(empty_key)}/carry-forward", {})
    assert carried_evidence(board, empty_key) == [("Board paper", "2025/26"), ("minutes.pdf", "2025/26")]


def test_a_title_the_board_types_with_a_year_on_the_end_is_not_taken_for_carried_evidence(
    client: TestClient, board: Board, db: Session, settings: Settings
) -> None:
    key = board.keys[0]
    last_year(board, db, key)
    sign_in(client, "chair@airedale.example")
    added = post_form(
        client,
        board.section_url,
        f"{board.save_url(key)}/links",
        {"title": "Pay gap report (2025/26)", "url": "https://example.org/pay-gap"},
    )
    assert added.status_code == 303
    assert carried_evidence(board, key) == [("Pay gap report (2025/26)", None)]
    block = block_of(client.get(board.section_url).text, key)
    assert "Pay gap report (2025/26)" in block
    assert not re.search(r'nhsuk-tag--grey[^"]*">\s*Carried forward from', block)


def test_carry_forward_never_overwrites_this_years_rationale(
    client: TestClient, board: Board, db: Session, settings: Settings
) -> None:
    key = board.keys[0]
    last_year(board, db, key)
    agree(board, key, 2, "This year's own words", version=4)
    sign_in(client, "chair@airedale.example")

    response = post_form(client, board.section_url, f"{board.save_url(key)}/carry-forward", {})

    assert response.status_code == 303
    stored = consensus(board, key)
    assert stored is not None and (stored.level, stored.rationale, stored.version) == (
        2,
        "This year's own words",
        4,
    )
    assert carried_evidence(board, key) == [("Board paper", "2025/26"), ("minutes.pdf", "2025/26")]


@pytest.mark.changes_reference_data
def test_last_year_is_found_through_a_replaced_criterion_key(
    client: TestClient, db: Session, clean_database: Engine, settings: Settings, tmp_path: Path
) -> None:
    v1 = db.exec(select(FrameworkRecord).where(FrameworkRecord.key == "race-equality-board-v1")).one()
    definition = dict(v1.definition)
    definition["key"], definition["version"] = "race-equality-board-v2-test", 2
    sections = [dict(section) for section in definition["sections"]]
    criteria = [dict(criterion) for criterion in sections[0]["criteria"]]
    old_key = criteria[0]["key"]
    criteria[0]["key"], criteria[0]["replaces"] = "accountability-smart-objectives-2", [old_key]
    sections[0]["criteria"] = criteria
    definition["sections"] = sections
    path = tmp_path / "v2.yaml"
    path.write_text(yaml.safe_dump(definition, allow_unicode=True))
    sync_framework(db, path)
    db.commit()

    board = build_board(db, clean_database, framework_key="race-equality-board-v2-test")
    with Session(clean_database) as session:
        last_year(board, session, old_key)
    sign_in(client, "chair@airedale.example")

    block = block_of(client.get(board.section_url).text, "accountability-smart-objectives-2")

    assert "Last year (2025/26): agreed level 3 – Established" in block
    assert "Reasoning from last year" in block


# --- Sign-off ---------------------------------------------------------------------------------------------


def test_submit_page_lists_every_statement_without_an_agreed_level(client: TestClient, board: Board) -> None:
    agree_all(board)
    missing = board.keys[1]
    with Session(board.engine) as session:
        session.execute(
            update(ConsensusRating)
            .where(ConsensusRating.criterion_id == board.criterion_ids[missing])  # type: ignore[arg-type]
            .values(level=None)
        )
        session.commit()
    sign_in(client, "chair@airedale.example")

    page = client.get(f"/assessments/{board.assessment_id}/submit")

    assert page.status_code == 200
    assert "1 statement has no agreed level" in page.text
    assert f'href="/assessments/{board.assessment_id}/consensus/{SECTION}#{missing}"' in page.text
    assert f'action="/assessments/{board.assessment_id}/submit"' not in page.text
    refused = client.post(
        f"/assessments/{board.assessment_id}/submit", data={"csrf_token": meta_csrf(client)}
    )
    assert refused.status_code == 422
    assert status_of(board).status == "in_progress"


def test_chair_submits_sees_the_panel_and_everything_is_locked(client: TestClient, board: Board) -> None:
    agree_all(board, level=3)
    sign_in(client, "chair@airedale.example")
    check = client.get(f"/assessments/{board.assessment_id}/submit")
    assert "Once you submit, nobody can change the ratings, rationale or evidence" in check.text
    assert "3 – Established" in check.text

    # Nobody has finished rating and there is no evidence: the chair confirms with that in view.
    assert "Before you sign off" in check.text
    response = client.post(
        f"/assessments/{board.assessment_id}/submit",
        data={"csrf_token": csrf_from(check.text), "confirmed": "true"},
        follow_redirects=False,
    )

    assert response.status_code == 303
    assert response.headers["location"] == f"/assessments/{board.assessment_id}/submitted"
    done = client.get(response.headers["location"])
    assert "nhsuk-panel" in done.text and "Assessment submitted" in done.text
    assert "Hester Chairwoman" in done.text
    assessment = status_of(board)
    assert assessment.status == "submitted" and assessment.submitted_at is not None
    # Submitting again gives the same confirmation and the same sign-off.
    again = client.post(
        f"/assessments/{board.assessment_id}/submit",
        data={"csrf_token": csrf_from(check.text)},
        follow_redirects=False,
    )
    assert again.headers["location"] == f"/assessments/{board.assessment_id}/submitted"
    assert status_of(board).submitted_at == assessment.submitted_at
    # Read-only now: no forms, a Submitted tag, and a save changes nothing.
    section = client.get(board.section_url).text
    assert "Submitted" in section and "<form" not in block_of(section, board.keys[0])
    client.post(
        board.save_url(board.keys[0]),
        data={"level": "0", "version": "1", "csrf_token": csrf_from(check.text)},
    )
    assert consensus(board, board.keys[0]).level == 3  # type: ignore[union-attr]


def test_board_secretary_gets_403_on_submit(client: TestClient, board: Board) -> None:
    agree_all(board)
    sign_in(client, "secretary@airedale.example")
    token = meta_csrf(client)

    assert client.get(f"/assessments/{board.assessment_id}/submit").status_code == 403
    response = client.post(f"/assessments/{board.assessment_id}/submit", data={"csrf_token": token})
    assert response.status_code == 403
    assert status_of(board).status == "in_progress"


# --- Reopening ---------------------------------------------------------------------------------------------


def submitted(board: Board, db: Session) -> None:
    chair = db.exec(select(User).where(User.email == "chair@airedale.example")).one()
    db.commit()
    with Session(board.engine) as session:
        session.execute(
            update(Assessment)
            .where(Assessment.id == board.assessment_id)  # type: ignore[arg-type]
            .values(status="submitted", submitted_by_id=chair.id, submitted_at=utcnow())
        )
        session.commit()


def reopen_events(board: Board) -> list[AuditEvent]:
    return query(board.engine, select(AuditEvent).where(AuditEvent.action == "assessment.reopened"))


def test_admin_reopens_with_a_reason(client: TestClient, board: Board, db: Session) -> None:
    submitted(board, db)
    sign_in_admin(client, board.engine, db)
    page = client.get(f"/admin/assessments/{board.assessment_id}/reopen")
    assert page.status_code == 200
    assert "Airedale NHS Foundation Trust" in page.text and "2026/27" in page.text
    assert "Hester Chairwoman" in page.text
    # Cancelling goes back to the trust in the admin's list, not to the public start page.
    assert "Go to the start page" not in page.text
    assert '<a href="/admin/trusts?q=RCF">Cancel and go back to the trust</a>' in page.text

    response = client.post(
        f"/admin/assessments/{board.assessment_id}/reopen",
        data={"reason": "The chair asked to correct statement 1.2", "csrf_token": csrf_from(page.text)},
    )

    assert response.status_code == 200
    assert "Assessment reopened" in response.text
    assert "Go to the start page" not in response.text and 'href="/admin/trusts?q=RCF"' in response.text
    assert status_of(board).status == "in_progress"
    events = reopen_events(board)
    assert len(events) == 1 and events[0].details["reason"] == "The chair asked to correct statement 1.2"


def test_admin_reopen_with_an_empty_reason_is_refused(client: TestClient, board: Board, db: Session) -> None:
    submitted(board, db)
    sign_in_admin(client, board.engine, db)
    page = client.get(f"/admin/assessments/{board.assessment_id}/reopen")

    response = client.post(
        f"/admin/assessments/{board.assessment_id}/reopen",
        data={"reason": "   ", "csrf_token": csrf_from(page.text)},
    )

    assert response.status_code == 422
    assert "There is a problem" in response.text and 'href="#reason"' in response.text
    assert "Give the reason for reopening" in response.text
    assert status_of(board).status == "submitted"
    assert reopen_events(board) == []


def test_admin_reopen_with_too_long_a_reason_is_refused_and_kept(
    client: TestClient, board: Board, db: Session
) -> None:
    submitted(board, db)
    sign_in_admin(client, board.engine, db)
    page = client.get(f"/admin/assessments/{board.assessment_id}/reopen")

    response = client.post(
        f"/admin/assessments/{board.assessment_id}/reopen",
        data={"reason": "  " + "x" * 1001, "csrf_token": csrf_from(page.text)},
    )

    assert response.status_code == 422
    assert 'href="#reason"' in response.text
    assert "The reason must be 1,000 characters or fewer" in response.text
    assert "x" * 1001 in response.text
    assert status_of(board).status == "submitted"
    assert reopen_events(board) == []


def test_chair_cannot_reopen(client: TestClient, board: Board, db: Session) -> None:
    submitted(board, db)
    sign_in(client, "chair@airedale.example")
    token = meta_csrf(client)

    assert client.get(f"/admin/assessments/{board.assessment_id}/reopen").status_code == 403
    response = client.post(
        f"/admin/assessments/{board.assessment_id}/reopen", data={"reason": "Please", "csrf_token": token}
    )
    assert response.status_code == 403
    assert status_of(board).status == "submitted"


def test_after_sign_off_the_overview_shows_a_clean_banner_and_the_confirmation_links_onwards(
    client: TestClient, board: Board
) -> None:
    agree_all(board, level=3)
    sign_in(client, "chair@airedale.example")
    check = client.get(f"/assessments/{board.assessment_id}/submit")
    client.post(
        f"/assessments/{board.assessment_id}/submit",
        data={"csrf_token": csrf_from(check.text), "confirmed": "true"},
    )

    overview = client.get(f"/assessments/{board.assessment_id}").text
    assert "&lt;p&gt;" not in overview and "&lt;/p&gt;" not in overview
    assert "The board signed off this assessment on" in overview
    assert "Agree the board&#39;s ratings" not in overview and "Agree the board's ratings" not in overview
    done = client.get(f"/assessments/{board.assessment_id}/submitted").text
    for href in (
        f"/assessments/{board.assessment_id}/results",
        f"/assessments/{board.assessment_id}/download/board-report.pdf",
        f"/assessments/{board.assessment_id}/actions",
    ):
        assert f'href="{href}"' in done, href
