"""A board with an open assessment to test the action plan and the BAF risk with, and HTTP shortcuts.

The board (chair, secretary, three NEDs of RCF; RBS's chair and NED) comes from the assessment tests'
helpers. Later reads and direct changes go through short sessions of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, update
from sqlmodel import Session, select

from api.actions.models import Action
from api.actions.service import today_in_uk
from api.assessments.models import Assessment, Cycle
from api.frameworks.models import FrameworkRecord
from tests.assessments.helpers import Board, Person, open_assessment
from tests.factories import organisation

SECTION = "accountability"
CRITERION = "accountability-smart-objectives"
OTHER_CRITERION = "education-induction"
PCREF = "patients-inequalities-pcref"  # mental health trusts only; RCF is an acute trust


def today() -> date:
    return today_in_uk()


def in_days(days: int) -> str:
    return (today() + timedelta(days=days)).isoformat()


def action_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Agree SMART race equality objectives",
        "description": "One objective per board member, reviewed at appraisal.",
        "owner": "Chair",
        "due_date": in_days(60),
        "status": "not_started",
        "criteria": [CRITERION],
    }
    body.update(overrides)
    return body


@dataclass
class Plan:
    """Trust RCF's board and its open 2026/27 assessment."""

    board: Board
    assessment_id: int

    @property
    def client(self):  # noqa: ANN201 - TestClient
        return self.board.client

    @property
    def engine(self) -> Engine:
        return self.board.engine

    def add(
        self, person: Person | None = None, assessment_id: int | None = None, **overrides: Any
    ) -> httpx.Response:
        return self.client.post(
            f"/api/v1/assessments/{assessment_id or self.assessment_id}/actions",
            json=action_body(**overrides),
            headers=(person or self.board.chair).headers,
        )

    def added(self, **overrides: Any) -> dict[str, Any]:
        response = self.add(**overrides)
        assert response.status_code == 201, response.text
        return response.json()

    def patch(self, action_id: int, person: Person | None = None, **body: Any) -> httpx.Response:
        return self.client.patch(
            f"/api/v1/actions/{action_id}", json=body, headers=(person or self.board.chair).headers
        )

    def get(self, path: str, person: Person | None = None) -> httpx.Response:
        return self.client.get(path, headers=(person or self.board.chair).headers)

    def note(
        self, action_id: int, text: str, noted_on: str | None = None, person: Person | None = None
    ) -> httpx.Response:
        body: dict[str, Any] = {"text": text}
        if noted_on:
            body["noted_on"] = noted_on
        return self.client.post(
            f"/api/v1/actions/{action_id}/notes", json=body, headers=(person or self.board.chair).headers
        )


def build_plan(board: Board) -> Plan:
    return Plan(board=board, assessment_id=open_assessment(board))


def set_action(engine: Engine, action_id: int, **values: Any) -> None:
    """Change an action behind the service's back (to make one overdue, say)."""
    with Session(engine) as session:
        session.execute(update(Action).where(Action.id == action_id).values(**values))  # type: ignore[arg-type]
        session.commit()


def add_previous_assessment(engine: Engine, trust: str = "RCF", name: str = "2025/26") -> int:
    """A closed 2025/26 cycle and the trust's assessment in it (as if opened last year)."""
    with Session(engine, expire_on_commit=False) as session:
        framework = session.exec(
            select(FrameworkRecord).where(FrameworkRecord.key == "race-equality-board-v1")
        ).one()
        cycle = Cycle(
            name=name, opens_on=date(2025, 4, 1), closes_on=date(2026, 3, 31), framework_id=framework.id
        )
        session.add(cycle)
        session.flush()
        assessment = Assessment(
            organisation_id=organisation(session, trust).id, cycle_id=cycle.id, framework_id=framework.id
        )
        session.add(assessment)
        session.commit()
        return assessment.id


def errors_of(response: httpx.Response) -> dict[str, str]:
    return {error["field"]: error["msg"] for error in response.json()["detail"]}
