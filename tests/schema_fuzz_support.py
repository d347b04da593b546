"""Machinery for tests/test_api_schema_fuzz.py: a small sector to fuzz the JSON API against, the
values that exist in it (so generated requests reach real objects), and tokens for each role.

The sector (built once for each role the fuzzer signs in as, and emptied after):

- trust OWN: a chair, a NED and a board secretary (the roles signed in), two spare NEDs and an
  invited one; 2026/27 (open) in progress, with the chair's and the NED's ratings of a few criteria
  and their headline answers, and an agreed rating with a link and an uploaded PDF; 2025/26
  (closed) submitted, every criterion agreed, its scores stored; this year's action (a criterion,
  a note), two spare actions and last year's; a BAF risk in each cycle (this year's on its second
  version); a few audit events;
- trust OTHER: a chair and a NED, an assessment with a rating, an agreed rating with a link, and
  an action (another trust's ids: each must answer 404 to OWN's people);
- PEER_COUNT trusts of OWN's peer type, submitted in both cycles with their scores stored, and the
  peer snapshots taken: benchmarks, the trend and the sector heatmap have figures to show;
- a sector analyst and a platform admin, each with a second factor.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlmodel import Session, select

from api.accounts.models import Membership, User
from api.accounts.roles import PLATFORM_ROLES
from api.accounts.sessions import issue_api_token
from api.actions.models import Action, ActionCriterion, ActionNote
from api.assessments.models import (
    Assessment,
    ConsensusRating,
    Cycle,
    Evidence,
    EvidenceFileContent,
    MemberResponse,
    Rating,
)
from api.assessments.repository import criteria_of
from api.audit.service import record
from api.baf.models import BafRisk, BafRiskVersion
from api.benchmarking.service import refresh_snapshots
from api.db import utcnow
from api.frameworks.models import Criterion, FrameworkRecord, FrameworkSection
from api.organisations.models import Organisation
from api.scoring.service import store_scores_bulk
from api.settings import Settings
from tests.factories import PASSWORD, api_token, make_cycle, make_user, organisation

OWN = "RCF"  # Airedale NHS Foundation Trust (acute): the trust whose people are signed in
OTHER = "RBS"  # Alder Hey Children's NHS Foundation Trust: another trust, whose ids must be 404
PEER_COUNT = 6  # more than K (5), so OWN's peer type is shown, and smaller groups are suppressed
CURRENT_CYCLE = "2026/27"
PREVIOUS_CYCLE = "2025/26"
ANONYMOUS = "anonymous"
TRUST_ROLES = ("chair", "board_member", "board_secretary")
ROLES = (*TRUST_ROLES, *PLATFORM_ROLES, ANONYMOUS)
# A file the evidence check accepts (it reads the first bytes, not the name).
PDF_BYTES = b"%PDF-1.4\n% schema fuzz evidence\n%%EOF\n"


@dataclass
class FuzzWorld:
    """What one built sector holds, each list with the most useful value first."""

    engine: Engine
    settings: Settings
    user_ids: dict[str, int]  # by role
    sign_in: list[str]  # emails with a password: the NED's, the platform admin's (second factor)
    framework_key: str
    cycles: list[str]  # this year's, last year's
    assessments: list[int]  # OWN's this year, OWN's last year, OTHER's
    actions: list[int]  # OWN's this year, OWN's last year, OTHER's
    spare_actions: list[int]  # OWN's, for requests that may change or remove one
    evidence: list[int]  # OWN's file, OWN's link, OTHER's link
    spare_evidence: list[int]  # OWN's links, for requests that may remove one
    memberships: list[int]  # OWN's invited NED, a spare NED, OTHER's NED
    spare_memberships: list[int]  # OWN's spare NEDs, for requests that may change or remove one
    criterion_keys: list[str]  # one nobody has rated (a first answer is saved), then rated ones
    section_keys: list[str]  # two priorities, then the BAF section
    trusts: list[str] = field(default_factory=lambda: [OWN, OTHER, OWN.lower()])

    def known_values(self, name: str, method: str) -> list[Any]:
        """Values for the path or query parameter, or the body field, `name` that mean something
        here, the most useful first: the own trust's own object (a spare one for requests that
        may remove or change it), then others (last year's, another trust's). Empty for a name it
        knows nothing of."""
        changes = method in ("DELETE", "PATCH")
        today = date.today()
        values: dict[str, list[Any]] = {
            # Path and query parameters
            "ods_code": self.trusts,
            "assessment_id": self.assessments,
            "action_id": self.spare_actions + self.actions if changes else self.actions,
            "evidence_id": self.spare_evidence + self.evidence if method == "DELETE" else self.evidence,
            "membership_id": self.spare_memberships + self.memberships if changes else self.memberships,
            "criterion_key": self.criterion_keys,
            "key": [self.framework_key],
            "cycle": self.cycles,
            # Body fields
            "criterion": self.criterion_keys,
            "criteria": [self.criterion_keys[:1], self.criterion_keys[1:3]],
            "section": self.section_keys,
            "due_date": [(today + timedelta(days=60)).isoformat(), (today - timedelta(days=1)).isoformat()],
            "noted_on": [today.isoformat()],
            "file": [PDF_BYTES],
            "username": self.sign_in,
            "password": [PASSWORD],
        }
        return values.get(name, [])

    def token_for(self, role: str) -> str | None:
        """A new API token for the role's person (None for nobody): new for every test, so a test
        that revokes the caller's tokens (POST /api/v1/auth/revoke) spoils no later one."""
        if role == ANONYMOUS:
            return None
        with Session(self.engine) as db:
            user = db.get(User, self.user_ids[role])
            assert user is not None
            _token, raw = issue_api_token(
                db, user, self.settings, second_factor_at=utcnow() if user.totp_enabled_at else None
            )
            db.commit()
        return raw


def without_waiting_for_disk(database_url: str) -> str:
    """On PostgreSQL, commits that do not wait for the disk (the fuzzer commits thousands of
    times, and nothing here needs to survive a crash). What each transaction sees is unchanged."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return database_url
    return url.update_query_dict({"options": "-c synchronous_commit=off"}).render_as_string(
        hide_password=False
    )


def cycle_dates(today: date | None = None) -> tuple[date, date]:
    """2026/27's dates, widened to include today so the cycle is open whatever the clock says."""
    today = today or date.today()
    return min(date(2026, 4, 1), today - timedelta(days=30)), max(
        date(2027, 3, 31), today + timedelta(days=30)
    )


# --- Building the sector ------------------------------------------------------------------------


def _peers(db: Session, own: Organisation, count: int) -> list[Organisation]:
    """Trusts of OWN's peer type, those sharing its region and size band first."""
    candidates = db.exec(
        select(Organisation)
        .where(Organisation.peer_type == own.peer_type, Organisation.ods_code.not_in([OWN, OTHER]))  # type: ignore[attr-defined]
        .order_by(Organisation.ods_code)
    ).all()
    ranked = sorted(
        candidates, key=lambda o: (o.region != own.region, o.size_band != own.size_band, o.ods_code)
    )
    return list(ranked[:count])


def _agree_everything(
    db: Session, assessment: Assessment, criteria: Sequence[Criterion], rng: random.Random, by: User | None
) -> None:
    db.add_all(
        ConsensusRating(
            assessment_id=assessment.id,  # type: ignore[arg-type]
            criterion_id=criterion.id,  # type: ignore[arg-type]
            level=rng.randint(0, 4),
            rationale=f"Agreed at the board meeting ({criterion.key})",
            updated_by_id=by.id if by else None,
        )
        for criterion in criteria
    )


def _submitted(
    db: Session, org: Organisation, cycle: Cycle, rng: random.Random, by: User | None = None
) -> Assessment:
    assessment = Assessment(
        organisation_id=org.id,  # type: ignore[arg-type]
        cycle_id=cycle.id,  # type: ignore[arg-type]
        framework_id=cycle.framework_id,
        status="submitted",
        opened_by_id=by.id if by else None,
        submitted_by_id=by.id if by else None,
        submitted_at=utcnow() - timedelta(days=30),
    )
    db.add(assessment)
    db.flush()
    _agree_everything(db, assessment, [c for _s, c in criteria_of(db, assessment)], rng, by)
    return assessment


def build_world(engine: Engine, settings: Settings) -> FuzzWorld:
    rng = random.Random(2026)
    with Session(engine, expire_on_commit=False) as db:
        opens, closes = cycle_dates()
        current = make_cycle(db, CURRENT_CYCLE, opens, closes)
        previous = make_cycle(db, PREVIOUS_CYCLE, date(2025, 4, 1), date(2026, 3, 31))
        own, other = organisation(db, OWN), organisation(db, OTHER)

        people = {
            role: make_user(db, f"{role}@{OWN.lower()}.fuzz.example", role=role, trust=OWN)
            for role in ("chair", "board_member", "board_secretary")
        }
        spare = [
            make_user(db, f"spare.{n}@{OWN.lower()}.fuzz.example", trust=OWN, password=None) for n in (1, 2)
        ]
        invited = make_user(db, f"invited@{OWN.lower()}.fuzz.example", trust=OWN, password=None)
        other_chair = make_user(db, f"chair@{OTHER.lower()}.fuzz.example", role="chair", trust=OTHER)
        other_ned = make_user(db, f"ned@{OTHER.lower()}.fuzz.example", trust=OTHER)
        for role in PLATFORM_ROLES:
            user = make_user(db, f"{role}@platform.fuzz.example", platform_role=role)
            user.totp_secret = pyotp.random_base32()
            user.totp_enabled_at = utcnow()
            db.add(user)
            people[role] = user
        db.commit()

        def membership_id(user: User) -> int:
            row = db.exec(select(Membership).where(Membership.user_id == user.id)).one()
            assert row.id is not None
            return row.id

        # This year: OWN in progress, OTHER in progress.
        this_year = Assessment(
            organisation_id=own.id,  # type: ignore[arg-type]
            cycle_id=current.id,  # type: ignore[arg-type]
            framework_id=current.framework_id,
            opened_by_id=people["chair"].id,
        )
        other_year = Assessment(
            organisation_id=other.id,  # type: ignore[arg-type]
            cycle_id=current.id,  # type: ignore[arg-type]
            framework_id=current.framework_id,
            opened_by_id=other_chair.id,
        )
        db.add_all([this_year, other_year])
        db.flush()
        criteria = [c for _s, c in criteria_of(db, this_year)]
        other_keys = {c.key for _s, c in criteria_of(db, other_year)}
        shared = [c for c in criteria if c.key in other_keys]
        rated = shared[:4]
        for who, bias in ((people["chair"], 1), (people["board_member"], 0)):
            for n, criterion in enumerate(rated):
                db.add(
                    Rating(
                        assessment_id=this_year.id,  # type: ignore[arg-type]
                        respondent_id=who.id,  # type: ignore[arg-type]
                        criterion_id=criterion.id,  # type: ignore[arg-type]
                        level=None if n == 3 else min(4, n + bias),
                        comment=f"Rated by {who.name}",
                    )
                )
            db.add(
                MemberResponse(
                    assessment_id=this_year.id,  # type: ignore[arg-type]
                    respondent_id=who.id,  # type: ignore[arg-type]
                    board_role="chair" if who is people["chair"] else "ned",
                    headline_score=5 + bias,
                )
            )
        db.add(
            Rating(
                assessment_id=other_year.id,  # type: ignore[arg-type]
                respondent_id=other_ned.id,  # type: ignore[arg-type]
                criterion_id=rated[0].id,  # type: ignore[arg-type]
                level=2,
            )
        )
        agreed = ConsensusRating(
            assessment_id=this_year.id,  # type: ignore[arg-type]
            criterion_id=rated[0].id,  # type: ignore[arg-type]
            level=3,
            rationale="The WRES plan went to board in June",
            updated_by_id=people["chair"].id,
        )
        other_agreed = ConsensusRating(
            assessment_id=other_year.id,  # type: ignore[arg-type]
            criterion_id=rated[0].id,  # type: ignore[arg-type]
            level=1,
            rationale="Another trust's rationale",
            updated_by_id=other_chair.id,
        )
        db.add_all([agreed, other_agreed])
        db.flush()
        stored_name = f"fuzz-{rng.getrandbits(64):016x}.pdf"
        file_evidence = Evidence(
            consensus_rating_id=agreed.id,  # type: ignore[arg-type]
            kind="file",
            title="Board paper.pdf",
            stored_name=stored_name,
            content_type="application/pdf",
            size_bytes=len(PDF_BYTES),
            added_by_id=people["chair"].id,
        )
        links = [
            Evidence(
                consensus_rating_id=rating.id,  # type: ignore[arg-type]
                kind="link",
                title=title,
                url=f"https://example.org/{n}",
                added_by_id=people["chair"].id,
            )
            for n, (rating, title) in enumerate(
                [
                    (agreed, "Annual report"),
                    (other_agreed, "Another trust's report"),
                    (agreed, "Spare link 1"),
                    (agreed, "Spare link 2"),
                ]
            )
        ]
        db.add_all([file_evidence, *links])
        db.flush()
        db.add(EvidenceFileContent(evidence_id=file_evidence.id, data=PDF_BYTES))

        # Last year: OWN and the peers submitted (every criterion agreed, scores stored).
        last_year = _submitted(db, own, previous, rng, people["chair"])
        peers = _peers(db, own, PEER_COUNT)
        submitted = [last_year.id] + [
            _submitted(db, peer, cycle, rng).id for cycle in (previous, current) for peer in peers
        ]
        db.flush()
        store_scores_bulk(db, submitted)  # type: ignore[arg-type]

        # The action plan: this year's action (a criterion, a note), a spare, last year's, OTHER's.
        due = date.today() + timedelta(days=90)
        action = Action(
            assessment_id=this_year.id,  # type: ignore[arg-type]
            organisation_id=own.id,  # type: ignore[arg-type]
            title="Publish the WRES action plan",
            description="With the network chairs",
            owner="Director of People",
            due_date=due,
            status="in_progress",
            section_key=None,
            created_by_id=people["chair"].id,
        )
        spare_actions = [
            Action(
                assessment_id=this_year.id,  # type: ignore[arg-type]
                organisation_id=own.id,  # type: ignore[arg-type]
                title=f"Spare action {n}",
                due_date=due,
                created_by_id=people["chair"].id,
            )
            for n in (1, 2)
        ]
        old_action = Action(
            assessment_id=last_year.id,  # type: ignore[arg-type]
            organisation_id=own.id,  # type: ignore[arg-type]
            title="Last year's overdue action",
            due_date=date(2026, 1, 31),
            created_by_id=people["chair"].id,
        )
        other_action = Action(
            assessment_id=other_year.id,  # type: ignore[arg-type]
            organisation_id=other.id,  # type: ignore[arg-type]
            title="Another trust's action",
            due_date=due,
            created_by_id=other_chair.id,
        )
        db.add_all([action, *spare_actions, old_action, other_action])
        db.flush()
        db.add(ActionCriterion(action_id=action.id, criterion_key=rated[0].key))  # type: ignore[arg-type]
        db.add(
            ActionNote(
                action_id=action.id,  # type: ignore[arg-type]
                text="Draft shared with the people committee",
                noted_on=date.today(),
                author_id=people["chair"].id,
            )
        )

        # The BAF risk: last year's, and this year's on its second version.
        for cycle, version in ((previous, 1), (current, 2)):
            risk = BafRisk(
                organisation_id=own.id,  # type: ignore[arg-type]
                cycle_id=cycle.id,  # type: ignore[arg-type]
                description="The board does not hold itself to account for race equality",
                strategic_objective="A workforce that reflects the community",
                lead=people["chair"].name,
                inherent_likelihood=4,
                inherent_consequence=4,
                residual_likelihood=3,
                residual_consequence=3,
                target_likelihood=2,
                target_consequence=2,
                controls=["WRES action plan"],
                assurances=[{"line": 1, "source": "People committee report"}],
                gaps=[{"kind": "control", "text": "No targets yet", "action_ids": [action.id]}],
                version=version,
                updated_by_id=people["chair"].id,
            )
            db.add(risk)
            db.flush()
            if version > 1:
                db.add(
                    BafRiskVersion(
                        baf_risk_id=risk.id,  # type: ignore[arg-type]
                        version=1,
                        content={
                            "description": "First draft",
                            "strategic_objective": "",
                            "lead": "",
                            "inherent_likelihood": 3,
                            "inherent_consequence": 3,
                            "residual_likelihood": 3,
                            "residual_consequence": 2,
                            "target_likelihood": 1,
                            "target_consequence": 2,
                            "controls": [],
                            "assurances": [],
                            "gaps": [],
                        },
                        saved_by_id=people["chair"].id,
                        saved_at=utcnow() - timedelta(days=7),
                        replaced_by_id=people["chair"].id,
                    )
                )

        # A few audit events for the logs to show.
        for action_name, summary in (
            ("sign_in", "Signed in"),
            ("assessment.opened", f"Opened {CURRENT_CYCLE}"),
            ("rating.changed", "Rated a criterion"),
            ("consensus.changed", "Agreed a level"),
            ("export.downloaded", "Downloaded the workbook"),
        ):
            record(
                db,
                action_name,
                actor=people["chair"],
                organisation_id=own.id,
                object_type="assessment",
                object_id=this_year.id,
                summary=summary,
                client_ip="203.0.113.9",
            )
        db.commit()

        for cycle in (previous, current):
            refresh_snapshots(db, cycle, settings.k_anonymity)
        db.commit()

        sections = db.exec(
            select(FrameworkSection)
            .where(FrameworkSection.framework_id == current.framework_id)
            .order_by(FrameworkSection.number)  # type: ignore[arg-type]
        ).all()
        unrated = [c.key for c in criteria if c not in rated]
        framework = db.get(FrameworkRecord, current.framework_id)
        assert framework is not None
        world = FuzzWorld(
            engine=engine,
            settings=settings,
            user_ids={role: user.id for role, user in people.items()},  # type: ignore[misc]
            framework_key=framework.key,
            cycles=[CURRENT_CYCLE, PREVIOUS_CYCLE],
            assessments=[this_year.id, last_year.id, other_year.id],  # type: ignore[list-item]
            actions=[action.id, old_action.id, other_action.id],  # type: ignore[list-item]
            spare_actions=[a.id for a in spare_actions],  # type: ignore[misc]
            evidence=[file_evidence.id, links[0].id, links[1].id],  # type: ignore[list-item]
            spare_evidence=[links[2].id, links[3].id],  # type: ignore[list-item]
            memberships=[membership_id(invited), membership_id(spare[0]), membership_id(other_ned)],
            spare_memberships=[membership_id(spare[1]), membership_id(spare[0])],
            # An unrated criterion first: a first answer (version 0) to it is saved, not stale.
            criterion_keys=unrated[:1] + [c.key for c in rated] + unrated[1:2],
            section_keys=[s.key for s in sections[:2]] + [s.key for s in sections if s.kind == "baf"],
            sign_in=[people["board_member"].email, people["platform_admin"].email],
        )
    return world


def sign_in_through_the_api(client: TestClient, world: FuzzWorld, role: str) -> None:
    """The role's person signs in once through the real token endpoint (with a two-factor code
    for the platform roles), as an API client would: the fuzzing then uses tokens of its own."""
    if role == ANONYMOUS:
        return
    with Session(world.engine) as db:
        user = db.get(User, world.user_ids[role])
        assert user is not None
        email, secret = user.email, user.totp_secret
    otp = pyotp.TOTP(secret).now() if secret else None
    token = api_token(client, email, otp=otp)
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200, me.text
