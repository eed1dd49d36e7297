"""Delivery and payment methods on orders (issue 18's provider payments, pay on delivery, desk).

orders.method (stars, provider, cod), the shipping zone chosen and its price
(shipping_amount, minor units; ``total`` stays the goods alone), the buyer's details
(order_info: Telegram's OrderInfo as JSON) and the tracking number once shipped; an index on
(status, id) for the desk's lists.

Plain ADD COLUMNs on both engines: SQLite's batch mode would copy the orders table into a
new one, and dropping the old one under foreign_keys=ON cascades into order_lines.

Revision ID: 0004_delivery
Revises: 0003_orders
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004_delivery"
down_revision: str | Sequence[str] | None = "0003_orders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CHECKS = {
    "ck_orders_method": "method IN ('stars', 'provider', 'cod')",
    "ck_orders_shipping_amount_not_negative": "shipping_amount >= 0",
}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        # SQLite takes a CHECK only inside ADD COLUMN's own definition.
        op.execute(
            "ALTER TABLE orders ADD COLUMN method VARCHAR(16) DEFAULT 'stars' NOT NULL "
            f"CONSTRAINT ck_orders_method CHECK ({_CHECKS['ck_orders_method']})"
        )
        op.execute(
            "ALTER TABLE orders ADD COLUMN shipping_amount BIGINT DEFAULT '0' NOT NULL "
            "CONSTRAINT ck_orders_shipping_amount_not_negative "
            f"CHECK ({_CHECKS['ck_orders_shipping_amount_not_negative']})"
        )
    else:
        op.add_column(
            "orders",
            sa.Column("method", sa.String(length=16), server_default="stars", nullable=False),
        )
        op.add_column(
            "orders",
            sa.Column("shipping_amount", sa.BigInteger(), server_default="0", nullable=False),
        )
        for name, condition in _CHECKS.items():
            op.create_check_constraint(name, "orders", condition)
    op.add_column("orders", sa.Column("shipping_option_id", sa.Text(), nullable=True))
    op.add_column("orders", sa.Column("order_info", sa.JSON(), nullable=True))
    op.add_column("orders", sa.Column("tracking", sa.Text(), nullable=True))
    op.create_index("ix_orders_status_id", "orders", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_status_id", table_name="orders")
    for column in ("tracking", "order_info", "shipping_option_id"):
        op.drop_column("orders", column)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite (3.35+) drops a column whose only CHECK is its own column constraint.
        op.execute("ALTER TABLE orders DROP COLUMN shipping_amount")
        op.execute("ALTER TABLE orders DROP COLUMN method")
    else:
        for name in _CHECKS:
            op.drop_constraint(name, "orders", type_="check")
        op.drop_column("orders", "shipping_amount")
        op.drop_column("orders", "method")
