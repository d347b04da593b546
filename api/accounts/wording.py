"""How roles and times read in pages and emails."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from api.accounts.models import BOARD_ROLES, ROLE_NAMES
from api.accounts.roles import BOARD_MEMBER, BOARD_SECRETARY, CHAIR

SERVICE_NAME = "Race equality board self-assessment"

_ROLE_PHRASES = {role: ROLE_NAMES[role].lower() for role in (CHAIR, BOARD_SECRETARY)}
_BOARD_ROLE_PHRASES = {
    "ned": "a non-executive director",
    "executive": "an executive director",
    "chief_executive": "chief executive",
    "other": "a board member",
}


def role_label(role: str, board_role: str) -> str:
    """`Board member (non-executive director)`, `Chair`: how a role reads on a page."""
    if role == BOARD_MEMBER:
        return f"{ROLE_NAMES[role]} ({BOARD_ROLES.get(board_role, board_role).lower()})"
    return ROLE_NAMES[role]


def role_phrase(role: str, board_role: str) -> str:
    """What follows "as" in a sentence: `chair`, `a non-executive director`."""
    if role == BOARD_MEMBER:
        return _BOARD_ROLE_PHRASES.get(board_role, "a board member")
    return _ROLE_PHRASES[role]


def when(moment: datetime) -> str:
    """`2:05pm on 24 November 2026 (UK time)`, for emails read in England."""
    try:
        local, zone = moment.astimezone(ZoneInfo("Europe/London")), "UK time"
    except ZoneInfoNotFoundError:
        local, zone = moment, "UTC"
    return f"{local.strftime('%-I:%M%p').lower()} on {local.day} {local:%B %Y} ({zone})"
