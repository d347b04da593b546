"""JSON routes: a person's own data (subject access) and the platform admin's erasure of a person."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from api.accounts.models import User
from api.client_ip import client_ip
from api.data_protection import service
from api.data_protection.schemas import ErasePerson, ErasurePublic
from api.db import SessionDep
from api.deps import CurrentUser
from api.errors import NotFound, error_responses
from api.integers import can_name_a_row
from api.permissions import PlatformAdminApi

router = APIRouter(prefix="/api/v1", tags=["data protection"])


@router.get("/me/data", responses=error_responses(401))
def my_data(session: SessionDep, principal: CurrentUser) -> dict[str, Any]:
    """Everything the service holds about you (subject access): never another member's ratings."""
    return service.personal_data(session, principal.user)


def person_to_erase(session: SessionDep, user_id: int) -> User:
    user = session.get(User, user_id) if can_name_a_row(user_id) else None
    if user is None or user.erased_at is not None:
        raise NotFound("Nobody with that number can be erased")
    return user


@router.post(
    "/admin/people/{user_id}/erase",
    response_model=ErasurePublic,
    responses=error_responses(
        401, 403, 404, 409, 422, described={403: "Only platform admins", 409: "Out of date, or not allowed"}
    ),
)
def erase_person_route(
    request: Request, user_id: int, body: ErasePerson, session: SessionDep, admin: PlatformAdminApi
) -> ErasurePublic:
    """Erase a person's name and email; their ratings stay, anonymous, so no figure changes. Final."""
    user = person_to_erase(session, user_id)
    erasure = service.erase_person(
        session, user=user, actor=admin.user, email=body.email, client_ip=client_ip(request)
    )
    return ErasurePublic(
        user_id=user_id,
        erased=True,
        ratings_kept_anonymously=erasure.ratings_kept,
        headline_answers_kept_anonymously=erasure.headline_answers_kept,
    )
