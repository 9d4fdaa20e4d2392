"""The webhooks' tables: a carrier's endpoints, the events written in the transaction of their
cause (the outbox), and one delivery per event and endpoint.

A delivery's id is the ``webhook-id`` of every attempt (Standard Webhooks): a receiver
de-duplicates by it. Deliveries of one subject (a parcel, a reservation, a bank) to one endpoint
are sent in the order of their events (``event_seq``): none while an earlier one is pending.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, Index, Integer
from sqlmodel import Field

from cloud.lifecycles import StateType
from cloud.models import CloudModel, new_id, utcnow


class EndpointState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class DeliveryState(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (or claimed by a worker until claimed_until)
    DELIVERED = "delivered"  # the receiver answered 2xx
    DEAD = "dead"  # given up after the retry window: replayable by id or time range


class WebhookEndpoint(CloudModel, table=True):
    """Where a carrier wants its events. Secrets are kept sealed (``cloud.webhooks.keys``):
    the current one, and during a rotation's overlap the previous one, both signing."""

    id: str = Field(default_factory=new_id, primary_key=True)
    carrier_id: str = Field(foreign_key="carrier.id", index=True)
    url: str
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON))  # empty: all
    state: EndpointState = Field(default=EndpointState.ACTIVE, sa_type=StateType(EndpointState))
    secret_sealed: str
    previous_sealed: str | None = None
    previous_until: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # the circuit breaker: consecutive failures, and no attempt before open_until
    failures: int = 0
    open_until: datetime | None = None


class WebhookEvent(CloudModel, table=True):
    """One event for one carrier, written with its cause; also the parcel's tracking history."""

    seq: int | None = Field(
        default=None,
        sa_column=Column(Integer, primary_key=True, autoincrement=True),
    )
    id: str = Field(default_factory=new_id, unique=True)
    carrier_id: str = Field(foreign_key="carrier.id", index=True)
    type: str
    subject: str  # what orders the deliveries: parcel:<waybill>, reservation:<id>, bank:<id>
    waybill: str | None = Field(default=None)
    occurred_at: datetime  # when it happened at the bank (or in the API), not when we learned it
    recorded_at: datetime = Field(default_factory=utcnow)
    data: dict[str, object] = Field(default_factory=dict, sa_column=Column(JSON))
    dedupe: str | None = Field(default=None, unique=True)  # for events a sweep may find twice

    __table_args__ = (Index("ix_webhookevent_carrier_waybill", "carrier_id", "waybill"),)


class WebhookDelivery(CloudModel, table=True):
    id: str = Field(default_factory=lambda: "msg_" + new_id().replace("-", ""), primary_key=True)
    endpoint_id: str = Field(foreign_key="webhookendpoint.id")
    event_seq: int = Field(foreign_key="webhookevent.seq")
    subject: str
    state: DeliveryState = Field(default=DeliveryState.PENDING, sa_type=StateType(DeliveryState))
    attempts: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    first_attempt_at: datetime | None = None
    next_attempt_at: datetime
    claimed_until: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    settled_at: datetime | None = None

    __table_args__ = (
        Index("ix_webhookdelivery_due", "state", "next_attempt_at"),
        Index("ix_webhookdelivery_order", "endpoint_id", "subject", "event_seq"),
    )
