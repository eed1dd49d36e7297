"""Failures on demand (per method: 429, 5xx, delay, dropped connection; around payments: a
lost or repeated successful_payment, an expired pre-checkout) and flood limits."""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sandbox.limits import ApiError, too_many_requests

_DEFAULT_DESCRIPTIONS = {
    500: "Internal Server Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class FaultSpecError(ValueError):
    """A fault request the sandbox cannot apply; the message says why."""


@dataclass
class Fault:
    """What to do to the next matching calls. count None: every call until cleared."""

    method: str = "*"
    error_code: int | None = None
    description: str | None = None
    retry_after: int | None = None
    delay: float = 0.0
    drop: bool = False
    count: int | None = None
    token: str | None = None
    # Apply after the method ran: its effect happened but the answer is lost or late.
    after: bool = False

    @classmethod
    def from_json(cls, body: Any) -> Fault:
        if not isinstance(body, dict):
            raise FaultSpecError("a fault is a JSON object")
        known = set(cls.__dataclass_fields__)
        unknown = set(body) - known
        if unknown:
            raise FaultSpecError(f"unknown fault fields: {sorted(unknown)}")
        try:
            fault = cls(**body)
        except TypeError as exc:
            raise FaultSpecError(str(exc)) from exc
        fault.validate()
        fault.method = fault.method.lower()
        return fault

    def validate(self) -> None:
        if not isinstance(self.method, str) or not self.method:
            raise FaultSpecError("method must be a Bot API method name or '*'")
        if self.error_code is not None and (
            not isinstance(self.error_code, int) or not 400 <= self.error_code <= 599
        ):
            raise FaultSpecError("error_code must be 429 or another 4xx/5xx status")
        if self.retry_after is not None and (
            not isinstance(self.retry_after, int) or self.retry_after < 0
        ):
            raise FaultSpecError("retry_after must be a whole number of seconds >= 0")
        if not isinstance(self.delay, int | float) or self.delay < 0:
            raise FaultSpecError("delay must be a number of seconds >= 0")
        if self.count is not None and (not isinstance(self.count, int) or self.count < 1):
            raise FaultSpecError("count must be a positive integer")
        if self.error_code is None and not self.drop and not self.delay:
            raise FaultSpecError("a fault needs error_code, drop or delay")
        if self.error_code is not None and self.drop:
            raise FaultSpecError("a dropped connection has no error_code")

    def matches(self, method: str, token: str) -> bool:
        return (self.method in {"*", method.lower()}) and self.token in {None, token}

    def error(self) -> ApiError | None:
        if self.error_code is None:
            return None
        if self.error_code == 429:
            retry_after = 1 if self.retry_after is None else self.retry_after
            return ApiError(429, self.description or too_many_requests(retry_after), retry_after)
        description = self.description or _DEFAULT_DESCRIPTIONS.get(
            self.error_code, "Bad Request: fault injected by the sandbox"
        )
        return ApiError(self.error_code, description, self.retry_after)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# What can go wrong around a payment, beyond a Bot API call failing (a Fault does that).
PAYMENT_FAULTS = {
    # The Stars are taken (star transaction, balance, the receipt in the chat) but the
    # successful_payment update never reaches the bot: what the bot sees when it confirmed
    # the update (aiogram does before its handler ends) and died before its commit.
    "lose_successful_payment",
    # The same successful_payment message is delivered twice, in two updates.
    "repeat_successful_payment",
    # The pre-checkout query expires as soon as it is sent: whatever the bot answers comes
    # after Telegram's 10 s (QUERY_INVALID), and the user is told BOT_PRECHECKOUT_TIMEOUT.
    "expire_pre_checkout",
}


@dataclass
class PaymentFault:
    """What happens to the next payments (count None: every one until cleared)."""

    payment: str
    count: int | None = None
    token: str | None = None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> PaymentFault:
        unknown = set(body) - set(cls.__dataclass_fields__)
        if unknown:
            raise FaultSpecError(f"unknown payment fault fields: {sorted(unknown)}")
        kind = body.get("payment")
        if not isinstance(kind, str) or kind not in PAYMENT_FAULTS:
            raise FaultSpecError(f"payment must be one of {sorted(PAYMENT_FAULTS)}")
        fault = cls(**body)
        if fault.count is not None and (
            isinstance(fault.count, bool) or not isinstance(fault.count, int) or fault.count < 1
        ):
            raise FaultSpecError("count must be a positive integer")
        if fault.token is not None and not isinstance(fault.token, str):
            raise FaultSpecError("token must be a bot token")
        return fault

    def matches(self, payment: str, token: str) -> bool:
        return self.payment == payment and self.token in {None, token}

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def fault_from_json(body: Any) -> Fault | PaymentFault:
    """A Bot API method fault, or a payment fault when the body names "payment"."""
    if isinstance(body, dict) and "payment" in body:
        return PaymentFault.from_json(body)
    return Fault.from_json(body)


class FaultRegistry:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._payment_faults: list[PaymentFault] = []

    def add(self, fault: Fault | PaymentFault) -> None:
        if isinstance(fault, PaymentFault):
            self._payment_faults.append(fault)
        else:
            self._faults.append(fault)

    def clear(self) -> None:
        self._faults.clear()
        self._payment_faults.clear()

    def take_payment(self, payment: str, token: str) -> PaymentFault | None:
        """The first payment fault of this kind for this bot, counted down like take's."""
        for fault in self._payment_faults:
            if fault.matches(payment, token):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._payment_faults.remove(fault)
                return fault
        return None

    def take(self, method: str, token: str) -> Fault | None:
        """The first fault for this call, counting it down (it is gone after its count)."""
        for fault in self._faults:
            if fault.matches(method, token):
                if fault.count is not None:
                    fault.count -= 1
                    if fault.count <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def to_json(self) -> list[dict[str, Any]]:
        payment_faults = [fault.to_json() for fault in self._payment_faults]
        return [fault.to_json() for fault in self._faults] + payment_faults


@dataclass
class _Bucket:
    rate: float
    burst: float
    tokens: float
    stamp: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait(self) -> float:
        """Seconds until one token is available (0 if one is)."""
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


def _update_chat(update: dict[str, Any]) -> int | None:
    """The private chat an update came from (message, callback query, pre-checkout, ...)."""
    for key, payload in update.items():
        if key == "update_id" or not isinstance(payload, dict):
            continue
        source = payload.get("chat") or (payload.get("message") or {}).get("chat")
        source = source or payload.get("from")
        if isinstance(source, dict) and isinstance(source.get("id"), int):
            return int(source["id"])
    return None


@dataclass
class FloodControl:
    """Telegram's send limits, as its Bot FAQ documents them
    (https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this): ~1
    message/s per chat with a small burst, and "if you're sending bulk notifications to
    multiple users, ... not more than 30 messages per second or so".

    Every send counts in its chat's bucket. Only bulk sends count in the bot-wide one: a send
    into a chat whose user sent the bot an update in the last ``reply_window`` seconds
    answers that user, and is not a notification (the Bot API's ``allow_paid_broadcast``
    lifts the same ~30/s as a "broadcasting limit"). The window is Telegram's webhook
    timeout (an update is handled within about 60 s or delivered again); the bot's own
    pacing (bot/telegram/api_policy.py) is stricter, counting only the update it handles.
    """

    enabled: bool = False
    per_chat_rate: float = 1.0
    per_chat_burst: int = 3
    global_rate: float = 30.0
    global_burst: int = 30
    reply_window: float = 60.0
    # The clock the buckets refill by; a test can share one fake clock with the bot's pacing.
    clock: Callable[[], float] = time.monotonic
    _chats: dict[tuple[str, int], _Bucket] = field(default_factory=dict)
    _global: dict[str, _Bucket] = field(default_factory=dict)
    # When each chat last sent the bot an update, on ``clock``: oldest first, so the chats
    # whose window has passed are forgotten from the front, a few at a time (a copy of the
    # table once it held 10,000 chats was 1.3 ms an update while they stayed in the window).
    _updates: OrderedDict[tuple[str, int], float] = field(default_factory=OrderedDict)

    def saw_update(self, token: str, update: dict[str, Any], now: float | None = None) -> None:
        """An update from a user to the bot: for ``reply_window`` the bot answers that chat."""
        chat_id = _update_chat(update)
        if chat_id is None:
            return
        now = self.clock() if now is None else now
        key = (token, chat_id)
        self._updates[key] = now
        self._updates.move_to_end(key)
        since = now - self.reply_window
        while next(iter(self._updates.values())) < since:
            self._updates.popitem(last=False)

    def _answers(self, token: str, chat_id: int, now: float) -> bool:
        seen = self._updates.get((token, chat_id))
        return seen is not None and now - seen <= self.reply_window

    def configure(self, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("enabled"), bool):
            raise FaultSpecError('flood settings need "enabled": true or false')
        numbers = {"per_chat_rate", "per_chat_burst", "global_rate", "global_burst", "reply_window"}
        unknown = set(body) - numbers - {"enabled"}
        if unknown:
            raise FaultSpecError(f"unknown flood fields: {sorted(unknown)}")
        for name in numbers & set(body):
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise FaultSpecError(f"{name} must be a positive number")
        self.enabled = body["enabled"]
        self.per_chat_rate = float(body.get("per_chat_rate", self.per_chat_rate))
        self.per_chat_burst = int(body.get("per_chat_burst", self.per_chat_burst))
        self.global_rate = float(body.get("global_rate", self.global_rate))
        self.global_burst = int(body.get("global_burst", self.global_burst))
        self.reply_window = float(body.get("reply_window", self.reply_window))
        self._chats.clear()
        self._global.clear()

    def to_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "per_chat_rate": self.per_chat_rate,
            "per_chat_burst": self.per_chat_burst,
            "global_rate": self.global_rate,
            "global_burst": self.global_burst,
            "reply_window": self.reply_window,
        }

    def check(self, token: str, chat_id: int, now: float | None = None) -> None:
        """Count one message to chat_id, or raise 429 with the seconds to wait."""
        if not self.enabled:
            return
        now = self.clock() if now is None else now
        chat = self._chats.get((token, chat_id))
        if chat is None:
            chat = _Bucket(self.per_chat_rate, self.per_chat_burst, self.per_chat_burst, now)
            self._chats[(token, chat_id)] = chat
        overall = self._global.get(token)
        if overall is None:
            overall = _Bucket(self.global_rate, self.global_burst, self.global_burst, now)
            self._global[token] = overall
        bulk = not self._answers(token, chat_id, now)
        chat.refill(now)
        overall.refill(now)
        wait = max(chat.wait(), overall.wait() if bulk else 0.0)
        if wait > 0:
            # Telegram answers whole seconds and never 0 for a real limit.
            retry_after = max(1, math.ceil(wait))
            raise ApiError(429, too_many_requests(retry_after), retry_after)
        chat.tokens -= 1
        if bulk:
            overall.tokens -= 1
