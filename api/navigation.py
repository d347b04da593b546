"""The header's navigation and account links, by what the signed-in person may do."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from api.accounts.roles import ANALYST_ROLES, MANAGER_ROLES, PLATFORM_ADMIN, SECTOR_ANALYST


def navigation_for(principal: Any | None, path: str) -> list[dict[str, Any]]:
    if principal is None:
        return []
    items: list[dict[str, Any]] = []
    membership = principal.active_membership
    if membership is not None:
        base = f"/trusts/{membership.ods_code}"
        items.append({"href": base, "text": "Your board"})
        items.append({"href": f"{base}/actions", "text": "Action plan"})
        if membership.role in MANAGER_ROLES:
            items.append({"href": f"{base}/members", "text": "Board members"})
            items.append({"href": f"{base}/audit", "text": "Audit log"})
            items.append({"href": f"{base}/settings", "text": "Board settings"})
    if len(principal.memberships) > 1:
        items.append({"href": "/trusts", "text": "Switch trust"})
    if principal.user.platform_role in ANALYST_ROLES:
        items.append({"href": "/sector", "text": "Sector view"})
    if principal.user.platform_role == PLATFORM_ADMIN:
        items.append({"href": "/admin", "text": "Admin"})
        items.append({"href": "/admin/audit", "text": "Audit log (all trusts)"})
    # Only the closest match is current: /trusts/RCF is "Your board", not also "Switch trust" (/trusts).
    matching = [item for item in items if path == item["href"] or path.startswith(item["href"] + "/")]
    closest = max(matching, key=lambda item: len(item["href"]), default=None)
    for item in items:
        item["current"] = item is closest
    return items


def start_link_for(principal: Any | None) -> dict[str, str]:
    """The home page's start button: sign in, or the signed-in person's own first page."""
    if principal is None:
        return {"href": "/sign-in", "text": "Sign in"}
    if principal.active_membership is not None:
        return {"href": f"/trusts/{principal.active_membership.ods_code}", "text": "Go to your board"}
    if principal.user.platform_role == PLATFORM_ADMIN:
        return {"href": "/admin", "text": "Go to admin"}
    if principal.user.platform_role == SECTOR_ANALYST:
        return {"href": "/sector", "text": "Go to the sector view"}
    return {"href": "/trusts", "text": "Go to your trusts"}


def account_items_for(principal: Any | None, csrf_token: str) -> list[dict[str, Any]]:
    if principal is None:
        return [{"href": "/sign-in", "text": "Sign in", "icon": True}]
    return [
        {"href": "/account", "text": principal.user.name, "icon": True},
        {"action": f"/sign-out?csrf_token={quote(csrf_token)}", "text": "Sign out"},
    ]
