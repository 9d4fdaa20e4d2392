"""The messaging feature's own table: which parcels each message tells of.

A pickup group may hold parcels of several carriers; each carrier sees a message's state only
through its own parcels here (``views``), never another carrier's waybills.
"""

from __future__ import annotations

from sqlmodel import Field

from cloud.models import CloudModel


class NotificationParcel(CloudModel, table=True):
    notification_id: str = Field(foreign_key="notification.id", primary_key=True)
    carrier_id: str = Field(primary_key=True, index=True)
    waybill: str = Field(primary_key=True)
    compartment: str
