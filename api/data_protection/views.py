"""Pages: downloading your own data from your account, and the platform admin's erasure of a person."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends
from sqlmodel import col, func, select
from starlette.responses import Response

from api.accounts.models import Membership, User
from api.accounts.service import normalise_email
from api.audit.service import record_on_user
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.data_protection import service
from api.data_protection.routes import person_to_erase
from api.data_protection.schemas import ErasePerson
from api.db import utcnow
from api.deps import PageUser
from api.errors import Conflict, InputError
from api.forms import PageForm
from api.organisations.models import Organisation
from api.pages import Page, PageDep
from api.permissions import PlatformAdminPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])


@router.get("/account/data", name="download_my_data")
def download_my_data(page: PageDep, principal: PageUser) -> Response:
    """Everything held about the person signed in, as a JSON file (subject access)."""
    data = service.personal_data(page.session, principal.user)
    record_on_user(
        page.session,
        "personal_data.downloaded",
        principal.user,
        "Downloaded their own data",
        client_ip=client_ip(page.request),
    )
    name = f"my-data-{utcnow().date().isoformat()}.json"
    return Response(
        json.dumps(data, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.get("/admin/erase", name="admin_find_person_to_erase")
def find_person_page(page: PageDep, admin: PlatformAdminPage, email: str | None = None) -> Response:
    """Find the account to erase by its email address."""
    errors: dict[str, str] = {}
    if email is not None:
        try:
            user = page.session.exec(select(User).where(User.email == normalise_email(email))).first()
        except InputError:
            user = None
            errors["email"] = "Enter an email address in the correct format, like name@example.com"
        else:
            if user is not None and user.erased_at is None:
                return page.redirect("admin_erase_person", user_id=user.id)
            errors["email"] = "There is no account with that email address"
    return page.render(
        "admin/erase_find.html",
        {"page_title": "Erase a person's details", "email": email or "", "errors": errors},
        status_code=404 if errors.get("email", "").startswith("There is no") else 422 if errors else 200,
    )


def _erase_page(page: Page, user: User, me: int | None, status_code: int = 200, **extra: object) -> Response:
    boards = page.session.exec(
        select(Organisation.name)
        .join(Membership, Membership.organisation_id == Organisation.id)  # type: ignore[arg-type]
        .where(Membership.user_id == user.id)
        .order_by(col(Organisation.name))
    ).all()
    from api.assessments.models import Rating

    ratings = page.session.exec(
        select(func.count()).select_from(Rating).where(Rating.respondent_id == user.id)
    ).one()
    return page.render(
        "admin/erase_person.html",
        {
            "page_title": f"Are you sure you want to erase {user.name}'s details?",
            "person": user,
            "boards": boards,
            "ratings": ratings,
            "me": me,
            "erased_name": service.ERASED_NAME,
            "errors": {},
            **extra,
        },
        status_code=status_code,
    )


@router.get("/admin/people/{user_id}/erase", name="admin_erase_person")
def erase_page(page: PageDep, admin: PlatformAdminPage, user_id: int) -> Response:
    return _erase_page(page, person_to_erase(page.session, user_id), admin.user.id)


@router.post("/admin/people/{user_id}/erase", name="admin_erase_person_details")
def erase(page: PageDep, admin: PlatformAdminPage, user_id: int, form: PageForm[ErasePerson]) -> Response:
    user = person_to_erase(page.session, user_id)
    if form.command is None:
        return _erase_page(page, user, admin.user.id, 422, errors={"erase": form.errors["email"]})
    try:
        service.erase_person(
            page.session,
            user=user,
            actor=admin.user,
            email=form.command.email,
            client_ip=client_ip(page.request),
        )
    except Conflict as exc:
        return _erase_page(page, user, admin.user.id, exc.status_code, errors={"erase": exc.message})
    return page.redirect("admin_people", query={"done": "erased"})
