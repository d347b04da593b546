"""A board with a version 2 assessment (trust RCF, 2026/27): chair, secretary, a NED, and trust RBS's
chair next door with an assessment of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.assessments.models import Assessment, Cycle
from api.frameworks.models import FrameworkRecord
from tests.factories import api_token, bearer, make_cycle, make_user, organisation

TRUST, OTHER_TRUST = "RCF", "RBS"
V2 = "race-equality-board-v2"
CHAIR, SECRETARY, NED, OTHER_CHAIR = (
    "chair@rcf.example.org",
    "secretary@rcf.example.org",
    "ned@rcf.example.org",
    "chair@rbs.example.org",
)


@dataclass
class World:
    assessment_id: int
    other_assessment_id: int
    cycle: Cycle

    @property
    def api(self) -> str:
        return f"/api/v1/assessments/{self.assessment_id}/indicators"

    @property
    def page(self) -> str:
        return f"/assessments/{self.assessment_id}/indicators"


def build_world(db: Session, framework_key: str = V2) -> World:
    cycle = make_cycle(db, "2026/27", date(2026, 4, 1), date(2027, 3, 31))
    framework = db.exec(select(FrameworkRecord).where(FrameworkRecord.key == framework_key)).one()
    cycle.framework_id = framework.id
    db.add(cycle)
    db.commit()
    make_user(db, CHAIR, role="chair", trust=TRUST, name="Ngozi Chairperson")
    make_user(db, SECRETARY, role="board_secretary", trust=TRUST, name="Ossian Secretan")
    make_user(db, NED, trust=TRUST, name="Quentin Ravelstone")
    make_user(db, OTHER_CHAIR, role="chair", trust=OTHER_TRUST, name="Other Chair")
    ids = []
    for code in (TRUST, OTHER_TRUST):
        assessment = Assessment(
            organisation_id=organisation(db, code).id, cycle_id=cycle.id, framework_id=framework.id
        )
        db.add(assessment)
        db.commit()
        ids.append(assessment.id)
    return World(assessment_id=ids[0], other_assessment_id=ids[1], cycle=cycle)


def put(client: TestClient, world: World, email: str = CHAIR, **body: Any):  # noqa: ANN201
    return client.put(world.api, json={"version": 0, **body}, headers=bearer(api_token(client, email)))


def get(client: TestClient, world: World, email: str = NED):  # noqa: ANN201
    return client.get(world.api, headers=bearer(api_token(client, email)))
