"""A long-running sandbox keeps bounded history: calls, pending updates, messages, button
presses and files, the oldest (files: the least recently used) going first."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from sandbox import Retention
from sandbox.client import SandboxError
from sandbox.state import FILE_OVERHEAD_BYTES
from sandbox.testing import RunningSandbox, running_sandbox
from tests.sandbox.conftest import USER_ID, make_bot


async def _kept(retention: Retention) -> AsyncIterator[tuple[RunningSandbox, Bot]]:
    async with running_sandbox(retention=retention) as running:
        bot = make_bot(running.url, running.token)
        try:
            yield running, bot
        finally:
            await bot.session.close()


@pytest.fixture
async def small() -> AsyncIterator[tuple[RunningSandbox, Bot]]:
    doc_cost = 10_000 + FILE_OVERHEAD_BYTES
    retention = Retention(
        calls=5, pending_updates=3, messages=3, callback_queries=2, file_bytes=2 * doc_cost + 10
    )
    async for pair in _kept(retention):
        yield pair


async def test_the_call_log_keeps_the_latest_calls(small: tuple[RunningSandbox, Bot]) -> None:
    running, bot = small
    for _ in range(8):
        await bot.get_me()
    calls = await running.client.calls()
    assert len(calls) == 5
    ids = [call["id"] for call in calls]
    assert ids == list(range(ids[0], ids[0] + 5))
    assert ids[-1] == max(call.id for call in running.state.bot(running.token).calls)
    assert {call["method"] for call in calls} == {"getMe"}


async def test_updates_nobody_fetches_are_dropped_oldest_first(
    small: tuple[RunningSandbox, Bot],
) -> None:
    running, bot = small
    for n in range(5):
        await running.client.send_text(USER_ID, f"m{n}")
    updates = await bot.get_updates()
    assert [u.message.text for u in updates if u.message] == ["m2", "m3", "m4"]


async def test_a_chat_keeps_its_latest_messages(small: tuple[RunningSandbox, Bot]) -> None:
    running, bot = small
    await running.client.send_text(USER_ID, "hi")
    sent = [await bot.send_message(USER_ID, f"b{n}") for n in range(4)]
    kept = await running.client.messages(USER_ID, include_users=True)
    assert [m["text"] for m in kept] == ["b1", "b2", "b3"]
    # A message the chat no longer holds is gone, as a deleted one is.
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("edited", chat_id=USER_ID, message_id=sent[0].message_id)
    await bot.edit_message_text("edited", chat_id=USER_ID, message_id=sent[-1].message_id)


async def test_old_button_presses_are_forgotten(small: tuple[RunningSandbox, Bot]) -> None:
    running, bot = small
    await running.client.send_text(USER_ID, "hi")
    markup = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]]
    )
    message = await bot.send_message(USER_ID, "press", reply_markup=markup)
    presses = [
        await running.client.press_button(USER_ID, message.message_id, "go") for _ in range(3)
    ]
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query(presses[0])
    with pytest.raises(SandboxError, match="no such callback query"):
        await running.client.callback_answer(USER_ID, presses[0])
    assert await bot.answer_callback_query(presses[-1], text="ok")
    assert (await running.client.callback_answer(USER_ID, presses[-1]))["answered"] is True


async def _send_document(bot: Bot, document: str | BufferedInputFile) -> str:
    message = await bot.send_document(USER_ID, document)
    assert message.document is not None
    return message.document.file_id


async def test_files_past_the_byte_budget_go_least_recently_used_first(
    small: tuple[RunningSandbox, Bot],
) -> None:
    running, bot = small
    await running.client.send_text(USER_ID, "hi")
    first = await _send_document(bot, BufferedInputFile(b"a" * 10_000, "a.txt"))
    second = await _send_document(bot, BufferedInputFile(b"b" * 10_000, "b.txt"))
    first_path = (await bot.get_file(first)).file_path
    second_path = (await bot.get_file(second)).file_path
    # Sending the first again by file_id is a use: the second is now the least recent.
    assert await _send_document(bot, first) == first
    await _send_document(bot, BufferedInputFile(b"c" * 10_000, "c.txt"))
    assert len(running.state.files) == 2
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(USER_ID, second)
    assert second not in running.state.bot(running.token).file_ids
    assert await _send_document(bot, first) == first
    async with running.client._http().get(
        f"{running.url}/file/bot{running.token}/{second_path}"
    ) as gone:
        assert gone.status == 404
    async with running.client._http().get(
        f"{running.url}/file/bot{running.token}/{first_path}"
    ) as kept:
        assert await kept.read() == b"a" * 10_000


async def test_a_file_larger_than_the_whole_budget_is_refused_clearly(
    small: tuple[RunningSandbox, Bot],
) -> None:
    running, bot = small
    await running.client.send_text(USER_ID, "hi")
    kept = await _send_document(bot, BufferedInputFile(b"k" * 100, "k.txt"))
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.send_document(USER_ID, BufferedInputFile(b"x" * 30_000, "big.txt"))
    assert await _send_document(bot, kept) == kept


def test_the_defaults_hold_a_long_session_and_telegrams_largest_file() -> None:
    defaults = Retention()
    assert defaults.file_bytes >= 50 * 1024 * 1024 + FILE_OVERHEAD_BYTES
    assert min(defaults.calls, defaults.pending_updates, defaults.messages) >= 1000
