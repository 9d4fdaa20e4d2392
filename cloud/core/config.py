"""Cloud settings from the environment (``LOCKER_CLOUD_*``); placeholder secrets are refused."""

from __future__ import annotations

from pathlib import Path
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
    # the link: no broker URL means the embedded broker (amqtt, MQTT 3.1.1) on embedded_port
    broker_url: str | None = None
    broker_username: str | None = None  # "cloud" in docs/examples/mosquitto/acl
    broker_password_file: Path | None = None  # never the password itself in the environment
    # the notifier's private key (``locker cloud keygen-notify``), to open sealed pickup codes;
    # a file, never the key itself in the environment or the database
    notify_private_key_file: Path | None = None
    embedded_host: str = "127.0.0.1"
    embedded_port: Annotated[int, Field(ge=0, le=65535)] = 1883
    ingest_group: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")] = "locker-ingest"
    ingest_lanes: Annotated[int, Field(ge=1, le=64)] = 4  # banks ingested in parallel
    # a worker's session outlives a restart by this much; a retired worker's session, still a
    # member of the shared subscription, stops taking its share of the events after it
    ingest_session_expiry_s: Annotated[int, Field(ge=0)] = 60
    command_retry_s: Annotated[float, Field(gt=0)] = 30.0
    command_poll_s: Annotated[float, Field(gt=0)] = 1.0
    heartbeat_timeout_s: Annotated[float, Field(gt=0)] = 90.0
    clock_skew_alarm_s: Annotated[float, Field(gt=0)] = 120.0
    # a bank whose heartbeats report events the cloud has not got past for this long alarms
    stream_stall_alarm_s: Annotated[float, Field(gt=0)] = 300.0

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder(cls, value: str) -> str:
        lowered = value.lower()
        if any(word in lowered for word in PLACEHOLDERS) or len(set(value)) < 8:
            raise ValueError(
                "secret_key looks like a placeholder; generate one: openssl rand -hex 32"
            )
        return value
