"""Cloud settings from the environment (``LOCKER_CLOUD_*``); placeholder secrets are refused."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.core.security import SECRET_HINT, secret_weakness
from locker_contract.broker import BrokerUrl
from locker_contract.errors import ContractError

PLACEHOLDERS = {"changethis", "changeme", "secret", "password", "default", "example"}


class Settings(BaseSettings):
    # an error never quotes a value: the broker URL or the secret key may hold a secret
    model_config = SettingsConfigDict(
        env_prefix="LOCKER_CLOUD_", env_file=None, extra="ignore", hide_input_in_errors=True
    )

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
    # its public half, for what the cloud itself seals for the notifier (staff mail's one-time
    # links, decision 0022); unset, the console cannot mail a link and says so
    notify_public_key: str | None = None
    console_secure_cookies: bool = True  # the console's cookies only over HTTPS (decision 0022)
    # the console's live stream (cloud/console/live.py): how often it looks at the database for
    # the person's sites, how often it says it is alive, and how many streams one person may hold
    console_live_poll_s: Annotated[float, Field(gt=0, le=60)] = 2.0
    console_live_heartbeat_s: Annotated[float, Field(gt=0, le=300)] = 15.0
    console_live_per_person: Annotated[int, Field(ge=1, le=64)] = 6
    # an alarm nobody acknowledged this long after it was raised is mailed to its site's people
    # (once; the notifier's pass does it: cloud/console/alarms/escalation.py)
    alarm_escalate_after_s: Annotated[float, Field(gt=0)] = 900.0
    embedded_host: str = "127.0.0.1"
    embedded_port: Annotated[int, Field(ge=0, le=65535)] = 1883
    ingest_group: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,32}$")] = "locker-ingest"
    # banks ingested in parallel, each lane a transaction at a time: more overlap the database's
    # round trips, fewer make larger batches; a worker is bound by its one core (issue 13)
    ingest_lanes: Annotated[int, Field(ge=1, le=64)] = 2
    # how long a lane waits for a full batch once an event is in (cloud.link.lanes): fewer,
    # larger transactions under load, at most this much added to an event's age when idle
    ingest_linger_s: Annotated[float, Field(ge=0, le=1)] = 0.1
    # a worker's session outlives a restart by this much; a retired worker's session, still a
    # member of the shared subscription, stops taking its share of the events after it
    ingest_session_expiry_s: Annotated[int, Field(ge=0)] = 60
    command_retry_s: Annotated[float, Field(gt=0)] = 30.0
    command_poll_s: Annotated[float, Field(gt=0)] = 1.0
    heartbeat_timeout_s: Annotated[float, Field(gt=0)] = 90.0
    clock_skew_alarm_s: Annotated[float, Field(gt=0)] = 120.0
    # a bank whose heartbeats report events the cloud has not got past for this long alarms
    stream_stall_alarm_s: Annotated[float, Field(gt=0)] = 300.0
    # a parcel's phone number (and other personal data) is erased this long after it ends
    personal_data_retention_days: Annotated[float, Field(gt=0, le=3650)] = 30.0
    # an announced parcel never deposited: its announcement lapses this long after it was made
    # (its phone is erased personal_data_retention_days later)
    announcement_expiry_days: Annotated[float, Field(gt=0, le=365)] = 14.0
    # zones' temperature samples are kept this long, at least the year EN 12830 asks (issue 17)
    cold_retention_days: Annotated[float, Field(ge=365, le=3650)] = 366.0
    # the local minimum of free storage hours a site's policy may give (Xiamen: 18)
    storage_min_free_hours: Annotated[float, Field(ge=0, le=720)] = 18.0
    # the notifier (``locker cloud notify``, decision 0016): phones' messages go through the SMS
    # gateway, or (development) to files in notify_outbox_dir; unset, the notifier does not start
    notify_channel: Literal["gateway", "outbox"] | None = None
    notify_outbox_dir: Path = Path("outbox")
    sms_endpoint: str | None = None  # Twilio's shape: .../Accounts/{AccountSid}/Messages.json
    sms_account: str | None = None  # the basic-auth user (Twilio's Account SID)
    sms_token_file: Path | None = None  # its auth token, in a file; it also signs receipts
    sms_sender: str | None = None  # a number, or a Messaging Service SID (MG...)
    sms_template_id: str | None = None  # a content template (Content SID), if the route needs one
    sms_receipt_url: str | None = None  # this cloud's public /api/v1/messages/receipts
    smtp_host: str | None = None  # e-mail, for recipients who gave an address
    smtp_port: Annotated[int, Field(ge=1, le=65535)] = 587
    smtp_sender: str | None = None
    smtp_username: str | None = None
    smtp_password_file: Path | None = None
    smtp_starttls: bool = True
    notify_storage_hours: Annotated[float, Field(gt=0)] = 72.0  # the deadline, until a policy
    notify_remind_before_hours: Annotated[float, Field(gt=0)] = 24.0
    notify_quiet_start: time = time(21, 0)  # site-local; no reminder or expiry notice inside
    notify_quiet_end: time = time(8, 0)
    notify_coalesce_s: Annotated[float, Field(ge=0)] = 20.0  # one visit's parcels, one message
    notify_retry_base_s: Annotated[float, Field(gt=0)] = 5.0
    notify_retry_cap_s: Annotated[float, Field(gt=0)] = 900.0
    notify_max_attempts: Annotated[int, Field(ge=1)] = 20
    notify_lease_s: Annotated[float, Field(gt=0)] = 120.0  # a claim outlives a dead dispatcher
    notify_poll_s: Annotated[float, Field(gt=0)] = 1.0
    notify_batch: Annotated[int, Field(ge=1, le=500)] = 20
    # where recipients open their page (``cloud.recipients.links``): the served app's public URL
    recipient_base_url: Annotated[str, Field(pattern=r"^https?://[^\s#?]+$")] = (
        "http://127.0.0.1:8000"
    )

    @field_validator("broker_url")
    @classmethod
    def _no_password_in_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if urlsplit(value).password is not None:
            raise ValueError(
                "the broker URL holds a password (not shown): put it in a file named by "
                "LOCKER_CLOUD_BROKER_PASSWORD_FILE, and the user in LOCKER_CLOUD_BROKER_USERNAME"
            )
        try:
            BrokerUrl.parse(value)
        except ContractError as exc:
            raise ValueError(str(exc)) from None
        return value

    @field_validator("secret_key")
    @classmethod
    def _no_placeholder(cls, value: str) -> str:
        lowered = value.lower()
        if any(word in lowered for word in PLACEHOLDERS):
            raise ValueError(f"secret_key looks like a placeholder; {SECRET_HINT}")
        weakness = secret_weakness(value)
        if weakness is not None:
            raise ValueError(f"secret_key is not random enough ({weakness}); {SECRET_HINT}")
        return value
