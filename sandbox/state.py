"""Everything the sandbox remembers: bots, users, chats, messages, files, updates and calls.

State is plain data owned by one event loop; nothing here blocks. Observers (a web chat,
a test) subscribe to the Hub and receive every new message, edit, deletion and call.
What grows with use is bounded (Retention), so a week of `./run.sh dev` stays small.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from cachetools import Cache, FIFOCache, LRUCache

from sandbox.limits import UNAUTHORIZED, ApiError, bad_request
from sandbox.payment_state import BotPayments

TOKEN_RE = re.compile(r"^(\d{1,20}):([A-Za-z0-9_-]{1,100})$")

UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
# What Telegram sends when allowed_updates is empty: all but these three.
DEFAULT_EXCLUDED_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


@dataclass(frozen=True)
class Retention:
    """How much the sandbox keeps: past each bound the oldest goes first (files: the least
    recently used). Telegram forgets too: unfetched updates after 24 hours, and a file_id it
    no longer knows is answered "wrong file identifier", which bots must handle anyway.
    """

    calls: int = 10_000  # per bot: the call log (GET .../calls, the web chat's side panel)
    pending_updates: int = 10_000  # per bot: updates no getUpdates or webhook has taken
    messages: int = 10_000  # per chat: what edits, replies and the chat history can reach
    callback_queries: int = 10_000  # per bot: button presses and their answers
    inline_queries: int = 10_000  # per bot: inline queries, their answers and cached answers
    user_chats: int = 1_000  # chats no bot is in (Saved Messages, user to user), and their users
    file_bytes: int = 512 * 1024 * 1024  # all files together (at least Telegram's 50 MB)


# What one stored file costs beyond its bytes (its record, file_ids, path index): many tiny
# files are bounded too.
FILE_OVERHEAD_BYTES = 1024


@dataclass(frozen=True)
class Event:
    """One thing that happened, for subscribers. kind: message, edit, delete, call, update."""

    kind: str
    token: str
    chat_id: int | None
    data: dict[str, Any]


class Hub:
    """Fan-out of events to any number of subscribers, each with its own bounded queue.

    A subscriber that falls behind loses its oldest events rather than slowing the sandbox.
    """

    def __init__(self, queue_size: int = 1000) -> None:
        # Each subscriber's queue and the chat it follows (None: every event).
        self._queues: dict[asyncio.Queue[Event], int | None] = {}
        self._queue_size = queue_size
        self._listeners: list[Callable[[Event], None]] = []

    def publish(self, event: Event) -> None:
        for listener in self._listeners:
            listener(event)
        for queue, chat_id in self._queues.items():
            if chat_id is not None and event.chat_id != chat_id:
                continue
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """A synchronous hook called for every event (must not block)."""
        self._listeners.append(listener)

    @contextlib.asynccontextmanager
    async def subscribe(self, chat_id: int | None = None) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue of every event, or of one chat's only: a waiter for one chat is not woken
        by all the others' (with many buyers at once that fan-out was most of the work)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._queues[queue] = chat_id
        try:
            yield queue
        finally:
            self._queues.pop(queue, None)


@dataclass
class StoredFile:
    """A file Telegram holds. kind is TDLib's type name: Photo, Sticker, Document, Animation."""

    unique_id: str
    kind: str
    data: bytes
    file_path: str
    mime_type: str | None = None
    file_name: str | None = None
    width: int = 0
    height: int = 0
    duration: int = 0
    is_animated: bool = False
    is_video: bool = False
    # For a photo: the unique ids of all its sizes, smallest first (this file among them).
    photo_sizes: list[str] = field(default_factory=list)

    @property
    def size(self) -> int:
        return len(self.data)


class FileStore(LRUCache[str, StoredFile]):
    """Files by unique id under a byte budget, least recently used dropped first; the
    on_evict hook lets the owner forget the file_ids it issued for a dropped file."""

    def __init__(self, max_bytes: int, on_evict: Callable[[StoredFile], None]) -> None:
        super().__init__(maxsize=max_bytes, getsizeof=lambda f: f.size + FILE_OVERHEAD_BYTES)
        self._on_evict = on_evict
        self._by_path: dict[str, str] = {}

    def __setitem__(self, key: str, value: StoredFile) -> None:
        if self.getsizeof(value) > self.maxsize:
            raise bad_request("file is too big")
        super().__setitem__(key, value)
        self._by_path[value.file_path] = key

    def __delitem__(self, key: str) -> None:
        path = Cache.__getitem__(self, key).file_path  # a look that is not a use
        super().__delitem__(key)
        self._by_path.pop(path, None)

    def popitem(self) -> tuple[str, StoredFile]:
        key, stored = super().popitem()
        self._on_evict(stored)
        return key, stored

    def at_path(self, file_path: str) -> StoredFile | None:
        """The file getFile named with this path (a download is a use)."""
        key = self._by_path.get(file_path)
        return None if key is None else self.get(key)


@dataclass
class User:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_json(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat_json(self) -> dict[str, Any]:
        chat: dict[str, Any] = {"id": self.id, "type": "private", "first_name": self.first_name}
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass
class StoredMessage:
    message: dict[str, Any]  # the Bot API Message object as last answered
    from_bot: bool
    deleted: bool = False


@dataclass
class Chat:
    user: User
    messages: MutableMapping[int, StoredMessage] = field(
        default_factory=lambda: FIFOCache(Retention.messages)
    )
    next_message_id: int = 1
    chat_instance: str = field(default_factory=lambda: str(secrets.randbits(63)))
    last_action: str | None = None

    @property
    def id(self) -> int:
        return self.user.id

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class CallbackQuery:
    id: str
    user_id: int
    message_id: int
    data: str
    created: float
    answer: dict[str, Any] | None = None


@dataclass
class Webhook:
    url: str = ""
    secret_token: str | None = None
    max_connections: int = 40
    allowed_updates: list[str] | None = None
    last_error_date: int | None = None
    last_error_message: str | None = None
    delivered: int = 0


@dataclass
class CallRecord:
    """One Bot API call as the sandbox received and answered it."""

    id: int
    method: str
    params: dict[str, Any]
    uploads: list[dict[str, Any]]
    time: float
    media: list[dict[str, Any]] = field(default_factory=list)
    status: int = 0
    ok: bool = False
    description: str | None = None
    duration_ms: float = 0.0
    via: str = "http"

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "params": self.params,
            "uploads": self.uploads,
            "media": self.media,
            "status": self.status,
            "ok": self.ok,
            "description": self.description,
            "time": self.time,
            "duration_ms": round(self.duration_ms, 3),
            "via": self.via,
        }


# ---------------------------------------------------------------- inline mode (sandbox/inline.py)


@dataclass(frozen=True)
class InlineResult:
    """One result of an inline answer, checked: what the app shows and what picking it sends."""

    id: str
    type: str  # "article" or "photo"
    shown: dict[str, Any]  # the result as the bot gave it, for the user side to draw
    content: dict[str, Any]  # the Message fields it sends: text/entities or caption/...
    photo_file_id: str | None = None  # a cached photo (this bot's file_id)
    photo_url: str | None = None  # a photo Telegram fetches when the result is picked
    reply_markup: dict[str, Any] | None = None


@dataclass(frozen=True)
class InlineAnswer:
    """A successful answerInlineQuery: the results a user sees and may pick from."""

    results: tuple[InlineResult, ...]
    next_offset: str
    cache_time: int
    is_personal: bool
    button: dict[str, Any] | None
    # Telegram's apps lay media-only answers out as a grid (TDLib's is_gallery).
    gallery: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "results": [result.shown for result in self.results],
            "next_offset": self.next_offset,
            "cache_time": self.cache_time,
            "is_personal": self.is_personal,
            "button": self.button,
            "gallery": self.gallery,
        }


@dataclass
class InlineQuery:
    """A query a user typed as "@bot text" in a chat, and the bot's answer once it gives one."""

    id: str
    user_id: int
    query: str
    offset: str
    chat_type: str  # sender, private, group, supergroup or channel (Telegram's InlineQuery)
    # Where a picked result goes, as the user sees that chat (the bot's id: the chat with the
    # bot; the user's own id: Saved Messages); None for a chat the sandbox does not model.
    chat_id: int | None
    created: float  # on SandboxConfig.clock
    answer: InlineAnswer | None = None
    # Answered from Telegram's cache: the bot never saw this query.
    cached: bool = False
    answered: asyncio.Event = field(default_factory=asyncio.Event)


# Telegram caches an answer per query text, offset and chat type, for everyone or (is_personal)
# for the one user: (query, offset, chat_type, user_id or 0).
InlineCacheKey = tuple[str, str, str, int]


@dataclass
class InlineMode:
    """BotFather's inline settings of one bot, and its inline queries.

    /setinline: on by default in the sandbox, so `./run.sh dev` can be tried inline at once
    (a real bot starts with it off); its placeholder is what the input shows after "@bot ".
    /setinlinefeedback: chosen_inline_result updates, off by default as in BotFather."""

    enabled: bool = True
    placeholder: str = ""
    feedback: bool = False
    queries: MutableMapping[str, InlineQuery] = field(
        default_factory=lambda: FIFOCache(Retention.inline_queries)
    )
    # Answers Telegram gives again without asking the bot, until cache_time runs out.
    cache: MutableMapping[InlineCacheKey, tuple[float, InlineAnswer]] = field(
        default_factory=lambda: FIFOCache(Retention.inline_queries)
    )

    def settings(self) -> dict[str, Any]:
        return {"inline": self.enabled, "placeholder": self.placeholder, "feedback": self.feedback}


@dataclass
class UserChat:
    """A chat no bot is in, where a user can still send inline results: a user's Saved Messages
    (both ids the same) or two users' private chat. Messages keep the sender's view of the chat;
    the user side shows each reader theirs."""

    users: tuple[int, int]  # smaller id first
    messages: MutableMapping[int, StoredMessage] = field(
        default_factory=lambda: FIFOCache(Retention.messages)
    )
    next_message_id: int = 1

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


@dataclass
class Bot:
    token: str
    id: int
    first_name: str
    username: str
    chats: dict[int, Chat] = field(default_factory=dict)
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: list[str] = field(default_factory=list)
    # file_id -> unique id, and back: a file_id works only for the bot it was issued to.
    file_ids: dict[str, str] = field(default_factory=dict)
    file_id_of: dict[str, str] = field(default_factory=dict)
    commands: dict[tuple[str, str], list[dict[str, str]]] = field(default_factory=dict)
    callback_queries: MutableMapping[str, CallbackQuery] = field(
        default_factory=lambda: FIFOCache(Retention.callback_queries)
    )
    webhook: Webhook = field(default_factory=Webhook)
    calls: deque[CallRecord] = field(default_factory=lambda: deque(maxlen=Retention.calls))
    updates_changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    poll_generation: int = 0
    # getUpdates calls now waiting for an update (long polling), told through updates_changed.
    waiting_polls: int = 0
    webhook_task: asyncio.Task[None] | None = None
    media_group_counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # setMyName / setMyDescription / setMyShortDescription per language code:
    # ("name" | "description" | "short_description", language_code) -> text. The name for
    # all languages ("") is first_name, which getMe answers.
    profile: dict[tuple[str, str], str] = field(default_factory=dict)
    # Inline mode: BotFather's switches, the queries users typed and Telegram's answer cache.
    inline: InlineMode = field(default_factory=InlineMode)
    # Payments: invoices, open pre-checkout and shipping queries, charges, the Star ledger
    # and balance (sandbox/payment_state.py; the rules are in sandbox/payments.py).
    payments: BotPayments = field(default_factory=BotPayments)

    def profile_text(self, kind: str, language: str) -> str:
        """The bot's name or (short) description as a user whose app speaks ``language``
        sees it: the text for that language, else the one for all languages."""
        dedicated = self.profile.get((kind, language), "") if language else ""
        if dedicated:
            return dedicated
        if kind == "name":
            return self.first_name
        return self.profile.get((kind, ""), "")

    def me(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": self.inline.enabled,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def sender(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }


def update_type(update: dict[str, Any]) -> str:
    return next(key for key in update if key != "update_id")


class SandboxState:
    """All bots of one sandbox. tokens=None: any well-formed token is a bot, made on first use."""

    def __init__(
        self,
        tokens: list[str] | None = None,
        *,
        hub: Hub | None = None,
        retention: Retention | None = None,
    ) -> None:
        self.fixed_tokens = frozenset(tokens) if tokens is not None else None
        self.retention = retention or Retention()
        self.bots: dict[str, Bot] = {}
        self.files = FileStore(self.retention.file_bytes, self._forget_file)
        self.hub = hub or Hub()
        self._call_ids = itertools.count(1)
        self._file_counter = itertools.count(1)
        self.closing = False
        # Chats no bot is in, and the users known only from them or from inline mode.
        self.user_chats: MutableMapping[tuple[int, int], UserChat] = FIFOCache(
            self.retention.user_chats
        )
        self.people: MutableMapping[int, User] = FIFOCache(self.retention.user_chats)
        for token in tokens or ():
            if TOKEN_RE.match(token) is None:
                raise ValueError(f"not a bot token (<digits>:<text>): {token!r}")
            self.bot(token)

    # -- bots ------------------------------------------------------------------------------

    def bot(self, token: str) -> Bot:
        """The bot of this token, or ApiError 401 as Telegram answers an unknown token."""
        bot = self.bots.get(token)
        if bot is not None:
            return bot
        match = TOKEN_RE.match(token)
        if match is None or (self.fixed_tokens is not None and token not in self.fixed_tokens):
            raise ApiError(401, UNAUTHORIZED)
        bot_id = int(match.group(1))
        bot = Bot(
            token=token,
            id=bot_id,
            first_name="Sandbox Bot",
            username=f"sandbox_{bot_id}_bot",
            calls=deque(maxlen=self.retention.calls),
            callback_queries=FIFOCache(self.retention.callback_queries),
            inline=InlineMode(
                queries=FIFOCache(self.retention.inline_queries),
                cache=FIFOCache(self.retention.inline_queries),
            ),
        )
        self.bots[token] = bot
        return bot

    # -- users and chats ---------------------------------------------------------------------

    def user_chat(
        self,
        bot: Bot,
        user_id: int,
        *,
        first_name: str | None = None,
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = None,
    ) -> Chat:
        """The private chat of a user who writes to the bot, created on first contact."""
        chat = bot.chats.get(user_id)
        if chat is None:
            chat = Chat(
                user=User(id=user_id, first_name=first_name or f"User {user_id}"),
                messages=FIFOCache(self.retention.messages),
            )
            bot.chats[user_id] = chat
        user = chat.user
        if first_name:
            user.first_name = first_name
        if last_name is not None:
            user.last_name = last_name or None
        if username is not None:
            user.username = username or None
        if language_code is not None:
            user.language_code = language_code or None
        return chat

    # -- updates ---------------------------------------------------------------------------

    async def push_update(self, bot: Bot, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(update)
        if len(bot.updates) > self.retention.pending_updates:
            # Nobody is fetching: the oldest go, as Telegram drops them after 24 hours.
            del bot.updates[: len(bot.updates) - self.retention.pending_updates]
        async with bot.updates_changed:
            bot.updates_changed.notify_all()
        self.hub.publish(Event("update", bot.token, None, update))
        return update

    @staticmethod
    def allowed(update: dict[str, Any], allowed: list[str] | None) -> bool:
        kind = update_type(update)
        if allowed:
            return kind in allowed
        return kind not in DEFAULT_EXCLUDED_UPDATES

    # -- messages --------------------------------------------------------------------------

    def store_message(
        self, bot: Bot, chat: Chat, message: dict[str, Any], *, from_bot: bool
    ) -> None:
        chat.messages[message["message_id"]] = StoredMessage(message=message, from_bot=from_bot)
        self.hub.publish(
            Event("message", bot.token, chat.id, {"message": message, "from_bot": from_bot})
        )

    def message_shell(self, bot: Bot, chat: Chat, *, from_bot: bool) -> dict[str, Any]:
        sender = bot.sender() if from_bot else chat.user.to_json()
        return {
            "message_id": chat.new_message_id(),
            "from": sender,
            "chat": chat.user.chat_json(),
            "date": int(time.time()),
        }

    # -- files -----------------------------------------------------------------------------

    def add_file(self, bot: Bot, stored: StoredFile) -> str:
        """Keep a file and issue its file_id to this bot."""
        self.files[stored.unique_id] = stored
        return self.file_id(bot, stored)

    def file_id(self, bot: Bot, stored: StoredFile) -> str:
        file_id = bot.file_id_of.get(stored.unique_id)
        if file_id is None:
            # Shaped like Telegram's: a type prefix and opaque base64url, unique per bot.
            prefix = {"Photo": "AgAC", "Sticker": "CAAC", "Document": "BQAC", "Animation": "CgAC"}
            file_id = prefix.get(stored.kind, "BQAC") + secrets.token_urlsafe(48)
            bot.file_ids[file_id] = stored.unique_id
            bot.file_id_of[stored.unique_id] = file_id
        return file_id

    def lookup_file(self, bot: Bot, file_id: str) -> StoredFile | None:
        unique_id = bot.file_ids.get(file_id)
        return None if unique_id is None else self.files.get(unique_id)

    def file_at(self, bot: Bot, file_path: str) -> StoredFile | None:
        """The file at a getFile path, if it was issued to this bot."""
        stored = self.files.at_path(file_path)
        return stored if stored is not None and stored.unique_id in bot.file_id_of else None

    def _forget_file(self, stored: StoredFile) -> None:
        """A file left the store: its file_ids stop working, as Telegram's do."""
        for bot in self.bots.values():
            file_id = bot.file_id_of.pop(stored.unique_id, None)
            if file_id is not None:
                bot.file_ids.pop(file_id, None)

    def new_unique_id(self) -> str:
        return "AQAD" + secrets.token_urlsafe(9)

    def new_file_path(self, folder: str, extension: str) -> str:
        return f"{folder}/file_{next(self._file_counter)}{extension}"

    # -- calls -----------------------------------------------------------------------------

    def new_call(
        self,
        method: str,
        params: dict[str, Any],
        uploads: list[dict[str, Any]],
        via: str = "http",
    ) -> CallRecord:
        return CallRecord(
            id=next(self._call_ids),
            method=method,
            params=params,
            uploads=uploads,
            time=time.time(),
            via=via,
        )

    def record_call(self, bot: Bot, call: CallRecord) -> None:
        bot.calls.append(call)
        self.hub.publish(Event("call", bot.token, None, call.to_json()))

    # -- chats no bot is in (inline results land there) --------------------------------------

    def person(self, bot: Bot, user_id: int, **names: str | None) -> User:
        """A user as this bot's side of the sandbox knows them: from their chat with the bot,
        else from inline mode or chats between users; names given update it."""
        chat = bot.chats.get(user_id)
        if chat is not None:
            user = chat.user
        else:
            user = self.people.get(user_id) or User(id=user_id, first_name=f"User {user_id}")
            self.people[user_id] = user
        if names.get("first_name"):
            user.first_name = str(names["first_name"])
        for key in ("last_name", "username", "language_code"):
            value = names.get(key)
            if value is not None:
                setattr(user, key, value or None)
        return user

    def chat_between(self, a: int, b: int) -> UserChat:
        """The chat of users a and b (a == b: a's Saved Messages), made on first use."""
        users = (min(a, b), max(a, b))
        chat = self.user_chats.get(users)
        if chat is None:
            chat = UserChat(users=users, messages=FIFOCache(self.retention.messages))
            self.user_chats[users] = chat
        return chat

    def store_user_chat_message(self, token: str, chat: UserChat, message: dict[str, Any]) -> None:
        """Keep a message posted in a chat no bot is in; observers of ``token`` (the bot it
        came through, or the web chat's bot) hear of it as a "user_message" event."""
        chat.messages[message["message_id"]] = StoredMessage(message=message, from_bot=False)
        self.hub.publish(
            Event("user_message", token, None, {"users": list(chat.users), "message": message})
        )
