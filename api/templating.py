"""Jinja2 with the NHS.UK frontend macros; one helper renders a whole page or the block htmx asked for."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from jinja2 import (
    ChainableUndefined,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    pass_context,
    select_autoescape,
)
from jinja2_fragments.fastapi import Jinja2Blocks
from starlette.responses import Response
from starlette.routing import NoMatchFound

from api.accounts.models import BOARD_ROLES, ROLE_NAMES
from api.csrf import csrf_token
from api.navigation import account_items_for, navigation_for, start_link_for
from api.settings import PROJECT_ROOT

TEMPLATES_DIR = PROJECT_ROOT / "web" / "templates"
STATIC_DIR = PROJECT_ROOT / "web" / "static"

environment = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(str(TEMPLATES_DIR)),
            PackageLoader("nhsuk_frontend_jinja"),
        ]
    ),
    # The NHS.UK macros read chained optional parameters (params.a.b) that may be absent.
    undefined=ChainableUndefined,
    # Pages (and the NHS.UK macros) are escaped; email bodies (.txt) are plain text, so a name like
    # `O'Brien & Co` comes out as typed.
    autoescape=select_autoescape(disabled_extensions=("txt",), default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
templates = Jinja2Blocks(env=environment)


LONDON = ZoneInfo("Europe/London")


def local(value: datetime) -> datetime:
    """Times are stored in UTC and shown in UK time."""
    return value.astimezone(LONDON) if value.tzinfo else value


def _format_date(value: Any) -> str:
    if not value:
        return ""
    if isinstance(value, datetime):
        value = local(value)
    return value.strftime("%-d %B %Y")


def _format_time(value: Any) -> str:
    return local(value).strftime("%H:%M") if value else ""


def _errors_list(errors: dict[str, str]) -> list[dict[str, str]]:
    """The error summary's links: each message points at the field it is about."""
    return [{"text": message, "href": f"#{field}"} for field, message in errors.items()]


@pass_context
def _path_for(context: Any, name: str, /, **path_params: Any) -> str:
    """The path of the named route, for links, form actions and htmx URLs: `path_for('results',
    assessment_id=assessment.id)` gives `/assessments/7/results`.

    Starlette's `url_for` gives an absolute URL built from the request's host; links inside the
    service stay relative paths, so they are the same behind any proxy and in every test. A wrong
    name or a missing parameter fails loudly (NoMatchFound) instead of linking nowhere."""
    return str(context["request"].app.url_path_for(name, **path_params))


@pass_context
def _has_route(context: Any, name: str) -> bool:
    """Whether the app has the named route: the API documentation page is only there when
    API_DOCS (or development) turns it on, so its footer link is only there then too."""
    try:
        context["request"].app.url_path_for(name)
    except NoMatchFound:
        return False
    return True


templates.env.filters["date"] = _format_date
templates.env.filters["time"] = _format_time
templates.env.filters["regex_wrap_li"] = lambda text: f"<li>{text}</li>"
templates.env.globals["errors_list"] = _errors_list
templates.env.globals["path_for"] = _path_for
templates.env.globals["has_route"] = _has_route
templates.env.globals["role_names"] = ROLE_NAMES
templates.env.globals["start_link_for"] = start_link_for
templates.env.globals["board_role_names"] = BOARD_ROLES


def render_text(template: str, **context: Any) -> str:
    """A plain-text template (an email body under web/templates/emails/), not escaped.

    It ends with one newline, whatever the template file ends with."""
    return templates.env.get_template(template).render(context).rstrip("\n") + "\n"


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    block: str | None = None,
) -> Response:
    """A full page, or only `block` when htmx asked for a fragment (HX-Request)."""
    context = dict(context or {})
    context.setdefault("csrf_token", csrf_token(request))
    principal = getattr(request.state, "principal", None)
    context.setdefault("principal", principal)
    context.setdefault("navigation_items", navigation_for(request.app, principal, request.url.path))
    context.setdefault("account_items", account_items_for(request.app, principal, context["csrf_token"]))
    block_name = block if block and request.headers.get("HX-Request") == "true" else None
    kwargs: dict[str, Any] = {"status_code": status_code}
    if block_name:
        kwargs["block_name"] = block_name
    return templates.TemplateResponse(request, template, context, **kwargs)


def template_path(name: str) -> Path:
    return TEMPLATES_DIR / name
