"""Admin pages for the people with platform roles (sector analysts and platform admins): the list,
inviting one, and removing a role."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.responses import Response

from api.accounts.members_views import invitation_form
from api.admin import service
from api.admin.schemas import (
    PlatformInvite,
)
from api.admin.views import (
    admin_page,
)
from api.client_ip import client_ip
from api.csrf import verify_csrf
from api.errors import Conflict, Unprocessable
from api.forms import PageForm
from api.pages import Page, PageDep
from api.permissions import PlatformAdminPage

router = APIRouter(include_in_schema=False, dependencies=[Depends(verify_csrf)])

# --- People with platform roles ------------------------------------------------------------------


@router.get("/admin/people", name="admin_people")
def people_page(page: PageDep, admin: PlatformAdminPage, done: str | None = None) -> Response:
    people = service.platform_people(page.session)
    title = "People with platform roles"
    days = page.settings.invitation_link_days
    return admin_page(page, "admin/people.html", title, done, people=people, me=admin.user.id, days=days)


def _invite_form(page: Page, status_code: int = 200, **form: object) -> Response:
    title = "Invite a sector analyst or platform admin"
    return invitation_form(
        page, "admin/people_invite.html", title, status_code, purposes=service.ROLE_PURPOSES, **form
    )


@router.get("/admin/people/invite", name="admin_invite_person")
def invite_page(page: PageDep, admin: PlatformAdminPage) -> Response:
    return _invite_form(page)


@router.post("/admin/people/invite", name="admin_send_platform_invitation")
def invite(page: PageDep, admin: PlatformAdminPage, form: PageForm[PlatformInvite]) -> Response:
    typed = {name: form.values.get(name, "") for name in ("email", "name", "role")}
    if form.command is None:
        return _invite_form(page, 422, errors=form.errors, **typed)
    try:
        invitation = service.invite_platform_user(
            page.session,
            page.settings,
            actor=admin.user,
            email=form.command.email,
            name=form.command.name,
            role=form.command.role,
            client_ip=client_ip(page.request),
        )
    except (Conflict, Unprocessable) as exc:
        field = exc.extra.get("field", "email")
        return _invite_form(page, exc.status_code, errors={field: exc.message}, **typed)
    done = "invited" if invitation.link_sent else "added"
    return page.redirect("admin_people", query={"done": done})


def _remove_page(
    page: Page, person: service.PlatformPerson, status_code: int = 200, **extra: object
) -> Response:
    return page.render(
        "admin/people_remove.html",
        {
            "page_title": f"Are you sure you want to remove the {person.role_name.lower()} role from {person.name}?",
            "person": person,
            **extra,
        },
        status_code=status_code,
    )


@router.get("/admin/people/{user_id}/remove", name="admin_remove_person")
def remove_page(page: PageDep, admin: PlatformAdminPage, user_id: int) -> Response:
    _user, person = service.platform_person(page.session, user_id)
    return _remove_page(page, person, me=admin.user.id)


@router.post("/admin/people/{user_id}/remove", name="admin_remove_platform_role")
def remove(page: PageDep, admin: PlatformAdminPage, user_id: int) -> Response:
    user, person = service.platform_person(page.session, user_id)
    try:
        service.remove_platform_role(
            page.session, user=user, actor=admin.user, client_ip=client_ip(page.request)
        )
    except Conflict as exc:
        return _remove_page(page, person, exc.status_code, me=admin.user.id, errors={"remove": exc.message})
    return page.redirect("admin_people", query={"done": "removed"})
