"""Shipping zones of the catalog (issue 18's provider payments): where physical goods go and
what delivery costs, written by a catalog import with its products.

Revision ID: 0005_shipping
Revises: 0004_delivery
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005_shipping"
down_revision: str | Sequence[str] | None = "0004_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipping_zones",
        sa.Column("id", sa.Text(), nullable=False),
        sa.Column("title", sa.JSON(), nullable=False),
        sa.Column("countries", sa.JSON(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("price", sa.BigInteger(), nullable=False),
        sa.Column("free_from", sa.BigInteger(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("free_from >= 0", name=op.f("ck_shipping_zones_free_from_not_negative")),
        sa.CheckConstraint("price >= 0", name=op.f("ck_shipping_zones_price_not_negative")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipping_zones")),
    )


def downgrade() -> None:
    op.drop_table("shipping_zones")
