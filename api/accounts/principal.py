"""Who is asking, as services and repositories see it: the person and their boards.

Built by the request-reading dependencies in api/deps.py (from a bearer token or the session
cookie) and by commands run outside a request; nothing here knows about HTTP, so services and
repositories import this, never the web layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from api.accounts.models import User, WebSession


@dataclass(frozen=True)
class TrustMembership:
    organisation_id: int
    ods_code: str
    organisation_name: str
    role: str
    board_role: str
    require_two_factor: bool


@dataclass
class Principal:
    user: User
    memberships: list[TrustMembership] = field(default_factory=list)
    web_session: WebSession | None = None

    @property
    def organisation_ids(self) -> list[int]:
        return [m.organisation_id for m in self.memberships]

    def membership_for(self, organisation_id: int) -> TrustMembership | None:
        return next((m for m in self.memberships if m.organisation_id == organisation_id), None)

    def membership_by_code(self, ods_code: str) -> TrustMembership | None:
        code = ods_code.upper()
        return next((m for m in self.memberships if m.ods_code == code), None)

    @property
    def roles(self) -> set[str]:
        roles = {m.role for m in self.memberships}
        if self.user.platform_role:
            roles.add(self.user.platform_role)
        return roles

    @property
    def needs_second_factor(self) -> bool:
        return self.user.platform_role is not None or any(m.require_two_factor for m in self.memberships)

    @property
    def active_membership(self) -> TrustMembership | None:
        """The trust the person is working on now (the trust switcher), else their first."""
        if self.web_session and self.web_session.active_organisation_id:
            chosen = self.membership_for(self.web_session.active_organisation_id)
            if chosen:
                return chosen
        return self.memberships[0] if self.memberships else None
