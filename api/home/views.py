"""Public pages and the health check."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import text
from starlette.responses import Response

from api.accounts.views import landing_page
from api.db import SessionDep
from api.deps import MaybePageUser, passed_second_factor
from api.frameworks.service import framework_document, latest_framework
from api.pages import PageDep

router = APIRouter(include_in_schema=False)


@router.get("/", name="home")
def home(page: PageDep, principal: MaybePageUser) -> Response:
    # Someone signed in has work waiting: take them to it (several boards: the board chooser).
    if (
        principal is not None
        and principal.web_session is not None
        and passed_second_factor(principal.user, principal.web_session.second_factor_at)
        and (principal.memberships or principal.user.platform_role)
    ):
        return RedirectResponse(landing_page(page.request, principal), status_code=303)
    framework = latest_framework(page.session)
    return page.render(
        "home/index.html",
        {
            "framework": framework_document(framework) if framework else None,
            "k_anonymity": page.settings.k_anonymity,
        },
    )


@router.get("/about", name="about")
def about(page: PageDep, principal: MaybePageUser) -> Response:
    return page.render("home/about.html", {"k_anonymity": page.settings.k_anonymity})


@router.get("/accessibility", name="accessibility")
def accessibility(page: PageDep, principal: MaybePageUser) -> Response:
    return page.render("home/accessibility.html")


@router.get("/healthz", name="healthz")
def healthz(session: SessionDep) -> Response:
    """Up only when the database answers: load balancers take a worker out otherwise."""
    try:
        session.exec(text("SELECT 1"))  # type: ignore[call-overload]
    except Exception:  # noqa: BLE001 - any database failure means unhealthy
        return JSONResponse({"status": "unavailable", "database": "unreachable"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})
