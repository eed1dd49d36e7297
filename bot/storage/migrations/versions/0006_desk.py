"""The orders desk (issue 18): order_notices, every admin's message about an order, so a
status change edits each copy in place.

Revision ID: 0006_desk
Revises: 0005_shipping
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006_desk"
down_revision: str | Sequence[str] | None = "0005_shipping"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_notices",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_notices_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "chat_id", "message_id", name=op.f("pk_order_notices")),
    )


def downgrade() -> None:
    op.drop_table("order_notices")
