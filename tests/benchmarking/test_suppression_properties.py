"""Property tests of peer-benchmark suppression (docs/anonymity.md), for any scores, groups and K.

The rule under test: no median, quartile or count is shown unless at least K other trusts
contribute (the asking trust taken out first); counts only ever as bands; figures rounded to 0.5
below 2 × K peers, else to 0.1. Expected figures are worked out exactly from the rule (fractions),
and every figure shown is checked to be the rounded statistic of a known set of K or more genuine
peers, so a figure from fewer than K cannot pass.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from datetime import date
from fractions import Fraction
from types import SimpleNamespace

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, text
from sqlmodel import Session, select

from api.accounts.models import User
from api.assessments.models import Assessment, ConsensusRating
from api.benchmarking.groups import GROUP_KINDS, group_value
from api.benchmarking.maths import count_band, peer_stats, precision_for, quartile_of, round_to
from api.benchmarking.models import PeerSnapshot
from api.benchmarking.service import after_submission, benchmark, refresh_snapshots, trend
from api.db import metadata
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.organisations.models import Organisation
from api.organisations.types import REGIONS
from api.scoring.maths import one_decimal
from api.scoring.models import OVERALL_KEY
from api.scoring.service import store_scores_bulk
from api.settings import Settings
from tests.conftest import REFERENCE_TABLES
from tests.factories import add_membership, api_token, bearer, make_cycle, make_user
from tests.scoring.test_scoring_properties import (
    HALF,
    TENTH,
    exact_mean,
    exact_quartiles,
    round_half_away,
    score_fractions,
)

PROPERTY = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
ks = st.integers(2, 12)

# ---------------------------------------------------------------------------------------------
# The documented rule, exactly.

# "5–9", "10–19", "20–49", …: after the first band (from K), bands start at 10, 20, 50, 100, 200, 500 …
SERIES = {m * 10**e for e in range(1, 8) for m in (1, 2, 5)}


def band_bounds(band: str, k: int) -> tuple[int, int | None] | None:
    """The counts a band stands for: None for "fewer than K", (lo, None) for "lo or more"."""
    if band == f"fewer than {k}":
        return None
    if match := re.fullmatch(r"(\d+)–(\d+)", band):
        return int(match[1]), int(match[2])
    match = re.fullmatch(r"(\d+) or more", band)
    assert match, f"not a count band: {band!r}"
    return int(match[1]), None


def expected_figures(values: list[Fraction], k: int) -> tuple[float, float, float, float] | None:
    """(q1, median, q3, step) as they may be shown, or None when suppressed."""
    if len(values) < k:
        return None
    step = HALF if len(values) < 2 * k else TENTH
    q1, median, q3 = (float(round_half_away(q, step)) for q in exact_quartiles(values))
    return q1, median, q3, float(step)


def documented_quartile(own: float, q1: float, median: float, q3: float) -> int:
    if own < q1:
        return 1
    if own < median:
        return 2
    if own < q3:
        return 3
    return 4


# ---------------------------------------------------------------------------------------------
# The maths, for any scores and any K.


@PROPERTY
@given(values=st.lists(score_fractions(), max_size=40), k=ks)
def test_peer_figures_are_suppressed_below_k_and_otherwise_rounded_quartiles_of_all_of_them(
    values: list[Fraction], k: int
) -> None:
    stats = peer_stats([float(v) for v in values], k)
    expected = expected_figures(values, k)
    assert stats.n == len(values)
    if expected is None:
        assert stats.suppressed
        assert (stats.median, stats.q1, stats.q3, stats.precision) == (None, None, None, None)
        return
    assert not stats.suppressed
    assert (stats.q1, stats.median, stats.q3, stats.precision) == expected
    # Nothing finer than the step: halves below 2K peers, tenths from 2K.
    for figure in (stats.q1, stats.median, stats.q3):
        assert math.isclose(figure / stats.precision, round(figure / stats.precision), abs_tol=1e-9)
    assert stats.q1 <= stats.median <= stats.q3
    assert precision_for(len(values), k) == stats.precision


@PROPERTY
@example(scores={i: Fraction(i, 2) for i in range(1, 6)}, k=5, data=None)  # K with itself: 4 peers
@given(scores=st.dictionaries(st.integers(1, 60), score_fractions(), max_size=25), k=ks, data=st.data())
def test_the_asking_trust_is_left_out_before_anything_is_worked_out(
    scores: dict[int, Fraction], k: int, data: st.DataObject | None
) -> None:
    # The asking trust: mostly one of the group (as when it has submitted), sometimes not.
    if data is None:
        own = min(scores)
    else:
        own = data.draw((st.sampled_from(sorted(scores)) if scores else st.nothing()) | st.integers(1, 60))
    snapshot = PeerSnapshot(
        cycle_id=1,
        group_kind="region",
        group_value="London",
        assessment_ids=sorted(scores),
        scores={"accountability": {str(i): float(v) for i, v in scores.items()}},
    )
    peers = [v for i, v in scores.items() if i != own]
    stats = peer_stats(snapshot.values("accountability", excluding=own), k)
    expected = expected_figures(peers, k)
    if expected is None:
        assert stats.suppressed and stats.median is None
    else:
        assert len(peers) >= k and (stats.q1, stats.median, stats.q3, stats.precision) == expected


@PROPERTY
@given(n=st.integers(0, 120) | st.integers(0, 30_000), k=st.integers(2, 60))
def test_counts_are_only_ever_shown_as_bands(n: int, k: int) -> None:
    text = count_band(n, k)
    bounds = band_bounds(text, k)
    if n < k:
        # No number at all below K, not even the exact count.
        assert bounds is None and re.sub(r"\d", "", text) == "fewer than "
        return
    assert bounds is not None
    lo, hi = bounds
    assert k <= lo <= n and (hi is None or n <= hi)
    assert lo == k or lo in SERIES
    assert hi is None or hi + 1 in SERIES
    # A band stands for more than one count: the exact count is never shown.
    assert hi is None or hi > lo
    # Going up by one is visible only when crossing into the next documented band.
    after = band_bounds(count_band(n + 1, k), k)
    assert after == bounds or (after is not None and after[0] == n + 1)


@PROPERTY
@given(value=st.integers(-400, 400).map(lambda n: Fraction(n, 100)) | score_fractions(24))
def test_rounding_to_a_step_is_half_away_from_zero(value: Fraction) -> None:
    for step in (HALF, TENTH):
        assert round_to(float(value), float(step)) == float(round_half_away(value, step))


@PROPERTY
@given(values=st.lists(score_fractions(), max_size=30), k=ks, data=st.data())
def test_quartile_is_placed_against_the_figures_as_shown(
    values: list[Fraction], k: int, data: st.DataObject
) -> None:
    stats = peer_stats([float(v) for v in values], k)
    # The board's own shown score: anywhere, or exactly on one of the figures (the boundaries).
    figures = [f for f in (stats.q1, stats.median, stats.q3) if f is not None]
    shown_own = data.draw(
        st.none()
        | score_fractions().map(lambda own: one_decimal(float(own)))
        | (st.sampled_from(figures) if figures else st.nothing()),
        label="own",
    )
    placed = quartile_of(shown_own, stats)
    if stats.suppressed or shown_own is None:
        assert placed is None
    else:
        assert placed == documented_quartile(shown_own, stats.q1, stats.median, stats.q3)


# ---------------------------------------------------------------------------------------------
# Through the database: a random small sector, signed off through the real scoring and snapshot
# services, then every benchmark as the service and the API give it to a chair.

DB_PROPERTY = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# The one signed-in person of a test (and their API token) is kept from example to example:
# signing in again each time would cost an argon2 check per example.
PEOPLE_TABLES = ("user_account", "api_token")


def empty_trust_data(engine: Engine, keep: tuple[str, ...] = ()) -> None:
    """conftest's empty_tables, by DELETE: a TRUNCATE of every table per example is too slow on
    PostgreSQL (half a second). The append-only audit table refuses DELETE there: it alone is truncated."""
    postgresql = engine.dialect.name == "postgresql"
    with engine.begin() as connection:
        for table in reversed(metadata.sorted_tables):
            if table.name in REFERENCE_TABLES or table.name in keep:
                continue
            if postgresql and table.name == "audit_event":
                connection.execute(text("TRUNCATE audit_event"))
            else:
                connection.execute(table.delete())


def _reference(session: Session) -> dict:
    organisations = list(session.exec(select(Organisation).order_by(Organisation.ods_code)).all())
    rows = session.exec(
        select(FrameworkSection, Criterion)
        .join(Criterion, Criterion.section_id == FrameworkSection.id)
        .join(FrameworkRecord, FrameworkRecord.id == Criterion.framework_id)
        .where(FrameworkRecord.key == "race-equality-board-v1")
        .order_by(FrameworkSection.number, Criterion.position)
    ).all()
    return {
        "organisations": organisations,
        "by_region": {r: [o for o in organisations if o.region == r] for r in REGIONS},
        "criteria": [(section.key, section.kind, criterion) for section, criterion in rows],
    }


def _expected_scores(levels: dict[str, list[int]], kinds: dict[str, str]) -> dict[str, Fraction]:
    """docs/scoring.md: section = mean of its agreed levels; overall = mean of the priority scores."""
    scores = {key: exact_mean(agreed) for key, agreed in levels.items() if agreed}
    priorities = [score for key, score in scores.items() if kinds[key] == "priority"]
    scores[OVERALL_KEY] = exact_mean(priorities)
    return scores


def seed_sector(session: Session, reference: dict, data: st.DataObject, k: int) -> dict:
    """A few trusts (many in one region, a few anywhere), each signed off or left as a draft in a
    random order through store_scores and after_submission, as sign-off does; perhaps closed."""
    cycle = make_cycle(session)
    region = data.draw(st.sampled_from(REGIONS), label="region")
    in_region = reference["by_region"][region]
    how_many = data.draw(st.integers(max(0, k - 2), 2 * k + 2), label="in region")
    picked = data.draw(st.permutations(in_region), label="which")[:how_many]
    picked += data.draw(
        st.lists(st.sampled_from(reference["organisations"]), unique_by=lambda o: o.id, max_size=6),
        label="anywhere",
    )
    picked = list({o.id: o for o in picked}.values())
    kinds = {key: kind for key, kind, _c in reference["criteria"]}
    assessments = [
        Assessment(organisation_id=o.id, cycle_id=cycle.id, framework_id=cycle.framework_id) for o in picked
    ]
    session.add_all(assessments)
    session.flush()
    trusts = []
    rows = []
    for organisation, assessment in zip(picked, assessments, strict=True):
        submitted = data.draw(st.integers(0, 4), label="status") > 0
        tendency = data.draw(st.integers(0, 4), label="tendency")
        rng = random.Random(data.draw(st.integers(0, 2**16), label="levels"))
        levels: dict[str, list[int]] = defaultdict(list)
        for key, _kind, criterion in reference["criteria"]:
            if criterion.applies_to and organisation.trust_type not in criterion.applies_to:
                continue
            level = min(4, max(0, tendency + rng.choice((-2, -1, 0, 0, 1))))
            levels[key].append(level)
            rows.append({"assessment_id": assessment.id, "criterion_id": criterion.id, "level": level})
        trusts.append(
            {
                "organisation": organisation,
                "assessment": assessment,
                "submitted": submitted,
                "scores": _expected_scores(levels, kinds),
            }
        )
    if rows:
        session.execute(insert(ConsensusRating), rows)
    # Scores stored first, in one go, then each sign-off in turn with its snapshot refresh, as the
    # sign-off transaction does. Drafts get stored scores too (as a stale or probing row would be):
    # they must still never appear, neither as a peer nor as the board's own figures.
    store_scores_bulk(session, [t["assessment"].id for t in trusts])
    for trust in data.draw(st.permutations(trusts), label="sign-off order"):
        if trust["submitted"]:
            assessment = trust["assessment"]
            assessment.status = "submitted"
            session.add(assessment)
            session.flush()
            after_submission(session, assessment, k)
    session.commit()
    closed = data.draw(st.booleans(), label="closed")
    if closed:
        refresh_snapshots(session, cycle, k, today=date(2027, 4, 1))
        session.commit()
    return {"cycle": cycle, "trusts": trusts, "closed": closed}


def _peers_behind(session: Session, sector: dict, trust: dict, kind: str) -> list[dict] | None:
    """The trusts whose scores sit behind this trust's benchmark: its group's snapshot, less itself.
    Checked to be genuine peers: submitted, in the same group."""
    value = group_value(trust["organisation"], kind)
    snapshot = session.exec(
        select(PeerSnapshot).where(
            PeerSnapshot.cycle_id == sector["cycle"].id,
            PeerSnapshot.group_kind == kind,
            PeerSnapshot.group_value == value,
        )
    ).first()
    if snapshot is None:
        return None
    by_assessment = {t["assessment"].id: t for t in sector["trusts"]}
    members = [by_assessment[i] for i in snapshot.assessment_ids]
    assert all(m["submitted"] and group_value(m["organisation"], kind) == value for m in members)
    return [m for m in members if m is not trust]


def check_benchmark(answer: dict, trust: dict, peers: list[dict] | None, k: int) -> None:
    """One benchmark answer (as the API gives it) against the documented rule."""
    peers = peers or []
    assert answer["suppressed"] is (len(peers) < k)
    bounds = band_bounds(answer["peer_count_band"], k)
    if len(peers) < k:
        assert bounds is None and answer["precision"] is None
    else:
        assert (
            bounds is not None and bounds[0] <= len(peers) and (bounds[1] is None or len(peers) <= bounds[1])
        )
        assert answer["precision"] == (0.5 if len(peers) < 2 * k else 0.1)
    for section in answer["sections"]:
        key = section["key"]
        own = trust["scores"].get(key) if trust["submitted"] else None
        assert section["own"] == (float(round_half_away(own, TENTH)) if own is not None else None)
        values = [p["scores"][key] for p in peers if key in p["scores"]]
        expected = None if answer["suppressed"] else expected_figures(values, k)
        shown = (section["q1"], section["median"], section["q3"])
        if expected is None:
            assert (
                section["suppressed"] is True and shown == (None, None, None) and section["quartile"] is None
            )
            continue
        # Shown: the rounded quartiles of these K or more peers, nothing else.
        assert len(values) >= k and section["suppressed"] is False
        assert shown == expected[:3]
        if section["own"] is None:
            assert section["quartile"] is None
        else:
            assert section["quartile"] == documented_quartile(section["own"], *shown)


def check_trend(point: object, trust: dict, peers: list[dict] | None, k: int) -> None:
    """The trend's peer median: the overall scores' median of K or more peers, else nothing."""
    expected = expected_figures([p["scores"][OVERALL_KEY] for p in peers or []], k)
    assert point.suppressed is (expected is None)
    assert point.peer_median == (expected[1] if expected else None)
    own = trust["scores"][OVERALL_KEY] if trust["submitted"] else None
    assert point.own == (float(round_half_away(own, TENTH)) if own is not None else None)


def _as_answer(result) -> dict:  # noqa: ANN001 - a service Benchmark, shaped as the API shapes it
    return {
        "suppressed": result.suppressed,
        "peer_count_band": result.peer_count_band,
        "precision": result.precision,
        "sections": [
            {
                "key": s.key,
                "own": s.own,
                "q1": s.stats.q1,
                "median": s.stats.median,
                "q3": s.stats.q3,
                "quartile": s.quartile,
                "suppressed": s.stats.suppressed,
            }
            for s in result.sections
        ],
    }


@pytest.fixture
def chair_token(client: TestClient, db: Session) -> tuple[User, str]:
    """A person signed in to the API once; each example makes them chair of its asking trust."""
    user = make_user(db, "chair@asker.example.org")
    return user, api_token(client, "chair@asker.example.org")


@DB_PROPERTY
@given(data=st.data())
def test_no_benchmark_shows_a_figure_from_fewer_than_k_peers(
    client: TestClient,
    clean_database: Engine,
    settings: Settings,
    chair_token: tuple[User, str],
    data: st.DataObject,
) -> None:
    """A small sector (K 3 to 6; a cluster around K in one region, a few trusts anywhere, some left
    as drafts), signed off in a random order through the real scoring and snapshot services, perhaps
    closed. Then benchmarks and trends from the service (that K) and the chair's API (the app's K):
    every figure is the rounded statistic of K or more genuine peers, scores worked out by hand."""
    app_k = settings.k_anonymity  # the K the app under test reads
    engine = clean_database
    empty_trust_data(engine, keep=PEOPLE_TABLES)  # each example: the reference data and the chair alone
    with Session(engine, expire_on_commit=False) as session:
        reference = _reference(session)
        k = data.draw(st.integers(3, 6), label="K")
        sector = seed_sector(session, reference, data, k)
        if not sector["trusts"]:
            return
        # The service, with the K the snapshots were taken with, for a few of the trusts.
        for trust in data.draw(
            st.lists(st.sampled_from(sector["trusts"]), min_size=1, max_size=2, unique_by=id), label="askers"
        ):
            assessment = session.get(Assessment, trust["assessment"].id)
            for kind in GROUP_KINDS:
                result = benchmark(session, assessment, kind, k)
                event(f"service: {'suppressed' if result.suppressed else 'shown'}")
                peers = _peers_behind(session, sector, trust, kind)
                check_benchmark(_as_answer(result), trust, peers, k)
                (point,) = trend(session, trust["organisation"].id, kind, k)
                check_trend(point, trust, peers, k)
        session.rollback()
        # The API, as the chair of one trust sees it (the app's K).
        chair = sector["trusts"][0]
        user, token = chair_token
        add_membership(session, session.get(User, user.id), chair["organisation"].ods_code, "chair")
        assessment_id = chair["assessment"].id
        for kind in GROUP_KINDS:
            response = client.get(
                f"/api/v1/assessments/{assessment_id}/benchmark",
                params={"group": kind},
                headers=bearer(token),
            )
            assert response.status_code == 200, response.text
            answer = response.json()
            assert not ({"peer_count", "n", "count"} & set(answer)), "an exact count left the service"
            peers = _peers_behind(session, sector, chair, kind)
            check_benchmark(answer, chair, peers, app_k)
            event(f"API {kind}: {'suppressed' if answer['suppressed'] else 'shown'}")
        # The year-on-year trend's peer median, for one of the groups.
        kind = data.draw(st.sampled_from(GROUP_KINDS), label="trend group")
        response = client.get(
            f"/api/v1/assessments/{assessment_id}/trend", params={"group": kind}, headers=bearer(token)
        )
        assert response.status_code == 200, response.text
        (point,) = response.json()["points"]
        check_trend(SimpleNamespace(**point), chair, _peers_behind(session, sector, chair, kind), app_k)
