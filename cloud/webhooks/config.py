"""The webhook sender's settings (``LOCKER_CLOUD_WEBHOOK_*``) and its retry policy."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from cloud.webhooks.sender import ATTEMPT_MAX_S
from cloud.webhooks.targets import networks


@dataclass(frozen=True)
class Policy:
    """How deliveries are retried, given up and paced. The defaults are production's."""

    base_s: float = 10.0  # the first retry's delay, doubled at each failure ...
    cap_s: float = 3600.0  # ... up to this (DHL retries after 1 h and 6 h; we go on hourly)
    window_s: float = 72 * 3600.0  # retried for this long from the first attempt, then dead
    lease_s: float = 180.0  # a claim outlives a crashed worker by this much (> a whole batch)
    breaker_after: int = 5  # consecutive failures of an endpoint that open its circuit ...
    breaker_open_s: float = 300.0  # ... for this long; then one batch probes it
    batch: int = 64  # deliveries claimed at once
    senders: int = 16  # attempts in flight at once (threads)
    offline_after_s: float = 1800.0  # a bank offline this long while holding parcels: an event
    sweep_every_s: float = 30.0  # how often a sender looks for such banks

    def __post_init__(self) -> None:
        """A claim must outlast its batch: ``senders`` attempts at a time, each up to
        ``ATTEMPT_MAX_S``; a shorter lease lets another sender claim and send a delivery still
        in flight (sent twice at once, settled twice)."""
        if self.lease_s <= self.batch_s:
            raise ValueError(f"lease_s {self.lease_s:g} <= a batch's {self.batch_s:g} s")

    @property
    def batch_s(self) -> float:
        """The longest a claimed batch can take to send."""
        return math.ceil(self.batch / self.senders) * ATTEMPT_MAX_S


class WebhookSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="LOCKER_CLOUD_WEBHOOK_", env_file=None, extra="ignore"
    )

    # networks deliveries may reach though not public (an operator's choice), e.g.
    # LOCKER_CLOUD_WEBHOOK_ALLOW='["10.20.0.0/16"]'; empty: public addresses only
    allow: list[str] = Field(default_factory=list)
    poll_s: Annotated[float, Field(gt=0)] = 1.0  # how often an idle worker looks for work

    @field_validator("allow")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        networks(value)  # raises ValueError on a malformed network
        return value
