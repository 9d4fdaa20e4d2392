"""fleet scale: one open alarm per bank, kind and compartment; ingest batches (issue 13)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 03:20:00

Several ingest workers raise alarms at once: a unique partial index keeps one open alarm per
bank, kind and place, and raising one that is open already does nothing (``INSERT ... ON
CONFLICT DO NOTHING``). Duplicates an older version left open are closed first (the oldest
stays open), as they would have been by the next clear.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPEN = "cleared_at IS NULL"


def upgrade() -> None:
    _upgrade_alarms()
    _upgrade_parcel_names()


def downgrade() -> None:
    _downgrade_parcel_names()
    _downgrade_alarms()


def _upgrade_alarms() -> None:
    op.execute(
        "UPDATE alarm SET cleared_at = raised_at WHERE cleared_at IS NULL AND EXISTS ("
        " SELECT 1 FROM alarm AS older WHERE older.cleared_at IS NULL"
        " AND older.bank_id = alarm.bank_id AND older.kind = alarm.kind"
        " AND older.compartment = alarm.compartment"
        " AND (older.raised_at < alarm.raised_at"
        "  OR (older.raised_at = alarm.raised_at AND older.id < alarm.id)))"
    )
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.create_index(
            "one_open_alarm",
            ["bank_id", "kind", "compartment"],
            unique=True,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN),
        )


def _downgrade_alarms() -> None:
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.drop_index("one_open_alarm")


def _upgrade_parcel_names() -> None:
    """The bank's own id of a parcel: a waybill two carriers share names neither (found in
    review: a pickup moved whichever namesake came first)."""
    with op.batch_alter_table("parcel", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edge_id", sa.String(), nullable=True))
        batch_op.create_index(batch_op.f("ix_parcel_edge_id"), ["edge_id"])


def _downgrade_parcel_names() -> None:
    with op.batch_alter_table("parcel", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_parcel_edge_id"))
        batch_op.drop_column("edge_id")
