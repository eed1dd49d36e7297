"""Where admins were told about an order: (order, chat, message) of each notice, so the
orders desk edits every copy in place after a status change (bot/telegram/desk.py).

A row is written after Telegram accepted the message; a notice whose message is gone
(deleted in the chat) is forgotten when an edit finds it missing. Rows go with their order
(ON DELETE CASCADE)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select

from bot.storage.db import Database
from bot.storage.models import OrderNotice, table_of

_notices = table_of(OrderNotice)


class NoticeStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        # The same message remembered twice (a retried hook) inserts nothing the second time.
        self._insert = db.upsert(_notices, key=["order_id", "chat_id", "message_id"], update=())

    async def remember(
        self, order_id: int, chat_id: int, message_id: int, *, now: datetime
    ) -> None:
        async with self._db.write() as conn:
            await conn.execute(
                self._insert.values(
                    order_id=order_id, chat_id=chat_id, message_id=message_id, sent_at=now
                )
            )

    async def of_order(self, order_id: int) -> list[tuple[int, int]]:
        """(chat_id, message_id) of every notice about ``order_id``, oldest first."""
        n = _notices.c
        stmt = (
            select(n.chat_id, n.message_id)
            .where(n.order_id == order_id)
            .order_by(n.sent_at, n.chat_id, n.message_id)
        )
        async with self._db.read(snapshot=False) as conn:
            return [(int(chat), int(message)) for chat, message in await conn.execute(stmt)]

    async def forget(self, order_id: int, chat_id: int, message_id: int) -> None:
        n = _notices.c
        async with self._db.write() as conn:
            await conn.execute(
                delete(_notices).where(
                    n.order_id == order_id, n.chat_id == chat_id, n.message_id == message_id
                )
            )


__all__ = ["NoticeStore"]
