"""JSON API: who has not finished rating, and reminding them (chair and board secretary)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from sqlmodel import Session

from api.accounts.models import User
from api.assessments.spread import uk_today
from api.client_ip import client_ip
from api.db import SessionDep
from api.deps import SettingsDep
from api.errors import error_responses
from api.permissions import ManagerApi
from api.reminders import service
from api.reminders.schemas import ReminderCreate, ReminderPublic, UnfinishedMemberPublic

router = APIRouter(prefix="/api/v1", tags=["assessments"])


@router.get("/assessments/{assessment_id}/reminders", response_model=list[UnfinishedMemberPublic])
def list_unfinished(session: SessionDep, access: ManagerApi) -> list[UnfinishedMemberPublic]:
    """Members (chair and board members on the board now) who have not finished rating, and whether
    they were reminded today. Names only: never what anyone said."""
    reminded = service.reminded_on(session, access.assessment.id, uk_today())  # type: ignore[arg-type]
    return [
        UnfinishedMemberPublic(user_id=user.id, name=user.name, reminded_today=user.id in reminded)  # type: ignore[arg-type]
        for user in service.unfinished_members(session, access.assessment)
    ]


@router.post(
    "/assessments/{assessment_id}/reminders",
    response_model=ReminderPublic,
    status_code=201,
    responses=error_responses(
        described={
            409: "Already reminded today (`reason`: already_reminded_today, `field`: user_id), "
            "or rating has closed (`reason`: rating_closed)",
            422: "The user is not a member of this board who has not finished rating",
        }
    ),
)
def send_reminder(
    body: ReminderCreate, request: Request, session: SessionDep, settings: SettingsDep, access: ManagerApi
) -> ReminderPublic:
    """Email one member a reminder to finish rating, through the outbox. At most one a member a UK
    day, whoever sends it: a second the same day answers 409 and sends nothing."""
    reminder = service.send_reminder(
        session,
        settings,
        access.principal,
        access.assessment,
        user_id=body.user_id,
        client_ip=client_ip(request),
    )
    return ReminderPublic(
        user_id=reminder.user_id, name=_name(session, reminder.user_id), sent_on=reminder.sent_on
    )


def _name(session: Session, user_id: int) -> str:
    user = session.get(User, user_id)
    assert user is not None
    return user.name
