"""alarms with a lifecycle (acknowledged, closed by hand, escalated); door health by day

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Text = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime
COUNTS = (
    "unlocks",
    "opens",
    "measured",
    "latency_ms_sum",
    "latency_ms_max",
    "jams",
    "unknown",
    "forced",
    "flaps",
    "left_open",
)


def upgrade() -> None:
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        batch_op.add_column(sa.Column("acknowledged_at", Time(), nullable=True))
        batch_op.add_column(sa.Column("acknowledged_by", Text(), nullable=True))
        batch_op.add_column(
            sa.Column("acknowledged_note", Text(), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("cleared_by", Text(), nullable=True))
        batch_op.add_column(sa.Column("cleared_note", Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("escalated_at", Time(), nullable=True))
    # alarms open before the console existed are not mailed now, all at once (decision 0023):
    # nobody could have acknowledged them; they are stamped as escalated when raised
    op.execute("UPDATE alarm SET escalated_at = raised_at WHERE cleared_at IS NULL")
    op.create_table(
        "doorday",
        sa.Column("bank_id", Text(), nullable=False),
        sa.Column("label", Text(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.PrimaryKeyConstraint("bank_id", "label", "day"),
    )
    op.create_table(
        "doorwatch",
        sa.Column("bank_id", Text(), nullable=False),
        sa.Column("label", Text(), nullable=False),
        sa.Column("unlock_intent", Text(), nullable=True),
        sa.Column("unlock_at", Time(), nullable=True),
        sa.Column("closed_at", Time(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.PrimaryKeyConstraint("bank_id", "label"),
    )


def downgrade() -> None:
    op.drop_table("doorwatch")
    op.drop_table("doorday")
    with op.batch_alter_table("alarm", schema=None) as batch_op:
        for name in (
            "escalated_at",
            "cleared_note",
            "cleared_by",
            "acknowledged_note",
            "acknowledged_by",
            "acknowledged_at",
        ):
            batch_op.drop_column(name)
