"""Statistics: the funnel's events, and indexes for reading orders by period.

``events``: card views and cart adds, written in batches (bot/storage/events.py). Orders
are read by when they were placed (``ix_orders_created_at``: the funnel's checkouts, the CSV
export) and when they were paid (``ix_order_history_to_status_at``: revenue per day).

Revision ID: 0007_events
Revises: 0006_desk
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007_events"
down_revision: str | Sequence[str] | None = "0006_desk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("product_id", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('card_view', 'cart_add')", name=op.f("ck_events_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_kind_at", "events", ["kind", "at"], unique=False)
    op.create_index("ix_orders_created_at", "orders", ["created_at"], unique=False)
    op.create_index(
        "ix_order_history_to_status_at", "order_history", ["to_status", "at"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_order_history_to_status_at", table_name="order_history")
    op.drop_index("ix_orders_created_at", table_name="orders")
    op.drop_index("ix_events_kind_at", table_name="events")
    op.drop_table("events")
