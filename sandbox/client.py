"""SandboxClient: the user side of the sandbox over HTTP, for tests and scripts.

async with SandboxClient(url, token) as client:
    await client.send_text(42, "/start promo")
    messages = await client.wait_for_messages(42, count=1)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, Self, TypeVar

import aiohttp

T = TypeVar("T")


class SandboxError(Exception):
    """The sandbox refused a user-side request; status and its error text."""

    def __init__(self, status: int, error: str) -> None:
        super().__init__(f"{status}: {error}")
        self.status = status
        self.error = error


class ChatWatch:
    """One chat's events over one WebSocket, kept for many waits in a row (a bench buyer's
    whole purchase): opened before the chat's first action, so no event is missed, and each
    wait is answered from the events themselves. :meth:`SandboxClient.wait_for_messages`
    opens a socket per wait and reads the chat over HTTP after each event, which is what a
    test wants (a look at the state whatever came before); a load that waits many times per
    chat would spend more on that than on what it measures. Make it with
    :meth:`SandboxClient.watch_chat`."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse, chat_id: int) -> None:
        self._socket = socket
        self.chat_id = chat_id
        # The bot's messages in the chat as sent or last edited, by message_id.
        self.bot_messages: dict[int, dict[str, Any]] = {}
        # The bot's answers to the chat's callback queries, by callback_query_id.
        self.answers: dict[str, dict[str, Any]] = {}

    def _apply(self, event: dict[str, Any]) -> None:
        kind, data = event.get("kind"), event.get("data") or {}
        if kind == "message" and data.get("from_bot"):
            message = data["message"]
            self.bot_messages[message["message_id"]] = message
        elif kind == "edit" and data["message"]["message_id"] in self.bot_messages:
            self.bot_messages[data["message"]["message_id"]] = data["message"]
        elif kind == "callback_answer":
            self.answers[data["callback_query_id"]] = data

    async def _until(self, found: Callable[[], T | None], within: float, what: str) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while (result := found()) is None:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(f"chat {self.chat_id}: {what}")
            try:
                frame = await self._socket.receive(timeout=remaining)
            except TimeoutError:
                continue  # one last look, then the error above
            if frame.type not in {aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY}:
                raise SandboxError(0, "the sandbox closed its events socket")
            self._apply(json.loads(frame.data))
        return result

    async def wait_for_messages(self, count: int, *, within: float = 60.0) -> list[dict[str, Any]]:
        """The bot's messages in the chat, in order, once there are at least ``count``."""

        def found() -> list[dict[str, Any]] | None:
            if len(self.bot_messages) < count:
                return None
            return [self.bot_messages[key] for key in sorted(self.bot_messages)]

        return await self._until(found, within, f"fewer than {count} bot messages")

    async def wait_for_callback_answer(
        self, query_id: str, *, within: float = 60.0
    ) -> dict[str, Any]:
        """The bot's answer to callback query ``query_id`` of this chat's user."""
        return await self._until(
            lambda: self.answers.get(query_id), within, f"callback query {query_id} unanswered"
        )


class SandboxClient:
    def __init__(
        self, base_url: str, token: str, session: aiohttp.ClientSession | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self._session = session
        self._own_session = session is None

    @property
    def api_base(self) -> str:
        """What TelegramAPIServer.from_base() takes to point a Bot at the sandbox."""
        return self.base_url

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._own_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
            self._own_session = True
        return self._session

    def for_token(self, token: str) -> SandboxClient:
        """A client for another bot sharing this client's HTTP session."""
        return SandboxClient(self.base_url, token, self._http())

    async def _request(self, verb: str, path: str, **kwargs: Any) -> Any:
        async with self._http().request(verb, self.base_url + path, **kwargs) as resp:
            body = await resp.json(content_type=None)
            if resp.status >= 400:
                if isinstance(body, dict):
                    body = body.get("error") or body.get("description")
                raise SandboxError(resp.status, str(body))
            return body

    def _bot_path(self, path: str) -> str:
        return f"/sandbox/bot{self.token}{path}"

    # -- acting as users --------------------------------------------------------------------

    async def send_text(
        self,
        user_id: int,
        text: str,
        *,
        language_code: str | None = "en",
        first_name: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> dict[str, Any]:
        """The user writes text ("/start payload" is a deep-link start); returns the Message."""
        body: dict[str, Any] = {"text": text}
        if language_code is not None:
            body["language_code"] = language_code
        if first_name is not None:
            body["first_name"] = first_name
        if username is not None:
            body["username"] = username
        if reply_to_message_id is not None:
            body["reply_to_message_id"] = reply_to_message_id
        result: dict[str, Any] = await self._request(
            "POST", self._bot_path(f"/users/{user_id}/messages"), json=body
        )
        return result

    async def share_contact(
        self,
        user_id: int,
        phone_number: str,
        *,
        first_name: str = "User",
        owner: int | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """The user sends a contact (``owner``: whose it is; the user's own when they press
        a request_contact button); returns the Message."""
        body: dict[str, Any] = {"phone_number": phone_number, "first_name": first_name}
        if owner is not None:
            body["user_id"] = owner
        if language_code is not None:
            body["language_code"] = language_code
        result: dict[str, Any] = await self._request(
            "POST", self._bot_path(f"/users/{user_id}/contacts"), json=body
        )
        return result

    async def press_button(
        self, user_id: int, message_id: int, data: str, *, force: bool = False
    ) -> str:
        """The user presses an inline button; returns the callback query id."""
        body: dict[str, Any] = {"message_id": message_id, "data": data}
        if force:
            body["force"] = True
        result = await self._request(
            "POST", self._bot_path(f"/users/{user_id}/callbacks"), json=body
        )
        return str(result["callback_query_id"])

    async def callback_answer(self, user_id: int, query_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "GET", self._bot_path(f"/users/{user_id}/callbacks/{query_id}")
        )
        return result

    async def send_file(
        self,
        user_id: int,
        data: bytes | Path,
        *,
        kind: str,
        filename: str | None = None,
        caption: str | None = None,
        language_code: str | None = "en",
    ) -> dict[str, Any]:
        """The user sends a photo, sticker (.tgs: animated) or document; returns the Message."""
        if isinstance(data, Path):
            filename = filename or data.name
            # A test or script helper: reading a local file here is the caller's intent.
            data = await asyncio.to_thread(data.read_bytes)
        form = aiohttp.FormData()
        form.add_field("kind", kind)
        if caption is not None:
            form.add_field("caption", caption)
        if language_code is not None:
            form.add_field("language_code", language_code)
        form.add_field("file", data, filename=filename or "file")
        result: dict[str, Any] = await self._request(
            "POST", self._bot_path(f"/users/{user_id}/files"), data=form
        )
        return result

    # -- paying ------------------------------------------------------------------------------

    async def pay(
        self,
        user_id: int,
        *,
        message_id: int | None = None,
        invoice_link: str | None = None,
        tip_amount: int | None = None,
        shipping_address: dict[str, str] | None = None,
        shipping_option_id: str | None = None,
        order_info: dict[str, str] | None = None,
        requested_info_id: str | None = None,
    ) -> dict[str, Any]:
        """The user pays an invoice message of their chat or an invoice link; returns the
        outcome ({"ok", "status": "paid" | "refused" | "timeout", ...}, sandbox/README.md).
        It returns once the bot answered (or Telegram's 10 s passed): run it as a task while
        the bot answers the pre-checkout query."""
        body: dict[str, Any] = {}
        optional = {
            "message_id": message_id,
            "invoice_link": invoice_link,
            "tip_amount": tip_amount,
            "shipping_address": shipping_address,
            "shipping_option_id": shipping_option_id,
            "order_info": order_info,
            "requested_info_id": requested_info_id,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        result: dict[str, Any] = await self._request(
            "POST", self._bot_path(f"/users/{user_id}/payments"), json=body
        )
        return result

    async def shipping_options(
        self,
        user_id: int,
        message_id: int,
        *,
        shipping_address: dict[str, str] | None = None,
        order_info: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """The user filled in an invoice's sheet: the bot's shipping options for that address
        (a flexible invoice) and the ``requested_info_id`` to pay with (sandbox/README.md)."""
        body = {
            key: value
            for key, value in (("shipping_address", shipping_address), ("order_info", order_info))
            if value is not None
        }
        result: dict[str, Any] = await self._request(
            "POST",
            self._bot_path(f"/users/{user_id}/invoices/{message_id}/shipping"),
            json=body,
        )
        return result

    async def invoice(self, user_id: int, message_id: int) -> dict[str, Any]:
        """The payment form of an invoice message: prices, photo_url, what it asks for, and
        receipt_message_id once paid."""
        result: dict[str, Any] = await self._request(
            "GET", self._bot_path(f"/users/{user_id}/invoices/{message_id}")
        )
        return result

    async def add_payment_fault(
        self, payment: str, *, count: int | None = None, only_this_bot: bool = False
    ) -> None:
        """lose_successful_payment, repeat_successful_payment or expire_pre_checkout for the
        next ``count`` payments (all, without it)."""
        body: dict[str, Any] = {"payment": payment}
        if count is not None:
            body["count"] = count
        if only_this_bot:
            body["token"] = self.token
        await self._request("POST", "/sandbox/faults", json=body)

    # -- looking at what the bot did ---------------------------------------------------------

    async def messages(self, chat_id: int, *, include_users: bool = False) -> list[dict[str, Any]]:
        """What the bot sent to this chat (current state, deleted ones left out), in order."""
        params = {"all": "1"} if include_users else {}
        result: list[dict[str, Any]] = await self._request(
            "GET", self._bot_path(f"/chats/{chat_id}/messages"), params=params
        )
        return result

    async def wait_for_messages(
        self, chat_id: int, count: int, *, within: float = 60.0
    ) -> list[dict[str, Any]]:
        """The bot's messages in the chat once there are at least ``count``.

        Woken by the sandbox's events WebSocket for this chat (opened before the first look,
        so nothing is missed), not by polling; ``within`` only bounds a wait that would never
        end."""

        async def look() -> list[dict[str, Any]] | None:
            found = await self.messages(chat_id)
            return found if len(found) >= count else None

        async def missing() -> str:
            found = await self.messages(chat_id)
            return f"chat {chat_id} has {len(found)} bot messages, expected {count}"

        return await self._wait_in_chat(chat_id, look, missing, within)

    @contextlib.asynccontextmanager
    async def watch_chat(self, chat_id: int) -> AsyncIterator[ChatWatch]:
        """A :class:`ChatWatch` of ``chat_id`` (a private chat: the user's id) while the block
        runs; open it before the chat's first action."""
        url = self.base_url + self._bot_path("/events")
        async with self._http().ws_connect(url, params={"chat_id": str(chat_id)}) as socket:
            yield ChatWatch(socket, chat_id)

    async def wait_for_callback_answer(
        self, user_id: int, query_id: str, *, within: float = 60.0
    ) -> dict[str, Any]:
        """:meth:`callback_answer` once the bot answered the query, woken by the events of the
        user's chat rather than by polling."""

        async def look() -> dict[str, Any] | None:
            state = await self.callback_answer(user_id, query_id)
            return state if state["answered"] else None

        async def missing() -> str:
            return f"callback query {query_id} of user {user_id} was not answered"

        return await self._wait_in_chat(user_id, look, missing, within)

    async def _wait_in_chat(
        self,
        chat_id: int,
        look: Callable[[], Awaitable[T | None]],
        missing: Callable[[], Awaitable[str]],
        within: float,
    ) -> T:
        """``look()`` until it finds something, once now and again after each event of the
        chat; TimeoutError with ``missing()``'s text after ``within`` seconds."""
        url = self.base_url + self._bot_path("/events")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        async with self._http().ws_connect(url, params={"chat_id": str(chat_id)}) as socket:
            while True:
                found = await look()
                if found is not None:
                    return found
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise TimeoutError(await missing())
                try:
                    frame = await socket.receive(timeout=remaining)
                except TimeoutError:
                    continue  # one last look, then the error above
                if frame.type not in {aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY}:
                    raise SandboxError(0, "the sandbox closed its events socket")

    async def calls(self, method: str | None = None) -> list[dict[str, Any]]:
        params = {"method": method} if method else {}
        result: list[dict[str, Any]] = await self._request(
            "GET", self._bot_path("/calls"), params=params
        )
        return result

    async def reset_calls(self) -> None:
        await self._request("DELETE", self._bot_path("/calls"))

    # -- faults and flood control ------------------------------------------------------------

    async def add_fault(
        self,
        method: str = "*",
        *,
        error_code: int | None = None,
        retry_after: int | None = None,
        delay: float = 0.0,
        drop: bool = False,
        count: int | None = None,
        description: str | None = None,
        after: bool = False,
        only_this_bot: bool = False,
    ) -> None:
        body: dict[str, Any] = {"method": method, "delay": delay, "drop": drop, "after": after}
        optional = {
            "error_code": error_code,
            "retry_after": retry_after,
            "count": count,
            "description": description,
        }
        body.update({key: value for key, value in optional.items() if value is not None})
        if only_this_bot:
            body["token"] = self.token
        await self._request("POST", "/sandbox/faults", json=body)

    async def clear_faults(self) -> None:
        await self._request("DELETE", "/sandbox/faults")

    async def set_flood(self, enabled: bool, **limits: float) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "POST", "/sandbox/flood", json={"enabled": enabled, **limits}
        )
        return result

    # -- inline mode (sandbox/inline.py) -----------------------------------------------------

    async def inline_query(
        self,
        user_id: int,
        query: str,
        *,
        offset: str = "",
        chat_id: int | None = None,
        chat_type: str | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        """The user types "@bot query" in a chat (default: the chat with the bot); with
        ``wait``, returns once the bot answered: results, next_offset, ... (502 when it does
        not answer in time). chat_id as the user sees it: the user's own id is Saved Messages."""
        body: dict[str, Any] = {"query": query, "offset": offset, "wait": wait}
        if chat_id is not None:
            body["chat_id"] = chat_id
        if chat_type is not None:
            body["chat_type"] = chat_type
        result: dict[str, Any] = await self._request(
            "POST", self._bot_path(f"/users/{user_id}/inline_queries"), json=body
        )
        return result

    async def inline_query_state(self, user_id: int, query_id: str) -> dict[str, Any]:
        result: dict[str, Any] = await self._request(
            "GET", self._bot_path(f"/users/{user_id}/inline_queries/{query_id}")
        )
        return result

    async def choose_inline_result(
        self, user_id: int, query_id: str, result_id: str
    ) -> dict[str, Any]:
        """The user picks a result: {"message", "chat_id", "inline_message_id"}."""
        result: dict[str, Any] = await self._request(
            "POST",
            self._bot_path(f"/users/{user_id}/inline_queries/{query_id}/choose"),
            json={"result_id": result_id},
        )
        return result

    async def press_switch_inline(
        self, user_id: int, message_id: int, text: str, *, chat_id: int | None = None
    ) -> dict[str, Any]:
        """The user presses a switch-inline button: {"query", "input", "target", ...}."""
        body: dict[str, Any] = {"message_id": message_id, "text": text}
        if chat_id is not None:
            body["chat_id"] = chat_id
        result: dict[str, Any] = await self._request(
            "POST", self._bot_path(f"/users/{user_id}/switch_inline"), json=body
        )
        return result

    async def user_chat_messages(self, user_id: int, chat_id: int) -> list[dict[str, Any]]:
        """A chat as the user sees it (Saved Messages: the user's own id)."""
        result: list[dict[str, Any]] = await self._request(
            "GET", self._bot_path(f"/users/{user_id}/chats/{chat_id}/messages")
        )
        return result

    async def write_in_user_chat(self, user_id: int, chat_id: int, text: str) -> dict[str, Any]:
        """The user writes in Saved Messages (their own id) or to another user: no bot hears."""
        result: dict[str, Any] = await self._request(
            "POST",
            self._bot_path(f"/users/{user_id}/chats/{chat_id}/messages"),
            json={"text": text},
        )
        return result

    async def set_inline(
        self,
        *,
        inline: bool | None = None,
        placeholder: str | None = None,
        feedback: bool | None = None,
    ) -> dict[str, Any]:
        """BotFather's /setinline (on/off, placeholder) and /setinlinefeedback."""
        body = {
            key: value
            for key, value in (
                ("inline", inline),
                ("placeholder", placeholder),
                ("feedback", feedback),
            )
            if value is not None
        }
        result: dict[str, Any] = await self._request("POST", self._bot_path("/inline"), json=body)
        return result
