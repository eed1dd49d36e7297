from __future__ import annotations

from typing import Any

import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import SendMessage

from bot.api_policy import ApiPolicy, Pacer

METHOD = SendMessage(chat_id=1, text="hi")
SENT: Any = "sent"


class Script:
    """A make_request that fails as scripted, then answers."""

    def __init__(self, *failures: Exception) -> None:
        self.failures = list(failures)
        self.calls = 0

    async def __call__(self, bot, method):  # noqa: ARG002 - the make_request signature
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return SENT


@pytest.fixture
def bot():
    return Bot("42:TEST")


def test_pacer_lets_a_burst_through_then_spaces_sends_at_the_rate():
    pacer = Pacer(rate=2.0, burst=3)
    delays = [pacer.delay("chat", now=0.0) for _ in range(5)]
    assert delays == [0.0, 0.0, 0.0, 0.5, 1.0]
    assert pacer.delay("other chat", now=0.0) == 0.0


def test_pacer_holds_a_chat_until_telegrams_retry_after():
    pacer = Pacer(rate=1.0, burst=3)
    pacer.block("chat", until=7.0)
    assert pacer.delay("chat", now=2.0) == 5.0


async def test_429_is_waited_out_and_the_message_still_goes(bot):
    policy = ApiPolicy(chat_rate=1000, chat_burst=10)
    script = Script(TelegramRetryAfter(METHOD, "Too Many Requests", retry_after=0))
    assert await policy(script, bot, METHOD) == SENT
    assert script.calls == 2
    assert policy.rate_limited == 1


async def test_5xx_and_network_errors_are_retried_a_bounded_number_of_times(bot):
    policy = ApiPolicy(max_retries=2, base_delay=0.001, chat_rate=1000, chat_burst=10)
    script = Script(
        TelegramServerError(METHOD, "Bad Gateway"), TelegramNetworkError(METHOD, "reset")
    )
    assert await policy(script, bot, METHOD) == SENT
    failing = Script(*(TelegramServerError(METHOD, "Bad Gateway") for _ in range(5)))
    with pytest.raises(TelegramServerError):
        await policy(failing, bot, METHOD)
    assert failing.calls == 3


async def test_a_bad_request_is_not_retried(bot):
    policy = ApiPolicy(chat_rate=1000, chat_burst=10)
    script = Script(TelegramBadRequest(METHOD, "chat not found"))
    with pytest.raises(TelegramBadRequest):
        await policy(script, bot, METHOD)
    assert script.calls == 1


async def test_an_absurd_retry_after_is_not_waited_for(bot):
    policy = ApiPolicy(max_retry_after=5, chat_rate=1000, chat_burst=10)
    script = Script(TelegramRetryAfter(METHOD, "Too Many Requests", retry_after=3600))
    with pytest.raises(TelegramRetryAfter):
        await policy(script, bot, METHOD)
