"""recipients: messages, storage policy per site, recipient links and consent (issue 14)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 03:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _upgrade_recipient_page()
    _upgrade_messages()
    _upgrade_storage()


def downgrade() -> None:
    _downgrade_storage()
    _downgrade_recipient_page()
    _downgrade_messages()


# --- the notifier: messages' kinds, states, tries and parcels (decision 0016) ---------------

_TEXT = sqlmodel.sql.sqltypes.AutoString
_WHEN = sqlmodel.sql.sqltypes.UTCDateTime


def _upgrade_messages() -> None:
    with op.batch_alter_table("notification", schema=None) as batch:
        batch.add_column(sa.Column("kind", _TEXT(), nullable=False, server_default="deposit"))
        batch.add_column(sa.Column("group_id", _TEXT(), nullable=True))
        batch.add_column(sa.Column("language", _TEXT(), nullable=False, server_default="zh"))
        batch.add_column(sa.Column("email", _TEXT(), nullable=True))
        batch.add_column(sa.Column("deposited_at", _WHEN(), nullable=True))
        batch.add_column(sa.Column("state", _TEXT(), nullable=False, server_default="queued"))
        batch.add_column(sa.Column("due_at", _WHEN(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("lease_until", _WHEN(), nullable=True))
        batch.add_column(sa.Column("delivered_at", _WHEN(), nullable=True))
        batch.add_column(sa.Column("provider_ref", _TEXT(), nullable=True))
        batch.add_column(sa.Column("last_error", _TEXT(), nullable=False, server_default=""))
        batch.create_index(batch.f("ix_notification_due_at"), ["due_at"])
        batch.create_index(batch.f("ix_notification_group_id"), ["group_id"])
    op.create_table(
        "notificationparcel",
        sa.Column("notification_id", _TEXT(), nullable=False),
        sa.Column("carrier_id", _TEXT(), nullable=False),
        sa.Column("waybill", _TEXT(), nullable=False),
        sa.Column("compartment", _TEXT(), nullable=False),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"]),
        sa.PrimaryKeyConstraint("notification_id", "carrier_id", "waybill"),
    )
    with op.batch_alter_table("notificationparcel", schema=None) as batch:
        batch.create_index(batch.f("ix_notificationparcel_carrier_id"), ["carrier_id"])
    # notices written before: sent ones are sent; the others go out now, told of their parcel
    op.execute("UPDATE notification SET state = 'sent' WHERE sent_at IS NOT NULL")
    # no code left to send (0004 rewrote plain ones out): nothing to tell
    op.execute(
        "UPDATE notification SET state = 'cancelled' WHERE sent_at IS NULL AND sealed_code IS NULL"
    )
    op.execute("UPDATE notification SET due_at = created_at WHERE sent_at IS NULL")
    op.execute(
        "INSERT INTO notificationparcel (notification_id, carrier_id, waybill, compartment) "
        "SELECT n.id, n.carrier_id, n.waybill, COALESCE((SELECT c.label FROM parcel p "
        "JOIN compartment c ON c.id = p.compartment_id WHERE p.bank_id = n.bank_id "
        "AND p.carrier_id = n.carrier_id AND p.waybill = n.waybill LIMIT 1), '') "
        "FROM notification n"
    )


def _downgrade_messages() -> None:
    with op.batch_alter_table("notificationparcel", schema=None) as batch:
        batch.drop_index(batch.f("ix_notificationparcel_carrier_id"))
    op.drop_table("notificationparcel")
    with op.batch_alter_table("notification", schema=None) as batch:
        batch.drop_index(batch.f("ix_notification_group_id"))
        batch.drop_index(batch.f("ix_notification_due_at"))
        for column in ("last_error", "provider_ref", "delivered_at", "lease_until", "attempts"):
            batch.drop_column(column)
        for column in ("due_at", "state", "deposited_at", "email", "language", "group_id"):
            batch.drop_column(column)
        batch.drop_column("kind")


# --- the recipient's page: parcels' pickup groups, page actions, shares, consent (0018) -------


def _upgrade_recipient_page() -> None:
    text, when = sqlmodel.sql.sqltypes.AutoString, sqlmodel.sql.sqltypes.UTCDateTime
    with op.batch_alter_table("parcel", schema=None) as batch:
        batch.add_column(sa.Column("group_id", text(), nullable=True))
        batch.create_index(batch.f("ix_parcel_group_id"), ["group_id"])
    op.create_table(
        "groupaction",
        sa.Column("id", text(), nullable=False),
        sa.Column("group_id", text(), nullable=False),
        sa.Column("bank_id", text(), nullable=False),
        sa.Column("kind", text(), nullable=False),
        sa.Column("target", text(), nullable=False),
        sa.Column("command_id", text(), nullable=False),
        sa.Column("at", when(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.ForeignKeyConstraint(["command_id"], ["command.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("group_id", "kind", "target", name="one_action_each"),
    )
    op.create_index("ix_groupaction_group_id", "groupaction", ["group_id"])
    op.create_table(
        "recipientshare",
        sa.Column("id", text(), nullable=False),
        sa.Column("group_id", text(), nullable=False),
        sa.Column("bank_id", text(), nullable=False),
        sa.Column("created_at", when(), nullable=False),
        sa.Column("revoked_at", when(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recipientshare_group_id", "recipientshare", ["group_id"])
    op.create_table(
        "recipientconsent",
        sa.Column("phone_hash", text(), nullable=False),
        sa.Column("bank_id", text(), nullable=False),
        sa.Column("choice", text(), nullable=False),
        sa.Column("at", when(), nullable=False),
        sa.Column("salt", text(), nullable=False),
        sa.Column("verifier", text(), nullable=False),
        sa.PrimaryKeyConstraint("phone_hash", "bank_id"),
    )


def _downgrade_recipient_page() -> None:
    op.drop_table("recipientconsent")
    op.drop_index("ix_recipientshare_group_id", table_name="recipientshare")
    op.drop_table("recipientshare")
    op.drop_index("ix_groupaction_group_id", table_name="groupaction")
    op.drop_table("groupaction")
    with op.batch_alter_table("parcel", schema=None) as batch:
        batch.drop_index(batch.f("ix_parcel_group_id"))
        batch.drop_column("group_id")


# --- storage policies per site (decision 0017) ----------------------------------------------


def _upgrade_storage() -> None:
    op.create_table(
        "sitestoragepolicy",
        sa.Column("site_id", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("free_hours", sa.Float(), nullable=False),
        sa.Column("keep_hours", sa.Float(), nullable=False),
        sa.Column("fee_minor", sa.Integer(), nullable=False),
        sa.Column("period_hours", sa.Float(), nullable=False),
        sa.Column("cap_minor", sa.Integer(), nullable=False),
        sa.Column("currency", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.PrimaryKeyConstraint("site_id"),
    )


def _downgrade_storage() -> None:
    op.drop_table("sitestoragepolicy")
