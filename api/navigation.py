"""The header's navigation and account links, by what the signed-in person may do.

Every link is built from a route name (`app_path`), as templates do with `path_for`."""

from __future__ import annotations

from typing import Any

from jinja2 import pass_context
from starlette.applications import Starlette

from api.accounts.roles import ANALYST_ROLES, MANAGER_ROLES, PLATFORM_ADMIN, SECTOR_ANALYST
from api.urls import app_path


def navigation_for(app: Starlette, principal: Any | None, path: str) -> list[dict[str, Any]]:
    if principal is None:
        return []
    items: list[dict[str, Any]] = []
    membership = principal.active_membership
    if membership is not None:

        def board(name: str, text: str) -> None:
            items.append({"href": app_path(app, name, ods_code=membership.ods_code), "text": text})

        board("trust_home", "Your board")
        board("trust_action_plan", "Action plan")
        if membership.role in MANAGER_ROLES:
            board("board_members", "Board members")
            board("trust_audit_log_page", "Audit log")
            board("trust_settings", "Board settings")
    if len(principal.memberships) > 1:
        items.append({"href": app_path(app, "trusts"), "text": "Switch trust"})
    if principal.user.platform_role in ANALYST_ROLES:
        items.append({"href": app_path(app, "sector_heatmap"), "text": "Sector view"})
    if principal.user.platform_role == PLATFORM_ADMIN:
        items.append({"href": app_path(app, "admin_home"), "text": "Admin"})
        items.append({"href": app_path(app, "admin_audit_log_page"), "text": "Audit log (all trusts)"})
    # Only the closest match is current: /trusts/RCF is "Your board", not also "Switch trust" (/trusts).
    matching = [item for item in items if path == item["href"] or path.startswith(item["href"] + "/")]
    closest = max(matching, key=lambda item: len(item["href"]), default=None)
    for item in items:
        item["current"] = item is closest
    return items


def start_link(app: Starlette, principal: Any | None) -> dict[str, str]:
    """The home page's start button: sign in, or the signed-in person's own first page."""
    if principal is None:
        return {"href": app_path(app, "sign_in"), "text": "Sign in"}
    if principal.active_membership is not None:
        href = app_path(app, "trust_home", ods_code=principal.active_membership.ods_code)
        return {"href": href, "text": "Go to your board"}
    if principal.user.platform_role == PLATFORM_ADMIN:
        return {"href": app_path(app, "admin_home"), "text": "Go to admin"}
    if principal.user.platform_role == SECTOR_ANALYST:
        return {"href": app_path(app, "sector_heatmap"), "text": "Go to the sector view"}
    return {"href": app_path(app, "trusts"), "text": "Go to your trusts"}


@pass_context
def start_link_for(context: Any, principal: Any | None) -> dict[str, str]:
    """`start_link_for(principal)` in a template: `start_link` for the app rendering the page."""
    return start_link(context["request"].app, principal)


def account_items_for(app: Starlette, principal: Any | None, csrf_token: str) -> list[dict[str, Any]]:
    if principal is None:
        return [{"href": app_path(app, "sign_in"), "text": "Sign in", "icon": True}]
    return [
        {"href": app_path(app, "account"), "text": principal.user.name, "icon": True},
        {"action": app_path(app, "sign_out", query={"csrf_token": csrf_token}), "text": "Sign out"},
    ]
