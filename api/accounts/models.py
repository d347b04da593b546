"""Users and their memberships of trust boards."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from api.accounts.roles import BOARD_MEMBER, BOARD_SECRETARY, CHAIR, PLATFORM_ADMIN, SECTOR_ANALYST
from api.db import UTCDateTime, utcnow

ROLE_NAMES = {
    CHAIR: "Chair",
    BOARD_MEMBER: "Board member",
    BOARD_SECRETARY: "Board secretary",
    SECTOR_ANALYST: "Sector analyst",
    PLATFORM_ADMIN: "Platform admin",
}
# What a person is on the board, for the respondent-role view (chairs, NEDs, executives).
BOARD_ROLES = {
    "chair": "Chair",
    "ned": "Non-executive director",
    "executive": "Executive director",
    "chief_executive": "Chief executive",
    "secretary": "Board secretary",
    "other": "Other",
}


class User(SQLModel, table=True):
    __tablename__ = "user_account"
    __table_args__ = (
        UniqueConstraint("oidc_issuer", "oidc_subject"),
        CheckConstraint(
            "platform_role IS NULL OR platform_role IN ('sector_analyst', 'platform_admin')",
            name="platform_role_known",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)
    name: str = Field(max_length=120)
    # None until an invited person sets a password.
    password_hash: str | None = Field(default=None, max_length=255)
    # Roles not tied to a trust.
    platform_role: str | None = Field(default=None, max_length=20)
    is_active: bool = Field(default=True)
    # Base32 TOTP secret; the second factor is on once enrolment is confirmed with a first code.
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The last TOTP time step accepted, so a code cannot be replayed within its window.
    totp_last_step: int | None = None
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # The single sign-on identity linked at the first sign-in through the provider (its issuer and
    # `sub`): from then on it, not the email, finds the account (api/accounts/oidc.py).
    oidc_issuer: str | None = Field(default=None, max_length=255)
    oidc_subject: str | None = Field(default=None, max_length=255)
    # When the account was left with nothing to do (its last board membership and platform role
    # gone); the retention command anonymises it a set time later. Cleared if it gets a role again.
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    # When the person's name and email were erased (docs/data-protection.md): the row stays, anonymous,
    # because audit events and actions point at it.
    erased_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Membership(SQLModel, table=True):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "organisation_id"),
        CheckConstraint("role IN ('chair', 'board_member', 'board_secretary')", name="role_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organisation_id: int = Field(foreign_key="organisation.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=20)
    board_role: str = Field(max_length=20)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class _SecretHeld(SQLModel):
    """A secret a person holds (a session cookie, a bearer token): only its SHA-256 is stored."""

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class WebSession(_SecretHeld, table=True):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_session"

    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    # Null until the person has passed their second factor (when they have or need one).
    second_factor_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    active_organisation_id: int | None = Field(
        default=None, foreign_key="organisation.id", ondelete="SET NULL"
    )
    client_ip: str | None = Field(default=None, max_length=45)
    # Signed in through the single sign-on provider (sign-out then signs out there too), and whether
    # its multi-factor sign-in stood for our second factor.
    signed_in_by_provider: bool = Field(default=False)
    second_factor_by_provider: bool = Field(default=False)


class ApiToken(_SecretHeld, table=True):
    """A bearer token from the OAuth2 password flow; only its SHA-256 is stored."""

    __tablename__ = "api_token"

    expires_at: datetime = Field(sa_type=UTCDateTime)
    # When the holder passed their second factor to get it; null if issued on a password alone.
    # Checked on every request, so a token from before a second factor was needed stops working.
    second_factor_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OneTimeToken(SQLModel, table=True):
    """An emailed link (invitation or password reset): expires, and works once."""

    __tablename__ = "one_time_token"
    __table_args__ = (CheckConstraint("purpose IN ('invitation', 'password_reset')", name="purpose_known"),)

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(max_length=64, unique=True)
    purpose: str = Field(max_length=20)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", ondelete="CASCADE")
    created_by_id: int | None = Field(default=None, foreign_key="user_account.id", ondelete="SET NULL")
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RecoveryCode(SQLModel, table=True):
    """A single-use code to sign in when the authenticator app is lost (argon2-hashed)."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user_account.id", index=True, ondelete="CASCADE")
    code_hash: str = Field(max_length=255)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SignInAttempt(SQLModel, table=True):
    """Every sign-in attempt that was checked, for the growing delays of api/accounts/signin.py."""

    __tablename__ = "sign_in_attempt"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, index=True)
    client_ip: str = Field(max_length=45, index=True)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    succeeded: bool = Field(default=False)
    # A wrong two-factor code (the password was right): these have a stricter limit of their own.
    second_factor: bool = Field(default=False)


class OidcSignInRequest(SQLModel, table=True):
    """A single sign-on started and not yet finished: the `state` (only its SHA-256), the `nonce` and
    the PKCE verifier, kept here so each can be used once, for ten minutes."""

    __tablename__ = "oidc_sign_in_request"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(max_length=64, unique=True)
    nonce: str = Field(max_length=128)
    code_verifier: str = Field(max_length=128)
    next_path: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime, index=True)
