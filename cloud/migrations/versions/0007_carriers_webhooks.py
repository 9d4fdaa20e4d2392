"""carriers: webhook endpoints, events and deliveries; a bank event's own time (issue 16)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Text = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    _upgrade_webhooks()


def downgrade() -> None:
    _downgrade_webhooks()


def _upgrade_webhooks() -> None:
    with op.batch_alter_table("inboundevent", schema=None) as batch_op:
        batch_op.add_column(sa.Column("happened_at", Time(), nullable=True))
    op.create_table(
        "webhookendpoint",
        sa.Column("id", Text(), nullable=False),
        sa.Column("carrier_id", Text(), nullable=False),
        sa.Column("url", Text(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=True),
        sa.Column("state", Text(), nullable=False),
        sa.Column("secret_sealed", Text(), nullable=False),
        sa.Column("previous_sealed", Text(), nullable=True),
        sa.Column("previous_until", Time(), nullable=True),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("open_until", Time(), nullable=True),
        sa.ForeignKeyConstraint(["carrier_id"], ["carrier.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhookendpoint", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhookendpoint_carrier_id"), ["carrier_id"])
    op.create_table(
        "webhookevent",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", Text(), nullable=False),
        sa.Column("carrier_id", Text(), nullable=False),
        sa.Column("type", Text(), nullable=False),
        sa.Column("subject", Text(), nullable=False),
        sa.Column("waybill", Text(), nullable=True),
        sa.Column("occurred_at", Time(), nullable=False),
        sa.Column("recorded_at", Time(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("dedupe", Text(), nullable=True),
        sa.ForeignKeyConstraint(["carrier_id"], ["carrier.id"]),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("id"),
        sa.UniqueConstraint("dedupe"),
    )
    with op.batch_alter_table("webhookevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhookevent_carrier_id"), ["carrier_id"])
        batch_op.create_index("ix_webhookevent_carrier_waybill", ["carrier_id", "waybill"])
    op.create_table(
        "webhookdelivery",
        sa.Column("id", Text(), nullable=False),
        sa.Column("endpoint_id", Text(), nullable=False),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("subject", Text(), nullable=False),
        sa.Column("state", Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("first_attempt_at", Time(), nullable=True),
        sa.Column("next_attempt_at", Time(), nullable=False),
        sa.Column("claimed_until", Time(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", Text(), nullable=True),
        sa.Column("settled_at", Time(), nullable=True),
        sa.ForeignKeyConstraint(["endpoint_id"], ["webhookendpoint.id"]),
        sa.ForeignKeyConstraint(["event_seq"], ["webhookevent.seq"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("webhookdelivery", schema=None) as batch_op:
        batch_op.create_index("ix_webhookdelivery_due", ["state", "next_attempt_at"])
        batch_op.create_index("ix_webhookdelivery_order", ["endpoint_id", "subject", "event_seq"])


def _downgrade_webhooks() -> None:
    op.drop_table("webhookdelivery")  # its indexes go with it
    op.drop_table("webhookevent")
    op.drop_table("webhookendpoint")
    with op.batch_alter_table("inboundevent", schema=None) as batch_op:
        batch_op.drop_column("happened_at")
