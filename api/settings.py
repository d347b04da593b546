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
    secret_key: str = DEVELOPMENT_SECRET
    # The smallest number of other trusts whose figures may be shown together.
    k_anonymity: int = Field(default=5, ge=2)
    frameworks_dir: Path = PROJECT_ROOT / "assessments"

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.env != "development" and self.secret_key == DEVELOPMENT_SECRET:
            raise ValueError(f"SECRET_KEY must be set when ENV={self.env}: the development default is public")
        if self.env == "production" and len(self.secret_key) < 32:
            raise ValueError("SECRET_KEY must be at least 32 characters in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
