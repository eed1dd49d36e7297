"""Shoppers' carts in the database: they survive restarts and follow a shopper across
instances. The rules are bot/shop/cart.py's; this module loads a :class:`Cart`, lets an
operation of that module decide, and writes what changed, in one write transaction.

A shopper's cart is changed by one transaction at a time: on PostgreSQL each cart write (and
each checkout, bot/storage/orders.py) first takes a transaction-scoped advisory lock on the
user, so two quick taps on "Add to cart" add two units instead of both reading "none yet"
and both writing one; SQLite's write transactions run one at a time anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from bot.shop.cart import MAX_LINES, MAX_QUANTITY, Cart, CartChange
from bot.storage.db import Database
from bot.storage.models import CartItem, table_of

_carts = table_of(CartItem)
# pg_advisory_xact_lock(int, int)'s first key: the carts' own space of locks (the second is
# the user). A one-key lock (the migrations') never meets a two-key one.
_CART_LOCKS = 17
_INT4 = 2**31


# Built once (building a statement and its cache key costs ~80-100 us a time).
_LOCK_CART = select(
    func.pg_advisory_xact_lock(bindparam("b_space", _CART_LOCKS), bindparam("b_user"))
)


async def lock_cart(db: Database, conn: AsyncConnection, user_id: int) -> None:
    """Hold ``user_id``'s cart until this transaction ends (PostgreSQL; SQLite's write
    transaction holds the whole database already). Two users whose ids share the low 31
    bits would wait for each other's cart writes: slower, never wrong."""
    if db.dialect == "postgresql":
        await conn.execute(_LOCK_CART, {"b_user": user_id % _INT4})


_CART_OF = (
    select(_carts.c.product_id, _carts.c.quantity, _carts.c.position)
    .where(_carts.c.user_id == bindparam("b_user"))
    .order_by(_carts.c.position, _carts.c.product_id)
)


async def _load(conn: AsyncConnection, user_id: int) -> tuple[Cart, int]:
    """The cart and the last position its lines hold (0 when empty): a new line goes after."""
    rows = (await conn.execute(_CART_OF, {"b_user": user_id})).all()
    cart = Cart.from_rows((str(pid), int(quantity)) for pid, quantity, _ in rows)
    return cart, max((int(position) for *_, position in rows), default=0)


async def load_cart(conn: AsyncConnection, user_id: int) -> Cart:
    cart, _ = await _load(conn, user_id)
    return cart


class CartStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._upsert = db.upsert(_carts, key=["user_id", "product_id"], update=["quantity"])

    async def get(self, user_id: int) -> Cart:
        """The cart as stored: one indexed read."""
        async with self._db.read(snapshot=False) as conn:
            return await load_cart(conn, user_id)

    async def change(self, user_id: int, operate: Callable[[Cart], CartChange]) -> CartChange:
        """Apply ``operate`` (a bot/shop/cart.py operation) to the stored cart and keep what
        it decided; a refusal writes nothing."""
        async with self._db.write() as conn:
            await lock_cart(self._db, conn, user_id)
            cart, last = await _load(conn, user_id)
            change = operate(cart)
            if change.outcome.changed:
                await self._save(conn, user_id, cart, change.cart, last)
        return change

    async def put_back(self, user_id: int, lines: Sequence[tuple[str, int]]) -> None:
        """Return checked-out lines to the cart (an invoice that could not be sent): added to
        whatever the cart holds now, at most MAX_QUANTITY a line."""
        async with self._db.write() as conn:
            await lock_cart(self._db, conn, user_id)
            cart, last = await _load(conn, user_id)
            merged = dict(cart.rows())
            for product_id, quantity in lines:
                if product_id in merged or len(merged) < MAX_LINES:
                    merged[product_id] = min(MAX_QUANTITY, merged.get(product_id, 0) + quantity)
            await self._save(conn, user_id, cart, Cart.from_rows(merged.items()), last)

    async def _save(
        self, conn: AsyncConnection, user_id: int, old: Cart, new: Cart, position: int
    ) -> None:
        """Write what changed from ``old`` to ``new``; a new line takes the next position
        after ``position`` (the last one ``old`` held)."""
        kept = {line.product_id for line in new}
        gone = [line.product_id for line in old if line.product_id not in kept]
        if gone:
            await conn.execute(
                delete(_carts).where(_carts.c.user_id == user_id, _carts.c.product_id.in_(gone))
            )
        rows = []
        for line in new:
            before = old.quantity(line.product_id)
            if before == line.quantity:
                continue
            if before == 0:
                position += 1
            rows.append(
                {
                    "user_id": user_id,
                    "product_id": line.product_id,
                    "quantity": line.quantity,
                    "position": position,  # kept by an existing line (update: quantity only)
                }
            )
        if rows:
            await conn.execute(self._upsert, rows)
