"""Service settings, read once from the environment (and `.env`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SQLITE_URL = f"sqlite:///{PROJECT_ROOT / 'var' / 'app.db'}"
DEVELOPMENT_SECRET = "development-only-secret-do-not-use-in-production"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    database_url: str = DEFAULT_SQLITE_URL
    # Connections each app process keeps open, may open on top when busy, and how long a request
    # waits for one. Size PostgreSQL's max_connections for (pool + overflow) x worker processes.
    database_pool_size: int = Field(default=10, ge=1)
    database_max_overflow: int = Field(default=10, ge=0)
    database_pool_timeout: float = Field(default=30.0, gt=0)
    # Requests one worker runs against the database at once (at most pool size + overflow); the
    # rest wait their turn in order. A worker runs Python one thread at a time, so a few more than
    # one keep it busy while others wait on the database; many more only make every request slower.
    database_concurrency: int = Field(default=4, ge=1)
    # Processes per worker that render board reports (PDF) and workbooks (XLSX), so a long render
    # never holds up the worker's autosaves (api/reports/rendering.py); 0 renders in a thread.
    export_processes: int = Field(default=1, ge=0, le=8)
    # How long one person's export may hold their place before another may start (a render that
    # crashed its process lets go after this).
    export_lock_seconds: int = Field(default=120, ge=5)
    # Keep rendered reports and workbooks in the database (api/reports/cache.py). Off only to
    # measure rendering itself (the bench's "every download renders" rows).
    export_cache: bool = True
    secret_key: str = DEVELOPMENT_SECRET
    # The smallest number of other trusts whose figures may be shown together.
    k_anonymity: int = Field(default=5, ge=2)
    frameworks_dir: Path = PROJECT_ROOT / "assessments"
    # The largest request body accepted (bytes): on routes that take a file upload (evidence files
    # are at most 10 MB, plus the form around them), and on every other route. Larger: 413.
    max_upload_request_bytes: int = Field(default=11 * 1024 * 1024, ge=1024)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    # The API's description (/openapi.json) and documentation page (/docs): on unless ENV=production,
    # where API_DOCS=true turns them on.
    api_docs: bool | None = None
    # The address people reach the service at, for links in emails.
    base_url: str = "http://127.0.0.1:8000"

    # Sign-in and sessions.
    session_idle_minutes: int = Field(default=30, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    api_token_minutes: int = Field(default=60, ge=1)
    one_time_link_hours: int = Field(default=24, ge=1)
    # Invitations wait for busy board members longer than a password reset (issue 15).
    invitation_link_days: int = Field(default=7, ge=1)
    # Addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = Field(default_factory=list)

    # Data protection (docs/data-protection.md, applied by `python -m api apply-retention`): a closed
    # account (no board, no platform role) is anonymised this many days after it closed; members' own
    # ratings, comments and headline answers are deleted this many years after their cycle closed.
    retention_closed_account_days: int = Field(default=365, ge=1)
    retention_individual_ratings_years: int = Field(default=3, ge=1)

    # Logs (JSON lines when ENV=production, text otherwise) and /metrics (docs/deployment.md).
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # Addresses (or CIDR ranges) that may read /metrics without a token; others get 404.
    metrics_allowed_ips: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    # A bearer token that also lets a scraper read /metrics (from anywhere); at least 32 characters.
    metrics_token: str | None = Field(default=None, min_length=32)

    # Email: written to the outbox table always; sent by SMTP when smtp_host is set.
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    mail_from: str = "Race equality board self-assessment <no-reply@localhost>"

    # Single sign-on through OpenID Connect (docs/deployment.md): on when oidc_issuer is set.
    # The issuer's /.well-known/openid-configuration gives every endpoint and the signing keys.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    oidc_scopes: str = "openid email profile"
    oidc_button_label: str = "Sign in with NHS mail"
    # Only people whose email (from the provider) is at one of these domains; empty: any domain.
    oidc_allowed_email_domains: list[str] = Field(default_factory=list)
    # Microsoft Entra ID sends no `email_verified`: set false there (one organisation's tenant, whose
    # administrators set the addresses). An explicit `email_verified: false` is refused either way.
    oidc_require_email_verified: bool = True
    # When the provider says it did multi-factor authentication (`amr` has "mfa", or `acr` is one of
    # oidc_mfa_acr_values), our own second factor is not asked again.
    oidc_mfa_satisfies_second_factor: bool = True
    oidc_mfa_acr_values: list[str] = Field(default_factory=list)
    # "platform_admins": with single sign-on on, only platform admins may sign in with a password.
    password_sign_in: Literal["everyone", "platform_admins"] = "everyone"

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(f"SECRET_KEY must be set when ENV={self.env}: the development default is public")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production")
        if self.oidc_issuer:
            if not (self.oidc_client_id and self.oidc_client_secret):
                raise ValueError("OIDC_CLIENT_ID and OIDC_CLIENT_SECRET must be set with OIDC_ISSUER")
            if self.env == "production" and not self.oidc_issuer.startswith("https://"):
                raise ValueError("OIDC_ISSUER must be an https:// address in production")
            if "openid" not in self.oidc_scopes.split():
                raise ValueError("OIDC_SCOPES must include openid")
        elif self.password_sign_in != "everyone":
            raise ValueError("PASSWORD_SIGN_IN=platform_admins needs single sign-on (OIDC_ISSUER) set up")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    @property
    def session_cookie_name(self) -> str:
        # The __Host- prefix makes the browser refuse the cookie unless Secure, path /, no domain.
        return "__Host-session" if self.env == "production" else "session"

    @property
    def secure_cookies(self) -> bool:
        return self.env == "production"

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.env != "production"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
