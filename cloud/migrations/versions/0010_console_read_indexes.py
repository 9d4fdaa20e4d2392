"""console read models: events and audit entries by time, banks' reported changes (issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 07:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

REPORTED_TYPES = "type IN ('bank.maintenance', 'compartment.service')"


def upgrade() -> None:
    op.create_index("ix_parcelevent_at", "parcelevent", ["at"])
    op.create_index("ix_auditentry_at", "auditentry", ["at"])
    op.create_index(
        "ix_inboundevent_reported",
        "inboundevent",
        ["bank_id"],
        postgresql_where=sa.text(REPORTED_TYPES),
        sqlite_where=sa.text(REPORTED_TYPES),
    )


def downgrade() -> None:
    op.drop_index("ix_inboundevent_reported", table_name="inboundevent")
    op.drop_index("ix_auditentry_at", table_name="auditentry")
    op.drop_index("ix_parcelevent_at", table_name="parcelevent")
