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
from api.frameworks.models import Criterion, FrameworkRecord
from api.organisations.models import Organisation
from api.scoring.models import StoredScore
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


def test_the_open_year_is_on_version_2_and_earlier_years_on_version_1(seeded: dict) -> None:
    with Session(seeded["engine_a"]) as session:
        framework_of = {
            cycle.name: session.get(FrameworkRecord, cycle.framework_id).key  # type: ignore[union-attr]
            for cycle in session.exec(select(Cycle)).all()
        }
        assert framework_of == {
            "2024/25": "race-equality-board-v1",
            "2025/26": "race-equality-board-v1",
            "2026/27": "race-equality-board-v2",
        }
        cycle_framework = {c.id: c.framework_id for c in session.exec(select(Cycle)).all()}
        for assessment in session.exec(select(Assessment)).all():
            assert assessment.framework_id == cycle_framework[assessment.cycle_id]


def test_on_version_2_members_rate_perception_items_and_the_board_answers_fact_items_once(
    seeded: dict,
) -> None:
    with Session(seeded["engine_a"]) as session:
        v2 = session.exec(
            select(FrameworkRecord).where(FrameworkRecord.key == "race-equality-board-v2")
        ).one()
        kind = {
            c.id: c.kind for c in session.exec(select(Criterion).where(Criterion.framework_id == v2.id)).all()
        }
        rated_kinds = {
            kind[criterion_id]
            for criterion_id in session.exec(
                select(Rating.criterion_id)
                .join(Assessment)
                .where(Assessment.framework_id == v2.id)
                .distinct()
            ).all()
        }
        assert rated_kinds == {"perception"}
        answered = session.exec(
            select(ConsensusRating.criterion_id, ConsensusRating.updated_by_id, Assessment.status)
            .join(Assessment)
            .where(Assessment.framework_id == v2.id)
        ).all()
        facts = [row for row in answered if kind[row[0]] == "fact"]
        assert facts, "no fact item was answered for any board"
        # Boards still rating have fact items answered already: the secretary files them from records.
        assert any(status == "in_progress" for _, _, status in facts)
        secretaries = set(
            session.exec(select(Membership.user_id).where(Membership.board_role == "secretary")).all()
        )
        assert sum(by in secretaries for _, by, _ in facts) > len(facts) / 2
        signed_off = session.exec(
            select(Assessment).where(Assessment.framework_id == v2.id, Assessment.status == "submitted")
        ).all()
        assert signed_off
        for assessment in signed_off[:5]:
            agreed = set(
                session.exec(
                    select(ConsensusRating.criterion_id).where(ConsensusRating.assessment_id == assessment.id)
                ).all()
            )
            assert {c for c, k in kind.items() if k == "fact"} <= agreed | _not_applicable(
                session, assessment, v2
            )


def _not_applicable(session: Session, assessment: Assessment, framework: FrameworkRecord) -> set[int | None]:
    trust_type = session.get(Organisation, assessment.organisation_id).trust_type  # type: ignore[union-attr]
    return {
        c.id
        for c in session.exec(select(Criterion).where(Criterion.framework_id == framework.id)).all()
        if c.applies_to and trust_type not in c.applies_to
    }


def test_scores_carry_across_the_move_to_version_2(seeded: dict) -> None:
    """A board's profile continues through the new version: last year's weakest priorities are,
    for most boards, still below their strongest."""
    with Session(seeded["engine_a"]) as session:
        cycles = {c.name: c.id for c in session.exec(select(Cycle)).all()}
        scores: dict[tuple[int, str], dict[str, float]] = {}
        for organisation_id, name, section_key, score in session.exec(
            select(Assessment.organisation_id, Cycle.name, StoredScore.section_key, StoredScore.score)
            .join(Assessment, Assessment.id == StoredScore.assessment_id)
            .join(Cycle, Cycle.id == Assessment.cycle_id)
            .where(StoredScore.kind == "priority", Cycle.id.in_([cycles["2025/26"], cycles["2026/27"]]))  # type: ignore[attr-defined]
        ).all():
            scores.setdefault((organisation_id, name), {})[section_key] = float(score)
        pairs = [
            (scores[(o, "2025/26")], scores[(o, "2026/27")])
            for (o, name) in scores
            if name == "2026/27" and (o, "2025/26") in scores
        ]
        assert len(pairs) > 20
        agree = 0
        for before, after in pairs:
            low, high = min(before, key=before.__getitem__), max(before, key=before.__getitem__)
            agree += after[low] < after[high]
        assert agree > 0.7 * len(pairs)
