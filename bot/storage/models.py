"""The tables of the shop's database, as SQLAlchemy 2 typed declarative models.

The schema itself is Alembic's (bot/storage/migrations/versions): a change here needs a
migration, and tests/storage/test_migrations.py fails while the two differ (``alembic
check``). Constraints are named by one convention, so a later migration can drop or alter
them by name, on SQLite too (Alembic's batch mode re-creates a table from its named parts).

Money is an integer in the currency's minor units (Telegram's ``amount``; Stars are whole):
no float column is near a price. Texts per language are JSON objects (``{"en": ..., "ru":
...}``). Time is stored in UTC (:class:`UtcDateTime`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Alembic's recommended convention (https://alembic.sqlalchemy.org/en/latest/naming.html):
# every constraint and index gets a name derived from its table and columns.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

PRODUCT_KINDS = ("physical", "digital")


class UtcDateTime(TypeDecorator[datetime]):
    """A moment in time, stored in UTC and read back as an aware UTC datetime on both
    engines (SQLite has no time zone type: SQLAlchemy would hand back a naive value)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - TypeDecorator's signature
    ) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("a naive datetime: pass an aware one (datetime.now(UTC))")
        return value.astimezone(UTC)

    def process_result_value(
        self,
        value: Any,
        dialect: Dialect,  # noqa: ARG002 - TypeDecorator's signature
    ) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)  # noqa: S101 - the column holds nothing else
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {  # noqa: RUF012 - SQLAlchemy reads this class attribute
        datetime: UtcDateTime(),
        dict[str, str]: JSON(),
    }


# ---- the catalog --------------------------------------------------------------------------


class Category(Base):
    """A category of the catalog; shown in ``position`` order. ``deleted_at`` set: deleted
    (the row stays for the deleted products that still point at it)."""

    __tablename__ = "categories"

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    # {"en": ..., "ru": ...}: 'en' is required (the domain checks it).
    title: Mapped[dict[str, str]]
    position: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    deleted_at: Mapped[datetime | None]


class Product(Base):
    """A product; ``price`` in minor units of ``currency`` (1250 EUR = 12.50 EUR, 25 XTR = 25
    Stars), ``stock`` None = unlimited."""

    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint(f"kind IN {PRODUCT_KINDS!r}", name="kind"),
        # The products of a category in order (and the foreign key's check on a delete).
        Index("ix_products_category_id_position", "category_id", "position"),
        Index("ix_products_stock_revision", "stock_revision"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    category_id: Mapped[str] = mapped_column(Text, ForeignKey("categories.id"))
    title: Mapped[dict[str, str]]
    description: Mapped[dict[str, str]]
    currency: Mapped[str] = mapped_column(String(3))
    price: Mapped[int] = mapped_column(BigInteger)
    stock: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="physical")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[int] = mapped_column(Integer)
    sticker: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())
    # Set: deleted. A soft delete: the row stays, so whatever points at it (an order's line,
    # a refund returning stock) keeps working; the catalog no longer has it.
    deleted_at: Mapped[datetime | None]
    # The catalog_state.stock_revision of this product's last stock change by an order
    # (bot/storage/stock.py): running instances read only the rows past the revision they
    # know, instead of reloading the catalog for each sale. 0: no such change since import.
    stock_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    # In position order; deleted with the product (by the database: ON DELETE CASCADE).
    images: Mapped[list[ProductImage]] = relationship(
        order_by="ProductImage.position",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )


class ProductImage(Base):
    """One image of a product: a URL (may hold ``{static}``) or a Telegram file_id this bot
    owns, never both."""

    __tablename__ = "product_images"
    __table_args__ = (
        CheckConstraint(
            "(url IS NOT NULL AND file_id IS NULL) OR (url IS NULL AND file_id IS NOT NULL)",
            name="url_or_file_id",
        ),
    )

    product_id: Mapped[str] = mapped_column(
        Text, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    url: Mapped[str | None] = mapped_column(Text)
    file_id: Mapped[str | None] = mapped_column(Text)


class CatalogState(Base):
    """One row (id 1): ``revision`` is bumped by every catalog write in its transaction;
    running instances poll it and reload their in-memory catalog when it moves."""

    __tablename__ = "catalog_state"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False, default=1)
    revision: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.current_timestamp())
    # Bumped by every transaction that changes stock for an order (reserve, release, return),
    # which marks the products it changed with the new value: see Product.stock_revision.
    stock_revision: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ShippingZone(Base):
    """A delivery zone of the catalog (bot/shop/shipping.py), in ``position`` order:
    ``price`` and ``free_from`` in minor units of ``currency``; ``countries`` a JSON list of
    ISO codes. Written whole by an import (CatalogRepository.replace)."""

    __tablename__ = "shipping_zones"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("free_from >= 0", name="free_from_not_negative"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    title: Mapped[dict[str, str]]
    countries: Mapped[list[str]] = mapped_column(JSON)
    currency: Mapped[str] = mapped_column(String(3))
    price: Mapped[int] = mapped_column(BigInteger)
    free_from: Mapped[int | None] = mapped_column(BigInteger)
    position: Mapped[int] = mapped_column(Integer)


class CatalogAudit(Base):
    """One edit of the catalog: who (a Telegram user id; None: the command line), when, what
    (``action`` such as "product.update", its ``target`` id) and ``changes``: field ->
    [before, after] (an import: its summary)."""

    __tablename__ = "catalog_audit"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime]
    admin_id: Mapped[int | None] = mapped_column(BigInteger)
    action: Mapped[str] = mapped_column(Text)
    target: Mapped[str] = mapped_column(Text)
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)


class StockAlert(Base):
    """A shopper waiting for a sold-out product: one message when it is back in stock, in
    ``language``, then the row is gone. ``claimed_at``/``claim``: an instance is sending it
    (bot/storage/stock_alerts.py)."""

    __tablename__ = "stock_alerts"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[str] = mapped_column(
        Text, ForeignKey("products.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    language: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    claimed_at: Mapped[datetime | None]
    claim: Mapped[str | None] = mapped_column(Text)


# ---- state of the bot's media and users (bot/storage/file_ids.py, preferences.py) ----------


class MediaFileId(Base):
    """A Telegram file_id this bot learned for some content (sha256 or a render key)."""

    __tablename__ = "media_file_ids"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    key: Mapped[str] = mapped_column(Text, primary_key=True)
    file_id: Mapped[str] = mapped_column(Text)


class MediaUrl(Base):
    """What a URL served (its content's sha256) when its origin was last asked, and when."""

    __tablename__ = "media_urls"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    url: Mapped[str] = mapped_column(Text, primary_key=True)
    sha256: Mapped[str] = mapped_column(Text)
    checked_at: Mapped[float] = mapped_column(Double)  # unix time; not money


class UserLanguage(Base):
    """The language a user chose."""

    __tablename__ = "user_languages"

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    language: Mapped[str] = mapped_column(Text)


# ---- selling: carts, orders, payments (bot/storage/carts.py, orders.py, stock.py) ----------

# bot/shop/orders.py's Status values.
ORDER_STATUSES = (
    "awaiting_payment",
    "paid",
    "fulfilled",
    "packed",
    "shipped",
    "delivered",
    "cancelled",
    "expired",
    "refunded",
)
# bot/shop/orders.py's PaymentMethod values.
PAYMENT_METHODS = ("stars", "provider", "cod")
# What became of a charge (bot/storage/orders.py, PaymentState).
PAYMENT_STATES = ("paid", "refund_due", "refunded", "reported")
_STATUS_LENGTH = 20


class CartItem(Base):
    """One line of a shopper's cart. No foreign key to products: a line whose product left
    the catalog stays, flagged, until the shopper removes it (bot/shop/cart.py)."""

    __tablename__ = "carts"
    __table_args__ = (CheckConstraint("quantity BETWEEN 1 AND 99", name="quantity"),)

    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    product_id: Mapped[str] = mapped_column(Text, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
    # The order lines were added in (the cart shows them so).
    position: Mapped[int] = mapped_column(Integer)


class Order(Base):
    """An order: its id is the number shoppers see ("#123"), sequential and never reused
    (SQLite AUTOINCREMENT, PostgreSQL SERIAL). ``total`` in minor units of ``currency``."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN {ORDER_STATUSES!r}", name="status"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint(f"kind IN {PRODUCT_KINDS!r}", name="kind"),
        CheckConstraint(f"method IN {PAYMENT_METHODS!r}", name="method"),
        CheckConstraint("shipping_amount >= 0", name="shipping_amount_not_negative"),
        # /orders and /paysupport: a buyer's orders, newest first.
        Index("ix_orders_user_id_id", "user_id", "id"),
        # The orders desk: orders in a status, newest first.
        Index("ix_orders_status_id", "status", "id"),
        # The expiry sweep: orders awaiting payment past their deadline.
        Index("ix_orders_status_expires_at", "status", "expires_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(_STATUS_LENGTH))
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(16))
    # The random half of the invoice payload (bot/shop/payments.py, make_payload).
    nonce: Mapped[str] = mapped_column(String(16))
    # The shopper's language at checkout: what later messages about the order speak when
    # the shopper has no stored choice.
    language: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # The invoice message, so the expiry sweep can change its keyboard.
    invoice_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    invoice_message_id: Mapped[int | None] = mapped_column(BigInteger)
    # The charge that paid it and who made it (refunds go back to the payer).
    paid_charge_id: Mapped[str | None] = mapped_column(Text, unique=True)
    payer_id: Mapped[int | None] = mapped_column(BigInteger)
    # How it is paid (bot/shop/orders.py, PaymentMethod).
    method: Mapped[str] = mapped_column(String(16), server_default="stars")
    # Delivery (physical goods): the zone chosen and its price in minor units of ``currency``
    # (``total`` is the goods alone), what the buyer gave (Telegram's OrderInfo as JSON:
    # name, phone_number, email, shipping_address), and the tracking number once shipped.
    shipping_option_id: Mapped[str | None] = mapped_column(Text)
    shipping_amount: Mapped[int] = mapped_column(BigInteger, server_default="0")
    order_info: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tracking: Mapped[str | None] = mapped_column(Text)


class OrderItem(Base):
    """A line of an order as it was sold: copied from the catalog at checkout."""

    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    order_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product_id: Mapped[str] = mapped_column(Text)
    title: Mapped[dict[str, str]]
    unit_price: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int] = mapped_column(Integer)
    currency: Mapped[str] = mapped_column(String(3))
    kind: Mapped[str] = mapped_column(String(16))


class OrderHistory(Base):
    """Every status change of an order: from (None at checkout), to, when and why."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(_STATUS_LENGTH))
    to_status: Mapped[str] = mapped_column(String(_STATUS_LENGTH))
    at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)


class Payment(Base):
    """Every charge Telegram reported (successful_payment, or found by reconciliation),
    written before anything else is done about it: the UNIQUE charge id makes the same
    charge seen twice insert nothing. ``order_id`` None: it matched no order (reported)."""

    __tablename__ = "payments"
    __table_args__ = (CheckConstraint(f"state IN {PAYMENT_STATES!r}", name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Stars charge ids are longer than 128 characters: TEXT.
    telegram_payment_charge_id: Mapped[str] = mapped_column(Text, unique=True)
    provider_payment_charge_id: Mapped[str | None] = mapped_column(Text)
    order_id: Mapped[int | None] = mapped_column(Integer, ForeignKey("orders.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    payer_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime]
    # The update's successful_payment or the star transaction, as Telegram sent it.
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)


# ---- statistics: the funnel's events, and the reads of /stats (bot/storage/events.py, stats.py)

# bot/shop/stats.py's EventKind values.
EVENT_KINDS = ("card_view", "cart_add")


class Event(Base):
    """A step of a shopper towards an order that leaves no row of its own: a product card
    opened, an Add to cart. Written in batches by bot/storage/events.py's EventLog (a card
    view costs no write of its own). Checkouts and payments are counted from orders and
    order_history, which are exact; see bot/storage/stats.py."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint(f"kind IN {EVENT_KINDS!r}", name="kind"),
        # /stats counts a kind over a period.
        Index("ix_events_kind_at", "kind", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime]
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    product_id: Mapped[str | None] = mapped_column(Text)


# /stats and the CSV export read orders by when they were placed and paid (0007_events).
Index("ix_orders_created_at", Order.created_at)
Index("ix_order_history_to_status_at", OrderHistory.to_status, OrderHistory.at)


class OrderNotice(Base):
    """A message about an order in an admin's chat (the notice bot/telegram/sales.py sends
    when an order is paid or placed): the orders desk edits every copy in place after a
    status change, so a chat of orders shows each order's status now (bot/storage/notices.py).
    """

    __tablename__ = "order_notices"

    order_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    sent_at: Mapped[datetime]


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for Core statements (bulk upserts, deletes)."""
    table = model.__table__
    assert isinstance(table, Table)  # noqa: S101 - every model here maps one table
    return table


# ---- conversations (bot/storage/fsm_storage.py) -------------------------------------------


class FsmState(Base):
    """aiogram FSM state and data of one chat/user key when there is no Redis: a conversation
    (pay on delivery, the admin's forms) survives a restart. ``data`` is the JSON text of the
    FSM data ('{}' when empty); a key with no state and no data has no row."""

    __tablename__ = "fsm_states"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    state: Mapped[str | None] = mapped_column(Text)
    data: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]
