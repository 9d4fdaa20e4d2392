"""Indexes the read models need on tables other code writes (migration 0010), declared here
and attached to those tables' metadata, so that the schema and its migration stay one.

- ``parcelevent.at`` and ``auditentry.at``: the records' keyset pages and the reports' periods
  read these by time; without them each page sorts every event of the reader's banks.
- ``inboundevent (bank_id)`` for only the event types the records show (maintenance and service
  changes): a partial index, so that ingest's writes of every other event pay nothing for it.
  A query uses it when its conditions contain ``REPORTED_TYPES`` as written here.
"""

from __future__ import annotations

from sqlalchemy import Index, Table, inspect, text
from sqlmodel import SQLModel

from cloud.models import AuditEntry, InboundEvent, ParcelEvent

REPORTED_TYPES = "type IN ('bank.maintenance', 'compartment.service')"


def _table(model: type[SQLModel]) -> Table:
    table = inspect(model).local_table
    assert isinstance(table, Table)
    return table


PARCEL_EVENTS_BY_TIME = Index("ix_parcelevent_at", _table(ParcelEvent).c.at)
AUDIT_BY_TIME = Index("ix_auditentry_at", _table(AuditEntry).c.at)
REPORTED_BY_BANK = Index(
    "ix_inboundevent_reported",
    _table(InboundEvent).c.bank_id,
    postgresql_where=text(REPORTED_TYPES),
    sqlite_where=text(REPORTED_TYPES),
)
