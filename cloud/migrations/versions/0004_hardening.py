"""hardening: quarantined events, key lifecycle, accepted shares, sealed codes, personal data

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 00:10:00

One revision for one round of work; each concern keeps its own pair of functions below so that
the schema change of each can be read (and reviewed) on its own.
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _upgrade_stream()
    _upgrade_keys()
    _upgrade_shares()
    _upgrade_secrets()


def downgrade() -> None:
    _downgrade_secrets()
    _downgrade_shares()
    _downgrade_keys()
    _downgrade_stream()


# --- a stream never stalls: quarantined events, stall alarms ---------------------------------


def _upgrade_stream() -> None:
    op.create_table(
        "quarantinedevent",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("bank_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("type", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("parcel_id", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("raw", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("quarantined_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("settled_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("settled_by", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["inboundevent.event_id"]),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("quarantinedevent", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantinedevent_bank_id"), ["bank_id"])
        batch_op.create_index(batch_op.f("ix_quarantinedevent_parcel_id"), ["parcel_id"])
    with op.batch_alter_table("bankcursor", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("advanced_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.add_column(sa.Column("edge_last_seq", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("edge_ahead_since", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )


def _downgrade_stream() -> None:
    with op.batch_alter_table("bank", schema=None) as batch_op:
        batch_op.drop_column("edge_ahead_since")
        batch_op.drop_column("edge_last_seq")
    with op.batch_alter_table("bankcursor", schema=None) as batch_op:
        batch_op.drop_column("advanced_at")
    with op.batch_alter_table("quarantinedevent", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantinedevent_parcel_id"))
        batch_op.drop_index(batch_op.f("ix_quarantinedevent_bank_id"))
    op.drop_table("quarantinedevent")


# --- keys: list, revoke, rotate ---------------------------------------------------------------


def _upgrade_keys() -> None:
    when = sqlmodel.sql.sqltypes.UTCDateTime
    with op.batch_alter_table("apikey") as batch:
        batch.add_column(sa.Column("revoked_at", when(), nullable=True))
        batch.add_column(sa.Column("expires_at", when(), nullable=True))
        batch.add_column(sa.Column("replaces", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def _downgrade_keys() -> None:
    with op.batch_alter_table("apikey") as batch:
        batch.drop_column("replaces")
        batch.drop_column("expires_at")
        batch.drop_column("revoked_at")


# --- shares accepted by carriers, per-bank courier codes --------------------------------------


def _upgrade_shares() -> None:
    """Shares wait for their carrier's acceptance (existing ones too: nothing more of a carrier
    reaches a bank until it accepts); couriers lose their PIN verifiers; sites get the time zone
    whose midnight changes couriers' codes (decision 0010)."""
    with op.batch_alter_table("sharingpolicy") as batch:
        batch.add_column(
            sa.Column("state", sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                      server_default="offered")
        )  # fmt: skip
        batch.add_column(sa.Column("codes_through", sa.Date(), nullable=True))
        batch.add_column(
            sa.Column("refresh_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table("courier") as batch:
        batch.drop_column("pin_hash")
        batch.drop_column("salt")
    with op.batch_alter_table("site") as batch:
        batch.add_column(
            sa.Column("timezone", sqlmodel.sql.sqltypes.AutoString(), nullable=False,
                      server_default="UTC")
        )  # fmt: skip


def _downgrade_shares() -> None:
    """The verifiers are gone for good: couriers come back with an empty one, which no PIN
    matches, until their carrier sets a PIN again."""
    text = sqlmodel.sql.sqltypes.AutoString()
    with op.batch_alter_table("site") as batch:
        batch.drop_column("timezone")
    with op.batch_alter_table("courier") as batch:
        batch.add_column(sa.Column("salt", text, nullable=False, server_default=""))
        batch.add_column(sa.Column("pin_hash", text, nullable=False, server_default=""))
    with op.batch_alter_table("sharingpolicy") as batch:
        batch.drop_column("refresh_at")
        batch.drop_column("codes_through")
        batch.drop_column("state")


# --- secrets and personal data at rest ---------------------------------------------------------


def _upgrade_secrets() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("sealed_code", sqlmodel.sql.sqltypes.AutoString(), nullable=True)
        )
    _scrub_plain_codes()


def _scrub_plain_codes() -> None:
    """Notices written before codes were sealed held the code in plain in their text: keep the
    template, lose the code (no notifier has ever sent these; decision 0011)."""
    bind = op.get_bind()
    prefix = "Pickup code: "
    rows = bind.execute(sa.text("SELECT id, text FROM notification")).all()
    for notice_id, text in rows:
        if prefix in text:
            template = text.rpartition(prefix)[0] + prefix + "{code}"
            query = sa.text("UPDATE notification SET text = :text WHERE id = :id")
            bind.execute(query, {"text": template, "id": notice_id})


def _downgrade_secrets() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_column("sealed_code")


_ = (sa, sqlmodel)  # used by the sections above as they fill in
