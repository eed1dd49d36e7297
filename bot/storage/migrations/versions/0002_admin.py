"""Admin editing: soft deletes, the catalog's audit log, back-in-stock alerts.

``deleted_at`` on categories and products: an admin's delete (or an import that drops a row)
keeps the row, so whatever points at it (an order's line, a refund returning stock) keeps
working, and the catalog leaves it out. ``catalog_audit``: who changed what, field by field.
``stock_alerts``: shoppers waiting for a sold-out product.

Revision ID: 0002_admin
Revises: 0001
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0002_admin"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("categories", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("products", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "catalog_audit",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("admin_id", sa.BigInteger(), nullable=True),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("target", sa.Text(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalog_audit")),
    )
    op.create_table(
        "stock_alerts",
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.Text(), nullable=False),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_alerts_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "product_id", name=op.f("pk_stock_alerts")),
    )
    op.create_index(
        op.f("ix_stock_alerts_product_id"), "stock_alerts", ["product_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_stock_alerts_product_id"), table_name="stock_alerts")
    op.drop_table("stock_alerts")
    op.drop_table("catalog_audit")
    # Batch mode: SQLite re-creates a table to drop a column (with foreign keys off, see
    # Database.migration_engine); PostgreSQL drops it in place.
    with op.batch_alter_table("products") as batch:
        batch.drop_column("deleted_at")
    with op.batch_alter_table("categories") as batch:
        batch.drop_column("deleted_at")
