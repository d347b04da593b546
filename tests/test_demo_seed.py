"""The demo sector: believable, deterministic for a seed, loaded only into an empty database."""

from __future__ import annotations

import statistics
from datetime import date

import pytest
from sqlalchemy import Engine, func, text
from sqlmodel import Session, select
from typer.testing import CliRunner

from api.accounts.models import Membership, User
from api.assessments.models import Assessment, ConsensusRating, Cycle, MemberResponse, Rating
from api.cli import app
from api.db import make_engine, metadata
from api.demo import DEMO_PASSWORD
from api.organisations.models import Organisation
from api.settings import get_settings
from tests.conftest import TEST_SECRET
from tests.databases import fresh_database

# Columns that differ between two runs by design: random salts and load times.
UNSTABLE_COLUMNS = {
    ("user_account", "password_hash"),
    ("framework", "loaded_at"),
    ("stored_score", "computed_at"),
    ("peer_snapshot", "taken_at"),
    # The demo's action plan is written through the real services, whose audit events record when
    # the demo was loaded (the log is append-only: the demo does not redate it).
    ("audit_event", "occurred_at"),
}


def _dump(engine: Engine) -> dict[str, list[tuple]]:
    dump = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            columns = [c.name for c in table.columns if (table.name, c.name) not in UNSTABLE_COLUMNS]
            order = ", ".join(c.name for c in table.primary_key.columns)
            rows = conn.execute(text(f"SELECT {', '.join(columns)} FROM {table.name} ORDER BY {order}")).all()
            dump[table.name] = [tuple(row) for row in rows]
    return dump


def _run(monkeypatch: pytest.MonkeyPatch, url: str, *args: str) -> str:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ENV", "test")
    monkeypatch.setenv("SECRET_KEY", TEST_SECRET)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, list(args))
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> object:
    """Two databases: one from `bootstrap` (as `make run` does), one from `seed-demo`, same seed."""
    tmp = tmp_path_factory.mktemp("seed")
    monkeypatch = pytest.MonkeyPatch()
    with fresh_database(tmp, "seed_a") as url_a, fresh_database(tmp, "seed_b") as url_b:
        bootstrap_output = _run(monkeypatch, url_a, "bootstrap")
        from api.migrate import upgrade

        upgrade(url_b)
        seed_output = _run(monkeypatch, url_b, "seed-demo", "--seed", "2026")
        engine_a, engine_b = make_engine(url_a), make_engine(url_b)
        yield {
            "url_a": url_a,
            "engine_a": engine_a,
            "engine_b": engine_b,
            "bootstrap_output": bootstrap_output,
            "seed_output": seed_output,
            "monkeypatch": monkeypatch,
        }
        engine_a.dispose()
        engine_b.dispose()
    monkeypatch.undo()


def test_the_same_seed_gives_the_same_sector(seeded: dict) -> None:
    dump_a, dump_b = _dump(seeded["engine_a"]), _dump(seeded["engine_b"])
    assert len(dump_a["rating"]) > 100_000
    for table in dump_a:
        assert dump_a[table] == dump_b[table], f"table {table} differs between two seeds of 2026"


def test_bootstrap_prints_the_demo_sign_ins(seeded: dict) -> None:
    output = seeded["bootstrap_output"]
    assert "Loaded the demo sector: 202 trusts, 3 cycles" in output
    assert f"the password for each is {DEMO_PASSWORD}" in output
    for email in ("chair@", "ned@", "secretary@", "analyst@", "admin@"):
        assert f"{email}demo.example.org" in output


def test_bootstrap_a_second_time_keeps_the_data(seeded: dict) -> None:
    before = _dump(seeded["engine_a"])
    output = _run(seeded["monkeypatch"], seeded["url_a"], "bootstrap")
    assert "Loaded the demo sector" not in output
    assert "chair@demo.example.org" in output
    assert _dump(seeded["engine_a"]) == before


def test_seed_demo_refuses_a_database_that_has_data(seeded: dict) -> None:
    monkeypatch = seeded["monkeypatch"]
    monkeypatch.setenv("DATABASE_URL", seeded["url_a"])
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["seed-demo"])
    get_settings.cache_clear()
    assert result.exit_code == 1
    assert "seed-demo only fills an empty database" in result.output


def test_demo_sector_has_every_trust_and_three_cycles_with_2026_27_mostly_in_progress(seeded: dict) -> None:
    with Session(seeded["engine_a"]) as session:
        assert session.exec(select(func.count()).select_from(Organisation)).one() == 202
        cycles = {c.name: c.id for c in session.exec(select(Cycle)).all()}
        assert set(cycles) == {"2024/25", "2025/26", "2026/27"}
        open_cycle = session.exec(select(Assessment).where(Assessment.cycle_id == cycles["2026/27"])).all()
        in_progress = sum(a.status == "in_progress" for a in open_cycle)
        assert in_progress > len(open_cycle) / 2
        for name in ("2024/25", "2025/26"):
            closed = session.exec(select(Assessment).where(Assessment.cycle_id == cycles[name])).all()
            assert closed and all(a.status == "submitted" for a in closed)


def test_demo_boards_have_8_to_14_rating_members(seeded: dict) -> None:
    with Session(seeded["engine_a"]) as session:
        sizes = session.exec(
            select(func.count())
            .select_from(Membership)
            .where(Membership.role != "board_secretary")
            .group_by(Membership.organisation_id)
        ).all()
        assert len(sizes) == 202 and min(sizes) >= 8 and max(sizes) <= 14


def test_demo_scores_improve_unevenly_and_chairs_rate_more_kindly(seeded: dict) -> None:
    with Session(seeded["engine_a"]) as session:
        by_cycle = dict(
            session.exec(
                select(Cycle.name, func.avg(ConsensusRating.level))
                .join(Assessment, Assessment.id == ConsensusRating.assessment_id)
                .join(Cycle, Cycle.id == Assessment.cycle_id)
                .where(Assessment.status == "submitted")
                .group_by(Cycle.name)
            ).all()
        )
        assert 1.0 < by_cycle["2024/25"] < by_cycle["2025/26"] < 3.0
        per_trust = session.exec(
            select(Assessment.organisation_id, Cycle.name, func.avg(ConsensusRating.level))
            .join(Assessment, Assessment.id == ConsensusRating.assessment_id)
            .join(Cycle, Cycle.id == Assessment.cycle_id)
            .where(Assessment.status == "submitted")
            .group_by(Assessment.organisation_id, Cycle.name)
        ).all()
        scores: dict[int, dict[str, float]] = {}
        for organisation_id, cycle, mean in per_trust:
            scores.setdefault(organisation_id, {})[cycle] = float(mean)
        changes = [s["2025/26"] - s["2024/25"] for s in scores.values() if {"2024/25", "2025/26"} <= set(s)]
        assert statistics.pstdev(changes) > 0.1, "every trust improved by the same amount"
        assert any(change <= 0 for change in changes) and any(change > 0.3 for change in changes)
        headline = dict(
            session.exec(
                select(MemberResponse.board_role, func.avg(MemberResponse.headline_score))
                .where(MemberResponse.headline_score.is_not(None))
                .group_by(MemberResponse.board_role)
            ).all()
        )
        assert headline["chair"] > headline["ned"]
        assert 4.5 < statistics.mean(float(v) for v in headline.values()) < 7.5
        not_yet_known = session.exec(
            select(func.count()).select_from(Rating).where(Rating.level.is_(None))
        ).one()
        assert not_yet_known > 0


def test_only_the_demo_sign_ins_can_sign_in(seeded: dict) -> None:
    with Session(seeded["engine_a"]) as session:
        with_password = session.exec(select(User.email).where(User.password_hash.is_not(None))).all()
        assert sorted(with_password) == sorted(
            f"{who}@demo.example.org" for who in ("chair", "ned", "secretary", "analyst", "admin")
        )


def test_the_demo_chairs_board_has_an_action_plan_carried_forward_and_a_baf_risk(seeded: dict) -> None:
    from api.actions.models import Action, ActionNote
    from api.baf.models import BafRisk

    with Session(seeded["engine_a"]) as session:
        chair = session.exec(select(User).where(User.email == "chair@demo.example.org")).one()
        trust = session.exec(
            select(Membership.organisation_id).where(
                Membership.user_id == chair.id, Membership.role == "chair"
            )
        ).one()
        cycles = {c.id: c.name for c in session.exec(select(Cycle)).all()}
        actions = session.exec(select(Action).where(Action.organisation_id == trust)).all()
        by_year: dict[str, list[Action]] = {}
        for action in actions:
            by_year.setdefault(cycles[session.get(Assessment, action.assessment_id).cycle_id], []).append(
                action
            )
        last_year, this_year = by_year["2025/26"], by_year["2026/27"]
        assert sorted(a.status for a in last_year) == ["done", "done", "in_progress", "not_started"]
        # The two unfinished ones were carried into this year's assessment, as opening it does.
        carried = [a for a in this_year if a.carried_from_action_id is not None]
        assert {a.carried_from_action_id for a in carried} == {a.id for a in last_year if a.status != "done"}
        assert len(this_year) == 3
        assert all(a.created_at.year == 2025 or a.created_at.date() < date(2026, 4, 1) for a in last_year)
        assert session.exec(select(func.count()).select_from(ActionNote)).one() >= 1
        risk = session.exec(select(BafRisk).where(BafRisk.organisation_id == trust)).one()
        assert (
            cycles[risk.cycle_id] == "2026/27" and risk.residual_likelihood * risk.residual_consequence == 12
        )
        # Above its "cautious 4–6" appetite, with the reason, a date, and the lead committee's assurance.
        assert (risk.appetite_level, risk.appetite_high, risk.assurance_level) == ("cautious", 6, "limited")
        assert risk.appetite_rationale and risk.target_date is not None
        linked = {i for gap in risk.gaps for i in gap["action_ids"]}
        assert linked and linked <= {a.id for a in this_year}
