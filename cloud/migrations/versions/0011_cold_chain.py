"""cold chain: compartments', reservations' and parcels' temperature classes; zones' samples,
excursions and parcels' cold records (issue 17)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Text = sqlmodel.sql.sqltypes.AutoString
Time = sqlmodel.sql.sqltypes.UTCDateTime
CLASSED = ("compartment", "reservation", "parcel")


def upgrade() -> None:
    for table in CLASSED:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("temperature_class", Text(), nullable=False, server_default="ambient")
            )
    with op.batch_alter_table("compartment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("zone", Text(), nullable=True))
    op.create_table(
        "coldsample",
        sa.Column("bank_id", Text(), nullable=False),
        sa.Column("zone", Text(), nullable=False),
        sa.Column("at", Time(), nullable=False),
        sa.Column("celsius", sa.Float(), nullable=True),
        sa.Column("humidity", sa.Float(), nullable=True),
        sa.Column("failure", Text(), nullable=True),
        sa.PrimaryKeyConstraint("bank_id", "zone", "at"),
    )
    op.create_index("ix_coldsample_at", "coldsample", ["at"])
    op.create_table(
        "coldexcursion",
        sa.Column("id", Text(), nullable=False),
        sa.Column("bank_id", Text(), nullable=False),
        sa.Column("zone", Text(), nullable=False),
        sa.Column("temperature_class", Text(), nullable=False),
        sa.Column("out_since", Time(), nullable=False),
        sa.Column("detected_at", Time(), nullable=False),
        sa.Column("back_at", Time(), nullable=True),
        sa.Column("min_celsius", sa.Float(), nullable=True),
        sa.Column("max_celsius", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_coldexcursion_zone", "coldexcursion", ["bank_id", "zone", "out_since"])
    op.create_table(
        "parcelchain",
        sa.Column("parcel_id", Text(), nullable=False),
        sa.Column("bank_id", Text(), nullable=False),
        sa.Column("zone", Text(), nullable=False),
        sa.Column("temperature_class", Text(), nullable=False),
        sa.Column("deposited_at", Time(), nullable=False),
        sa.Column("picked_up_at", Time(), nullable=True),
        sa.Column("held", sa.Boolean(), nullable=True),
        sa.Column("excursions", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["bank_id"], ["bank.id"]),
        sa.ForeignKeyConstraint(["parcel_id"], ["parcel.id"]),
        sa.PrimaryKeyConstraint("parcel_id"),
    )


def downgrade() -> None:
    op.drop_table("parcelchain")
    op.drop_index("ix_coldexcursion_zone", table_name="coldexcursion")
    op.drop_table("coldexcursion")
    op.drop_index("ix_coldsample_at", table_name="coldsample")
    op.drop_table("coldsample")
    with op.batch_alter_table("compartment", schema=None) as batch_op:
        batch_op.drop_column("zone")
    for table in reversed(CLASSED):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("temperature_class")
