"""Cloud settings from the environment (``LOCKER_CLOUD_*``); placeholder secrets are refused."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDERS = {"changethis", "changeme", "secret", "password", "default", "example"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOCKER_CLOUD_", env_file=None, extra="ignore")

    database_url: str = "sqlite:///./cloud.db"
    secret_key: Annotated[str, Field(min_length=32)]
    rate_per_minute: Annotated[int, Field(ge=1)] = 600
    soft_reservation_ttl_s: Annotated[float, Field(gt=0)] = 3600.0

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder(cls, value: str) -> str:
        lowered = value.lower()
        if any(word in lowered for word in PLACEHOLDERS) or len(set(value)) < 8:
            raise ValueError(
                "secret_key looks like a placeholder; generate one: openssl rand -hex 32"
            )
        return value
