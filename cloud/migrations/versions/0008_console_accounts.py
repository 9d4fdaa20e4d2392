"""console accounts: people, their sites, sessions, one-time links, throttling, staff mail
(issue 15, decision 0022)

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 06:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Text = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime


def upgrade() -> None:
    _upgrade_accounts()


def downgrade() -> None:
    _downgrade_accounts()


def _person_tables() -> None:
    op.create_table(
        "consoleperson",
        sa.Column("id", Text(), nullable=False),
        sa.Column("email", Text(), nullable=False),
        sa.Column("name", Text(), nullable=False),
        sa.Column("password_hash", Text(), nullable=False),
        sa.Column("role", Text(), nullable=False),
        sa.Column("operator_id", Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.ForeignKeyConstraint(["operator_id"], ["operator.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
    )
    with op.batch_alter_table("consoleperson", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consoleperson_operator_id"), ["operator_id"])
    op.create_table(
        "consolepersonsite",
        sa.Column("person_id", Text(), nullable=False),
        sa.Column("site_id", Text(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["consoleperson.id"]),
        sa.ForeignKeyConstraint(["site_id"], ["site.id"]),
        sa.PrimaryKeyConstraint("person_id", "site_id"),
    )


def _secret_tables() -> None:
    op.create_table(
        "consolesession",
        sa.Column("id", Text(), nullable=False),
        sa.Column("token_hash", Text(), nullable=False),
        sa.Column("person_id", Text(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("last_seen_at", Time(), nullable=False),
        sa.Column("expires_at", Time(), nullable=False),
        sa.Column("idle_timeout_s", sa.Integer(), nullable=False),
        sa.Column("revoked_at", Time(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["consoleperson.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("consolesession", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consolesession_person_id"), ["person_id"])
    op.create_table(
        "onetimelink",
        sa.Column("id", Text(), nullable=False),
        sa.Column("token_hash", Text(), nullable=False),
        sa.Column("person_id", Text(), nullable=False),
        sa.Column("purpose", Text(), nullable=False),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("expires_at", Time(), nullable=False),
        sa.Column("used_at", Time(), nullable=True),
        sa.ForeignKeyConstraint(["person_id"], ["consoleperson.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("onetimelink", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_onetimelink_person_id"), ["person_id"])
    op.create_table(
        "signinthrottle",
        sa.Column("scope", Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("lockout_s", sa.Float(), nullable=False),
        sa.Column("locked_until", Time(), nullable=True),
        sa.Column("last_failure_at", Time(), nullable=True),
        sa.PrimaryKeyConstraint("scope"),
    )


def _mail_table() -> None:
    op.create_table(
        "staffmail",
        sa.Column("id", Text(), nullable=False),
        sa.Column("person_id", Text(), nullable=False),
        sa.Column("subject", Text(), nullable=False),
        sa.Column("body", Text(), nullable=False),
        sa.Column("sealed_link", Text(), nullable=True),
        sa.Column("created_at", Time(), nullable=False),
        sa.Column("due_at", Time(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("lease_until", Time(), nullable=True),
        sa.Column("sent_at", Time(), nullable=True),
        sa.Column("failed_at", Time(), nullable=True),
        sa.Column("last_error", Text(), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["consoleperson.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("staffmail", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_staffmail_person_id"), ["person_id"])
        batch_op.create_index(batch_op.f("ix_staffmail_due_at"), ["due_at"])


def _upgrade_accounts() -> None:
    _person_tables()
    _secret_tables()
    _mail_table()


def _downgrade_accounts() -> None:
    for table in (
        "staffmail",
        "signinthrottle",
        "onetimelink",
        "consolesession",
        "consolepersonsite",
        "consoleperson",
    ):
        op.drop_table(table)  # their indexes go with them
