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
    secret_key: str = DEVELOPMENT_SECRET
    # The smallest number of other trusts whose figures may be shown together.
    k_anonymity: int = Field(default=5, ge=2)
    frameworks_dir: Path = PROJECT_ROOT / "assessments"
    # Evidence files are stored here under generated names.
    upload_dir: Path = PROJECT_ROOT / "var" / "uploads"
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
    # Addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For is believed.
    trusted_proxies: list[str] = Field(default_factory=list)

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

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(f"SECRET_KEY must be set when ENV={self.env}: the development default is public")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production")
        return self

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
