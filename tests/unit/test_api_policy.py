"""The Bot API policy: what is sent again, what is not, and how sends are paced.

Decisions are checked with aiogram's real AiohttpSession against real servers on 127.0.0.1
(the sandbox, a socket that refuses, a server that never answers), so the errors are the ones
aiogram really raises; waits go through the policy's ``sleep`` and ``clock`` seams.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetMe, SendMessage
from aiogram.types import BufferedInputFile, InputMediaPhoto
from aiohttp import web

from bot.telegram.api_policy import ApiPolicy, Pacer, SendBudget
from bot.telegram.logs import chat_id_var
from infra.redis import RedisGuard
from sandbox.app import create_app as sandbox_app
from sandbox.client import SandboxClient
from sandbox.testing import TEST_TOKEN, RunningSandbox
from tests.redis_faults import PATIENT, FakeClock
from tests.redis_server import RedisServer
from tests.unit.conftest import make_image

USER = 77
METHOD = SendMessage(chat_id=1, text="hi")
SENT: Any = "sent"


class Sleeps:
    """The policy's sleep: records each wait and lets the test act at that moment."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.on_sleep: list[Any] = []  # coroutines to run at the next sleeps, in order

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        if self.on_sleep:
            await self.on_sleep.pop(0)


class Script:
    """A make_request that fails as scripted, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self, bot: Bot, method: Any) -> Any:  # noqa: ARG002 - make_request's signature
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return SENT


def policy_with(sleeps: Sleeps, clock: FakeClock | None = None, **options: Any) -> ApiPolicy:
    options = {"chat_rate": 1000.0, "chat_burst": 10, **options}
    return ApiPolicy(sleep=sleeps, clock=clock or FakeClock(), **options)


def attach(bot: Bot, policy: ApiPolicy) -> Bot:
    bot.session.middleware(policy)
    return bot


@pytest.fixture
async def bot(sandbox: RunningSandbox) -> AsyncIterator[Bot]:
    """A bot on aiogram's real session, pointed at the sandbox; its user wrote first."""
    await sandbox.client.send_text(USER, "hi")
    bot = Bot(sandbox.token, session=AiohttpSession(api=TelegramAPIServer.from_base(sandbox.url)))
    yield bot
    await bot.session.close()


# ---- pacing ---------------------------------------------------------------------------------


def test_pacer_lets_a_burst_through_then_spaces_sends_at_the_rate() -> None:
    pacer = Pacer(rate=2.0, burst=3)
    delays = [pacer.delay("chat", now=0.0) for _ in range(5)]
    assert delays == [0.0, 0.0, 0.0, 0.5, 1.0]
    assert pacer.delay("other chat", now=0.0) == 0.0


def test_pacer_holds_a_chat_until_telegrams_retry_after() -> None:
    pacer = Pacer(rate=1.0, burst=3)
    pacer.block("chat", until=7.0)
    assert pacer.delay("chat", now=2.0) == 5.0


async def test_sends_to_one_chat_are_paced_below_telegrams_limit() -> None:
    # The e2e flood test's settings: a burst of 2, then 0.8 per second, under the sandbox's
    # (Telegram's) burst of 3 and 1 per second.
    sleeps = Sleeps()
    policy = policy_with(sleeps, chat_rate=0.8, chat_burst=2)
    bot = Bot("42:TEST")
    for _ in range(5):
        assert await policy(Script(), bot, METHOD) == SENT
    assert sleeps.waits == [1.25, 2.5, 3.75]
    await policy(Script(), bot, SendMessage(chat_id=2, text="hi"))  # another chat: at once
    assert sleeps.waits == [1.25, 2.5, 3.75]
    await bot.session.close()


async def _send_while_handling(policy: ApiPolicy, bot: Bot, update_chat: int, to: int) -> None:
    """A send to ``to`` while the update of ``update_chat`` is handled (the dispatcher sets
    the update's chat in the context: bot/telegram/middlewares/inflight.py)."""
    token = chat_id_var.set(update_chat)
    try:
        assert await policy(Script(), bot, SendMessage(chat_id=to, text="hi")) == SENT
    finally:
        chat_id_var.reset(token)


async def test_answers_in_the_updates_chat_skip_the_bot_wide_budget() -> None:
    # Telegram's ~30 messages/s is the limit of bulk notifications: 40 buyers answered at
    # once, each in their own chat while their update is handled, go out without waiting.
    sleeps = Sleeps()
    policy = policy_with(sleeps, budget=SendBudget(rate=30.0))
    bot = Bot("42:TEST")
    for chat in range(1, 41):
        await _send_while_handling(policy, bot, update_chat=chat, to=chat)
    assert sleeps.waits == []
    # Those answers spent nothing of the budget: 40 notices (no update being handled) get
    # its burst of 30 at once, and the 10 beyond it are spaced at 30 per second.
    for chat in range(1, 41):
        assert await policy(Script(), bot, SendMessage(chat_id=chat, text="restock")) == SENT
    assert sleeps.waits == pytest.approx([n / 30 for n in range(1, 11)])
    await bot.session.close()


async def test_a_send_to_another_chat_while_handling_an_update_is_bulk() -> None:
    # An admin's notice about a buyer's payment, a refund notice to the buyer sent from the
    # admin's button: not an answer in the update's chat, so the bot-wide budget applies.
    sleeps = Sleeps()
    policy = policy_with(sleeps, budget=SendBudget(rate=30.0))
    bot = Bot("42:TEST")
    for admin in range(1000, 1031):
        await _send_while_handling(policy, bot, update_chat=1, to=admin)
    assert sleeps.waits == [pytest.approx(1 / 30)]
    await bot.session.close()


async def test_a_send_telegram_refused_gives_the_chat_its_slot_back() -> None:
    # A card retrying without a stale file_id: the refused send posted nothing, so the retry
    # goes at once instead of a second later.
    sleeps = Sleeps()
    policy = policy_with(sleeps, chat_rate=1.0, chat_burst=1)
    bot = Bot("42:TEST")
    with pytest.raises(TelegramBadRequest):
        await policy(Script(TelegramBadRequest(METHOD, "wrong file identifier")), bot, METHOD)
    assert await policy(Script(), bot, METHOD) == SENT
    assert sleeps.waits == []
    # Only then: a message that went out, or one that may have (a 5xx), spends its slot.
    with pytest.raises(TelegramServerError):
        await policy(Script(TelegramServerError(METHOD, "Bad Gateway")), bot, METHOD)
    assert await policy(Script(), bot, METHOD) == SENT
    assert sleeps.waits == [1.0, 2.0]
    await bot.session.close()


def test_pacer_keeps_a_refused_slot_that_a_later_send_already_queued_behind() -> None:
    pacer = Pacer(rate=1.0, burst=1)
    assert pacer.delay("chat", now=0.0) == 0.0
    refused = pacer.reserved("chat")
    assert pacer.delay("chat", now=0.0) == 1.0  # already waits behind the refused send
    pacer.refund("chat", refused)
    assert pacer.delay("chat", now=0.0) == 2.0
    # Nor does a refund shorten Telegram's retry_after.
    mark = pacer.reserved("chat")
    pacer.block("chat", until=10.0)
    pacer.refund("chat", mark)
    assert pacer.delay("chat", now=0.0) == 10.0


@pytest.fixture
def frozen_wall() -> FakeClock:
    return FakeClock(1_700_000_000.0)


async def test_two_instances_spend_one_send_budget_through_redis(
    redis_url: str, frozen_wall: FakeClock
) -> None:
    """N replicas of a bot must send 30 messages/s together, not 30 each."""
    guards = [RedisGuard.connect(redis_url, timeout=PATIENT) for _ in range(2)]
    try:
        budgets = [SendBudget(guard, wall_clock=frozen_wall) for guard in guards]
        waits = [await budgets[n % 2].delay(42, now=0.0) for n in range(60)]
        # One burst of 30 between them, then one send per 1/30 s (33 333 us), whichever
        # instance sends.
        expected = [0.0] * 30 + [k * 33_333 / 1_000_000 for k in range(1, 31)]
        assert sorted(waits) == expected
        assert [b.instances for b in budgets] == [2, 2]
        # Another bot (another token) has its own budget.
        assert await budgets[0].delay(43, now=0.0) == 0.0
    finally:
        for guard in guards:
            await guard.aclose()


async def test_with_redis_gone_each_instance_paces_at_its_share(
    own_redis: RedisServer, frozen_wall: FakeClock
) -> None:
    clock = FakeClock()
    guards = [RedisGuard.connect(own_redis.url, timeout=PATIENT, clock=clock) for _ in range(2)]
    try:
        budgets = [SendBudget(guard, wall_clock=frozen_wall) for guard in guards]
        for budget in budgets + budgets:  # both seen sending, and each told so
            await budget.delay(42, now=0.0)
        assert [b.instances for b in budgets] == [2, 2]
        own_redis.stop()
        waits = [await budgets[0].delay(42, now=0.0) for _ in range(20)]
        # Half of 30/s: a burst of 15, then one per 1/15 s (the first call found Redis gone).
        assert [round(w, 6) for w in waits] == [0.0] * 15 + [round(k / 15, 6) for k in range(1, 6)]
        assert guards[0].down
    finally:
        for guard in guards:
            await guard.aclose()


async def test_without_redis_one_instance_keeps_the_whole_budget() -> None:
    budget = SendBudget()
    waits = [await budget.delay(42, now=0.0) for _ in range(32)]
    assert waits[:30] == [0.0] * 30
    assert [round(w, 6) for w in waits[30:]] == [round(1 / 30, 6), round(2 / 30, 6)]


# ---- what is sent again ---------------------------------------------------------------------


async def test_429_is_waited_out_and_the_message_still_goes() -> None:
    sleeps = Sleeps()
    policy = policy_with(sleeps)
    script = Script(TelegramRetryAfter(METHOD, "Too Many Requests", retry_after=3))
    bot = Bot("42:TEST")
    assert await policy(script, bot, METHOD) == SENT
    assert script.calls == 2
    assert policy.rate_limited == 1
    # The chat was held for retry_after: its pacer made the wait before the second try.
    assert sleeps.waits == [0.0, 3.0]
    await bot.session.close()


async def test_a_bad_request_is_not_retried() -> None:
    policy = policy_with(Sleeps())
    script = Script(TelegramBadRequest(METHOD, "chat not found"))
    with pytest.raises(TelegramBadRequest):
        await policy(script, Bot("42:TEST"), METHOD)
    assert script.calls == 1


async def test_an_absurd_retry_after_is_not_waited_for() -> None:
    sleeps = Sleeps()
    policy = policy_with(sleeps, max_retry_after=5)
    script = Script(TelegramRetryAfter(METHOD, "Too Many Requests", retry_after=3600))
    with pytest.raises(TelegramRetryAfter):
        await policy(script, Bot("42:TEST"), METHOD)
    assert (script.calls, sleeps.waits) == (1, [])


async def test_an_album_whose_answer_was_lost_is_not_posted_twice(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    """The sandbox posts the album, then drops the connection instead of answering."""
    sleeps = Sleeps()
    attach(bot, policy_with(sleeps))
    await sandbox.client.add_fault("sendMediaGroup", drop=True, after=True, count=1)
    with pytest.raises(TelegramNetworkError) as caught:
        await bot.send_media_group(
            USER,
            [
                InputMediaPhoto(
                    media=BufferedInputFile(make_image("PNG", (40 + n, 30)), f"{n}.png")
                )
                for n in range(2)
            ],
        )
    assert "ServerDisconnectedError" in caught.value.message
    messages = await sandbox.client.messages(USER)
    assert len([m for m in messages if "photo" in m]) == 2  # once, not twice
    assert len(await sandbox.client.calls("sendMediaGroup")) == 1
    assert sleeps.waits == []


async def test_a_send_that_got_a_5xx_is_not_sent_again_but_a_read_is(
    bot: Bot, sandbox: RunningSandbox
) -> None:
    sleeps = Sleeps()
    attach(bot, policy_with(sleeps, max_retries=3, base_delay=0.25))
    await sandbox.client.add_fault("sendMessage", error_code=502, count=1)
    with pytest.raises(TelegramServerError):
        await bot.send_message(USER, "maybe sent")
    assert len(await sandbox.client.calls("sendMessage")) == 1
    await sandbox.client.add_fault("getMe", error_code=502, count=2)
    me = await bot.get_me()
    assert me.is_bot
    assert [c["status"] for c in await sandbox.client.calls("getMe")] == [502, 502, 200]
    # Exponential backoff with jitter: 0.25 then 0.5, each scaled by 0.5-1.0.
    assert len(sleeps.waits) == 2
    assert 0.125 <= sleeps.waits[0] <= 0.25
    assert 0.25 <= sleeps.waits[1] <= 0.5


async def test_retries_of_a_read_are_bounded(bot: Bot, sandbox: RunningSandbox) -> None:
    sleeps = Sleeps()
    policy = policy_with(sleeps, max_retries=2)
    attach(bot, policy)
    await sandbox.client.add_fault("getMe", error_code=500)
    with pytest.raises(TelegramServerError):
        await bot.get_me()
    assert len(await sandbox.client.calls("getMe")) == 3
    assert (policy.retried, len(sleeps.waits)) == (2, 2)


@pytest.fixture
def refusing_socket() -> Iterator[socket.socket]:
    """A port that refuses connections (bound, not listening), held for the whole test."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


async def test_a_send_that_never_reached_telegram_is_sent_again(
    refusing_socket: socket.socket,
) -> None:
    """Connection refused: the sandbox comes up on that very socket while the policy waits."""
    runner = web.AppRunner(sandbox_app(), access_log=None)
    await runner.setup()
    user_side = web.TCPSite(runner, "127.0.0.1", 0)
    await user_side.start()
    client = SandboxClient(f"http://127.0.0.1:{runner.addresses[0][1]}", TEST_TOKEN)
    port = refusing_socket.getsockname()[1]
    session = AiohttpSession(api=TelegramAPIServer.from_base(f"http://127.0.0.1:{port}"))
    bot = Bot(TEST_TOKEN, session=session)
    sleeps = Sleeps()
    policy = policy_with(sleeps)
    attach(bot, policy)
    try:
        await client.send_text(USER, "hi")
        sleeps.on_sleep.append(web.SockSite(runner, refusing_socket).start())
        message = await bot.send_message(USER, "sent once")
        assert message.text == "sent once"
        texts = [m["text"] for m in await client.messages(USER)]
        assert texts == ["sent once"]
        assert (policy.retried, len(sleeps.waits)) == (1, 1)
    finally:
        await session.close()
        await client.close()
        await runner.cleanup()


@pytest.fixture
async def silent_server() -> AsyncIterator[tuple[str, list[int]]]:
    """An HTTP port that accepts requests and never answers: a read timeout every time."""
    requests: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests.append(1)
        await reader.read()  # until the client gives up and closes
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", requests
    server.close()
    await server.wait_closed()


async def test_after_a_read_timeout_a_send_is_not_repeated_but_a_read_is(
    silent_server: tuple[str, list[int]],
) -> None:
    url, requests = silent_server
    session = AiohttpSession(api=TelegramAPIServer.from_base(url), timeout=0.2)
    bot = Bot("42:TEST", session=session)
    policy = policy_with(Sleeps(), max_retries=2)
    attach(bot, policy)
    try:
        with pytest.raises(TelegramNetworkError, match="Request timeout error"):
            await bot.send_message(USER, "maybe sent")
        assert (len(requests), policy.not_resent) == (1, 1)
        with pytest.raises(TelegramNetworkError, match="Request timeout error"):
            await bot(GetMe())
        assert len(requests) == 1 + 3  # the read: asked again, twice
    finally:
        await session.close()


@pytest.mark.parametrize("method", ["setWebhook", "deleteWebhook"])
async def test_a_webhook_call_that_drops_pending_updates_is_not_repeated_after_a_5xx(
    bot: Bot, sandbox: RunningSandbox, method: str
) -> None:
    """A second one, after a first that Telegram acted on, would drop the updates that
    arrived in between; without drop_pending_updates the call is an overwrite, asked again."""
    policy = policy_with(Sleeps(), max_retries=3)
    attach(bot, policy)

    async def call(*, drop: bool) -> bool:
        if method == "setWebhook":
            return await bot.set_webhook(
                "https://example.org/hook", drop_pending_updates=drop or None
            )
        return await bot.delete_webhook(drop_pending_updates=drop or None)

    await sandbox.client.add_fault(method, error_code=502, count=1)
    with pytest.raises(TelegramServerError):
        await call(drop=True)
    assert [c["status"] for c in await sandbox.client.calls(method)] == [502]
    assert (policy.retried, policy.not_resent) == (0, 1)
    await sandbox.client.add_fault(method, error_code=502, count=1)
    assert await call(drop=False)
    assert [c["status"] for c in await sandbox.client.calls(method)] == [502, 502, 200]
    assert policy.retried == 1
