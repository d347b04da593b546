"""What every page handler takes first: one `Page`, the request it answers with its database
session and the app's settings.

A page handler's signature says only what is particular to it: `page: PageDep`, then the access
dependency that guards it (api/permissions.py, e.g. `ChairPage`), then its form or query values.
Renders and redirects go through the page, so they always answer the request being served:

    @router.post("/actions/{action_id}/edit", name="save_action")
    def save_action(page: PageDep, access: ActionManagerPage, command: PageForm[ActionUpdate]) -> Response:
        ...
        return page.redirect("action_page", action_id=access.action.id)

The session is the same one the access dependency used (FastAPI builds each dependency once per
request), and the settings are the app's own (`SettingsDep`), never the process environment's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel import Session
from starlette.responses import RedirectResponse, Response

from api.db import SessionDep
from api.deps import SettingsDep
from api.settings import Settings
from api.templating import render
from api.urls import path_to, redirect_to


@dataclass(frozen=True)
class Page:
    request: Request
    session: Session
    settings: Settings

    def render(
        self,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status_code: int = 200,
        block: str | None = None,
    ) -> Response:
        """The template as a full page, or only `block` when htmx asked for a fragment."""
        return render(self.request, template, context, status_code=status_code, block=block)

    def redirect(self, name: str, /, **params: Any) -> RedirectResponse:
        """303 See Other to the named page (`query=`, `fragment=` and path parameters)."""
        return redirect_to(self.request, name, **params)

    def path(self, name: str, /, **params: Any) -> str:
        """The named page's path, for a link."""
        return path_to(self.request, name, **params)


def get_page(request: Request, session: SessionDep, settings: SettingsDep) -> Page:
    return Page(request, session, settings)


PageDep = Annotated[Page, Depends(get_page)]
