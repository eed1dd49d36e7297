"""Telegram's limits and error texts, and the HTML entity parser the Bot API applies.

The texts are the official Bot API server's (tdlib/telegram-bot-api and TDLib's
MessageEntity.cpp), so a bot that matches on them behaves here as it will in production.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_PHOTO_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_PHOTO_URL_BYTES = 5 * 1024 * 1024
MAX_FILE_URL_BYTES = 20 * 1024 * 1024
MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_PHOTO_DIMENSIONS_SUM = 10000
MAX_PHOTO_ASPECT_RATIO = 20
MAX_MEDIA_GROUP_ITEMS = 10
MAX_COMMANDS = 100

CHAT_NOT_FOUND = "Bad Request: chat not found"
WRONG_FILE_ID = "Bad Request: wrong file identifier/HTTP URL specified"
URL_FETCH_FAILED = "Bad Request: failed to get HTTP URL content"
URL_WRONG_TYPE = "Bad Request: wrong type of the web page content"
TEXT_EMPTY = "Bad Request: message text is empty"
TEXT_TOO_LONG = "Bad Request: message is too long"
CAPTION_TOO_LONG = "Bad Request: message caption is too long"
BUTTON_DATA_INVALID = "Bad Request: BUTTON_DATA_INVALID"
PHOTO_INVALID_DIMENSIONS = "Bad Request: PHOTO_INVALID_DIMENSIONS"
IMAGE_PROCESS_FAILED = "Bad Request: IMAGE_PROCESS_FAILED"
FILE_EMPTY = "Bad Request: file must be non-empty"
FILE_TOO_BIG = "Bad Request: file is too big"
MEDIA_GROUP_EMPTY = "Bad Request: there are no messages to send"
MEDIA_GROUP_TOO_BIG = "Bad Request: too many messages to send as an album"
DOCUMENT_MIXED = "Bad Request: document can't be mixed with other media types"
AUDIO_MIXED = "Bad Request: audio can't be mixed with other media types"
MESSAGE_TO_EDIT_NOT_FOUND = "Bad Request: message to edit not found"
MESSAGE_TO_DELETE_NOT_FOUND = "Bad Request: message to delete not found"
MESSAGE_TO_REPLY_NOT_FOUND = "Bad Request: message to be replied not found"
NO_TEXT_TO_EDIT = "Bad Request: there is no text in the message to edit"
NO_CAPTION_TO_EDIT = "Bad Request: there is no caption in the message to edit"
NO_MEDIA_TO_EDIT = "Bad Request: there is no media in the message to edit"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)
QUERY_INVALID = "Bad Request: query is too old and response timeout expired or query ID is invalid"
WRONG_ACTION = "Bad Request: wrong parameter action in request"
UNSUPPORTED_PARSE_MODE = "Bad Request: unsupported parse_mode"
BOT_COMMAND_INVALID = "Bad Request: BOT_COMMAND_INVALID"
BOT_COMMAND_DESCRIPTION_INVALID = "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID"
WEBHOOK_CONFLICT = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
POLLING_CONFLICT = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
SECRET_TOKEN_INVALID = "Bad Request: secret token contains unallowed characters"  # noqa: S105
UNAUTHORIZED = "Unauthorized"
NOT_FOUND = "Not Found"


def too_many_requests(retry_after: int) -> str:
    return f"Too Many Requests: retry after {retry_after}"


def photo_too_big(size: int) -> str:
    # TDLib's wording of its photo size check, as the Bot API forwards it.
    return (
        f"Bad Request: file of size {size} bytes is too big for a photo; "
        f"the maximum size is {MAX_PHOTO_UPLOAD_BYTES} bytes"
    )


def type_mismatch(actual: str, expected: str) -> str:
    return f"Bad Request: can't use file of type {actual} as {expected}"


class ApiError(Exception):
    """A Bot API error answer: {"ok": false, "error_code", "description", "parameters"}."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(description: str) -> ApiError:
    if not description.startswith("Bad Request: "):
        description = f"Bad Request: {description}"
    return ApiError(400, description)


def utf16_len(text: str) -> int:
    """Telegram measures texts and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


# ---------------------------------------------------------------- HTML parse_mode

# Tag -> entity type, as TDLib's parse_html maps them.
_TAG_TYPES = {
    "a": "text_link",
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
    "pre": "pre",
    "code": "code",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#x([0-9a-fA-F]{1,8})|#([0-9]{1,10})|([a-zA-Z]{1,10}));?")
_SPACES = " \t\r\n\f\v"
_SURROGATE_ERROR = (
    "Text contains invalid Unicode characters after decoding HTML entities, "
    "check for unmatched surrogate code units"
)


class ParseError(Exception):
    pass


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """Decode one HTML character reference at pos, or None to keep '&' literally."""
    match = _ENTITY_RE.match(text, pos)
    if match is None:
        return None
    hex_code, dec_code, name = match.groups()
    if name is not None:
        # The semicolon is optional in TDLib ("&lt🏟" is "<🏟").
        char = _NAMED_ENTITIES.get(name)
        if char is None:
            return None
        end = pos + 1 + len(name) + (1 if text.startswith(";", pos + 1 + len(name)) else 0)
        return char, end
    code = int(hex_code, 16) if hex_code is not None else int(dec_code)
    if 0xD800 <= code <= 0xDFFF:
        raise ParseError(_SURROGATE_ERROR)
    if code == 0 or code > 0x10FFFF:
        return None
    return chr(code), match.end()


def _decode_entities(text: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        if text[i] == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                out.append(decoded[0])
                i = decoded[1]
                continue
        out.append(text[i])
        i += 1
    return "".join(out)


@dataclass
class _OpenTag:
    name: str
    argument: str
    offset: int  # UTF-16 offset in the output
    expandable: bool = False


@dataclass
class _HtmlParser:
    text: str
    out: list[str] = field(default_factory=list)
    u16: int = 0
    stack: list[_OpenTag] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)

    def byte_offset(self, pos: int) -> int:
        return len(self.text[:pos].encode("utf-8"))

    def emit(self, chars: str) -> None:
        self.out.append(chars)
        self.u16 += utf16_len(chars)

    def skip_spaces(self, i: int) -> int:
        while i < len(self.text) and self.text[i] in _SPACES:
            i += 1
        return i

    def parse(self) -> tuple[str, list[dict[str, Any]]]:
        text, n, i = self.text, len(self.text), 0
        while i < n:
            char = text[i]
            if char == "&":
                decoded = _decode_entity(text, i)
                if decoded is not None:
                    self.emit(decoded[0])
                    i = decoded[1]
                    continue
            if char != "<":
                self.emit(char)
                i += 1
                continue
            i = self.end_tag(i) if i + 1 < n and text[i + 1] == "/" else self.start_tag(i)
        if self.stack:
            raise ParseError(
                f'Can\'t find end tag corresponding to start tag "{self.stack[-1].name}"'
            )
        self.entities.sort(key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.out), self.entities

    def start_tag(self, begin: int) -> int:  # noqa: PLR0912 - TDLib's parser, step by step
        text, n = self.text, len(self.text)
        at = self.byte_offset(begin)
        i = begin + 1
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        if i >= n:
            raise ParseError(f"Unclosed start tag at byte offset {at}")
        name = text[begin + 1 : i].lower()
        if name not in _TAG_TYPES:
            raise ParseError(f'Unsupported start tag "{name}" at byte offset {at}')
        tag = _OpenTag(name=name, argument="", offset=self.u16)
        while True:
            i = self.skip_spaces(i)
            if i >= n:
                raise ParseError(f'Unclosed start tag "{name}" at byte offset {at}')
            if text[i] == ">":
                break
            attr_begin = i
            while i < n and text[i] not in _SPACES and text[i] not in "=>":
                i += 1
            attr = text[attr_begin:i].lower()
            if not attr:
                raise ParseError(f'Empty attribute name in the tag "{name}" at byte offset {at}')
            i = self.skip_spaces(i)
            if name == "blockquote" and attr == "expandable" and (i >= n or text[i] != "="):
                tag.expandable = True
                continue
            if i >= n or text[i] != "=":
                raise ParseError(
                    "Expected equal sign in declaration of an attribute of the tag "
                    f'"{name}" at byte offset {at}'
                )
            i = self.skip_spaces(i + 1)
            if i >= n:
                raise ParseError(f'Unclosed start tag "{name}" at byte offset {at}')
            if text[i] in "\"'":
                close = text.find(text[i], i + 1)
                if close < 0:
                    raise ParseError(f"Unclosed start tag at byte offset {at}")
                value = _decode_entities(text[i + 1 : close])
                i = close + 1
            else:
                token_begin = i
                while i < n and (text[i].isascii() and (text[i].isalnum() or text[i] in ".-")):
                    i += 1
                value = text[token_begin:i]
                if i < n and text[i] not in _SPACES and text[i] != ">":
                    # TDLib names where the token began, not the offending character.
                    token_at = self.byte_offset(token_begin)
                    raise ParseError(f"Unexpected end of name token at byte offset {token_at}")
            self.apply_attribute(tag, attr, value)
        if name == "span" and tag.argument != "tg-spoiler":
            raise ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {at}')
        self.stack.append(tag)
        return i + 1

    @staticmethod
    def apply_attribute(tag: _OpenTag, attr: str, value: str) -> None:
        if (
            (tag.name == "a" and attr == "href")
            or (tag.name == "span" and attr == "class")
            or (tag.name == "tg-emoji" and attr == "emoji-id")
        ):
            tag.argument = value
        elif tag.name == "code" and attr == "class" and value.startswith("language-"):
            tag.argument = value[len("language-") :]

    def end_tag(self, begin: int) -> int:
        text, n = self.text, len(self.text)
        at = self.byte_offset(begin)
        if not self.stack:
            raise ParseError(f"Unexpected end tag at byte offset {at}")
        i = begin + 2
        while i < n and text[i] not in _SPACES and text[i] != ">":
            i += 1
        name = text[begin + 2 : i].lower()
        i = self.skip_spaces(i)
        if i >= n or text[i] != ">":
            raise ParseError(f"Unclosed end tag at byte offset {at}")
        tag = self.stack[-1]
        if name and name != tag.name:
            raise ParseError(
                f'Unmatched end tag at byte offset {at}, expected "</{tag.name}>", '
                f'found "</{name}>"'
            )
        self.stack.pop()
        self.close(tag)
        return i + 1

    def close(self, tag: _OpenTag) -> None:
        length = self.u16 - tag.offset
        if length <= 0:
            return
        entity: dict[str, Any] = {
            "type": _TAG_TYPES[tag.name],
            "offset": tag.offset,
            "length": length,
        }
        if tag.name == "a":
            url = tag.argument
            if not url:
                return  # TDLib only links a bare <a> whose text is a URL; a shop never does
            if "://" not in url and not url.startswith("tg:"):
                url = f"http://{url}"
            entity["url"] = url
        elif tag.name == "tg-emoji":
            entity["custom_emoji_id"] = tag.argument
        elif tag.name == "blockquote" and tag.expandable:
            entity["type"] = "expandable_blockquote"
        elif tag.name == "code" and tag.argument:
            # <pre><code class="language-x"> is one pre entity with a language.
            for outer in self.entities:
                if (
                    outer["type"] == "pre"
                    and outer["offset"] == tag.offset
                    and outer["length"] == length
                ):
                    outer["language"] = tag.argument
                    return
            parent = self.stack[-1] if self.stack else None
            if parent is not None and parent.name == "pre" and parent.offset == tag.offset:
                parent.argument = tag.argument
                return
        elif tag.name == "pre" and tag.argument:
            entity["language"] = tag.argument
        self.entities.append(entity)


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and entities of an HTML-formatted text, or ApiError as Telegram answers."""
    try:
        return _HtmlParser(text).parse()
    except ParseError as exc:
        raise bad_request(f"can't parse entities: {exc}") from exc


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Trim surrounding whitespace as Telegram does, keeping entities on their characters."""
    stripped = text.lstrip(_SPACES)
    shift = utf16_len(text[: len(text) - len(stripped)])
    stripped = stripped.rstrip(_SPACES)
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def format_text(
    text: str, parse_mode: str | None, entities: list[dict[str, Any]] | None
) -> tuple[str, list[dict[str, Any]]]:
    """Apply parse_mode (or explicit entities) and trim, as Telegram does before its limits."""
    mode = (parse_mode or "").lower()
    if entities:
        plain, found = text, [dict(e) for e in entities]
    elif mode == "html":
        plain, found = parse_html(text)
    elif mode in {"", "markdown", "markdownv2"}:
        # Markdown is not emulated: the shop formats with HTML. The text passes as it is.
        plain, found = text, []
    else:
        raise ApiError(400, UNSUPPORTED_PARSE_MODE)
    commands = find_bot_commands(plain, found)
    if commands:
        found = sorted([*found, *commands], key=lambda e: (e["offset"], -e["length"]))
    return _strip(plain, found)


# Entities a bot command may sit in; inside code, pre or a link Telegram finds none.
_COMMAND_HOSTS = {
    "bold",
    "italic",
    "underline",
    "strikethrough",
    "spoiler",
    "blockquote",
    "expandable_blockquote",
}


def _word(char: str) -> bool:
    return char.isalnum() or char == "_"


def _command_chars(text: str, i: int) -> int:
    while i < len(text) and text[i].isascii() and _word(text[i]):
        i += 1
    return i


def find_bot_commands(text: str, entities: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bot_command entities Telegram adds by itself to a message's text, as TDLib's
    match_bot_commands finds them: ``/name`` (1-64 of [A-Za-z0-9_]) with an optional
    ``@botname`` (3-32), neither preceded nor followed by a letter, digit, ``_``, ``/``,
    ``<`` or ``>``. This is what makes ``/help`` in a bot's plain text tappable."""
    found: list[dict[str, Any]] = []
    at = text.find("/")
    while at != -1:
        end = _command_chars(text, at + 1)
        ok = at == 0 or not (_word(text[at - 1]) or text[at - 1] in "/<>")
        ok = ok and 1 <= end - at - 1 <= 64
        if ok and end < len(text) and text[end] == "@":
            mention_end = _command_chars(text, end + 1)
            ok = 3 <= mention_end - end - 1 <= 32
            end = mention_end
        ok = ok and not (end < len(text) and (_word(text[end]) or text[end] in "/<>"))
        if ok:
            offset, length = utf16_len(text[:at]), utf16_len(text[at:end])
            if not any(
                e["offset"] < offset + length
                and offset < e["offset"] + e["length"]
                and e["type"] not in _COMMAND_HOSTS
                for e in entities
            ):
                found.append({"type": "bot_command", "offset": offset, "length": length})
        at = text.find("/", max(end, at + 1))
    return found


# ---------------------------------------------------------------- inline mode (sandbox/inline.py)
# answerInlineQuery's texts come from three layers, as the official server forwards them: the
# Bot API server's own parsing ("can't parse inline query result: ..."), TDLib's checks (first
# letter lowered), and Telegram's MTProto errors of messages.setInlineBotResults, passed
# through as they are (RESULT_ID_DUPLICATE; https://core.telegram.org/method/messages.setInlineBotResults).

MAX_INLINE_RESULTS = 50
MAX_INLINE_RESULT_ID_BYTES = 64
MAX_INLINE_NEXT_OFFSET_BYTES = 64
MAX_INLINE_QUERY_LENGTH = 256  # Telegram cuts a longer query to this many characters
MAX_INLINE_CACHE_TIME = 24 * 60 * 60  # the Bot API server clamps cache_time to 0..86400
DEFAULT_INLINE_CACHE_TIME = 300
MAX_START_PARAMETER_LENGTH = 64

INLINE_RESULTS_TOO_MANY = "Bad Request: too many inline query results specified"
INLINE_RESULT_UNPARSABLE = "Bad Request: can't parse inline query result: "
INLINE_RESULTS_UNPARSABLE = "Bad Request: can't parse JSON encoded inline query results: "
INLINE_RESULTS_NOT_ARRAY = "Bad Request: expected an Array of inline query results"
INLINE_BUTTON_UNPARSABLE = "Bad Request: can't parse inline query results button: "
INLINE_BUTTON_NOT_JSON = "Bad Request: can't parse inline query results button JSON object"
INLINE_TEXT_EMPTY = "Bad Request: text must be non-empty"  # TDLib's, for a blank message_text
START_PARAMETER_EMPTY = "Bad Request: can't use empty start_parameter"
START_PARAMETER_TOO_LONG = "Bad Request: too long start_parameter specified"
START_PARAMETER_INVALID = "Bad Request: unallowed characters in start_parameter are used"
RESULT_ID_INVALID = "Bad Request: RESULT_ID_INVALID"  # empty or over 64 bytes
RESULT_ID_DUPLICATE = "Bad Request: RESULT_ID_DUPLICATE"
NEXT_OFFSET_INVALID = "Bad Request: NEXT_OFFSET_INVALID"
ARTICLE_TITLE_EMPTY = "Bad Request: ARTICLE_TITLE_EMPTY"
PHOTO_THUMB_URL_EMPTY = "Bad Request: PHOTO_THUMB_URL_EMPTY"
WEBDOCUMENT_URL_INVALID = "Bad Request: WEBDOCUMENT_URL_INVALID"
SWITCH_PM_TEXT_EMPTY = "Bad Request: SWITCH_PM_TEXT_EMPTY"
INLINE_MESSAGE_TOO_LONG = "Bad Request: MESSAGE_TOO_LONG"
INLINE_CAPTION_TOO_LONG = "Bad Request: MEDIA_CAPTION_TOO_LONG"
# What a user's app hears: TDLib's texts (a bot without inline mode; BOT_RESPONSE_TIMEOUT).
INLINE_NOT_SUPPORTED = "Bot doesn't support inline queries"
BOT_NOT_RESPONDING = "The bot is not responding"
# ---------------------------------------------------------------- payments
# sendInvoice / createInvoiceLink and the payment flow (sandbox/payments.py). The texts are the
# Bot API server's (tdlib/telegram-bot-api Client.cpp: get_input_message_invoice, its labeled
# price and tip parsing), TDLib's (InputInvoice.cpp: totals and tips) and Telegram's server
# errors as bots meet them (STARS_INVOICE_INVALID, PAYMENT_PROVIDER_INVALID, ...). Where no
# text could be found the sandbox picks one in Telegram's style and says so beside it.

MAX_INVOICE_TITLE = 32  # characters
MAX_INVOICE_DESCRIPTION = 255  # characters
MAX_INVOICE_PAYLOAD_BYTES = 128
MAX_SUGGESTED_TIPS = 4
# TDLib's check_currency_amount: any amount or total beyond this is "too big".
MAX_CURRENCY_AMOUNT = 999_999_999_999
# One invoice in Stars. Telegram documents 10000 for subscriptions and paid media and keeps no
# config key for one-off invoices; one report measured more accepted there. The sandbox keeps
# the documented 10000, so a price it accepts is one Telegram accepts too; above it the answer
# is CURRENCY_TOTAL_AMOUNT_INVALID, as Telegram's for an amount out of a currency's range.
MAX_STARS_PER_INVOICE = 10_000
# answerPreCheckoutQuery must come within 10 s of the query (Bot API docs); the sandbox gives a
# shipping query the same time.
PRE_CHECKOUT_TIMEOUT = 10.0
SHIPPING_QUERY_TIMEOUT = 10.0

STARS_INVOICE_INVALID = "Bad Request: STARS_INVOICE_INVALID"
PAYMENT_PROVIDER_INVALID = "Bad Request: PAYMENT_PROVIDER_INVALID"
CURRENCY_INVALID = "Bad Request: CURRENCY_INVALID"
CURRENCY_TOTAL_AMOUNT_INVALID = "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID"
INVOICE_PAYLOAD_INVALID = "Bad Request: INVOICE_PAYLOAD_INVALID"
# Not found in the wild; the sandbox's names, after INVOICE_PAYLOAD_INVALID.
INVOICE_TITLE_INVALID = "Bad Request: INVOICE_TITLE_INVALID"
INVOICE_DESCRIPTION_INVALID = "Bad Request: INVOICE_DESCRIPTION_INVALID"
# "Reply markup for buy button empty": a keyboard whose first button is not a Pay button.
REPLY_MARKUP_BUY_EMPTY = "Bad Request: REPLY_MARKUP_BUY_EMPTY"
PRICES_UNPARSABLE = "Bad Request: can't parse prices JSON object"
PRICES_NOT_ARRAY = "Bad Request: expected an Array of labeled prices"
PRICES_EMPTY = "Bad Request: there must be at least one price"
TOTAL_NOT_POSITIVE = "Bad Request: total price must be positive"
TOTAL_TOO_BIG = "Bad Request: total price is too big"
AMOUNT_TOO_BIG = "Bad Request: too big amount of the currency specified"
MAX_TIP_UNPARSABLE = 'Bad Request: can\'t parse "max_tip_amount" as Number'
MAX_TIP_INVALID = "Bad Request: invalid max_tip_amount of the currency specified"
TIPS_UNPARSABLE = "Bad Request: can't parse suggested_tip_amounts JSON object"
TIPS_NOT_ARRAY = "Bad Request: expected an Array of suggested tip amounts"
TIP_NOT_NUMBER = "Bad Request: suggested tip amount must be of type Number or String"
TIP_UNPARSABLE = "Bad Request: can't parse suggested tip amount as Number"
TIP_NOT_POSITIVE = "Bad Request: suggested tip amount must be positive"
TIP_ABOVE_MAX = "Bad Request: suggested tip amount can't be bigger than max_tip_amount"
TOO_MANY_TIPS = "Bad Request: there can be at most 4 suggested tip amounts"
# The docs ask for "a strictly increased order"; the sandbox's name for the refusal.
TIPS_NOT_INCREASING = "Bad Request: SUGGESTED_TIP_AMOUNTS_INVALID"
SHIPPING_OPTIONS_UNPARSABLE = "Bad Request: can't parse shipping options JSON object"
SHIPPING_OPTIONS_NOT_ARRAY = "Bad Request: expected an Array of shipping options"
SHIPPING_OPTIONS_EMPTY = "Bad Request: there must be at least one shipping option"
CHARGE_ALREADY_REFUNDED = "Bad Request: CHARGE_ALREADY_REFUNDED"
# payments.refundStarsCharge lists no error for a charge it does not know (or one of another
# user); the sandbox's name for it.
CHARGE_NOT_FOUND = "Bad Request: CHARGE_NOT_FOUND"
USER_NOT_FOUND = "Bad Request: user not found"
# What the paying user is told when the bot does not answer in time (the MTProto error the
# app receives); the bot itself then gets QUERY_INVALID for a late answer.
BOT_PRECHECKOUT_TIMEOUT = "BOT_PRECHECKOUT_TIMEOUT"
# The sandbox's name for a shipping query left unanswered, after BOT_PRECHECKOUT_TIMEOUT.
BOT_SHIPPING_TIMEOUT = "BOT_SHIPPING_TIMEOUT"


def parameter_required(name: str) -> str:
    return f'Bad Request: parameter "{name}" is required'


def labeled_price_error(reason: str, *, shipping: bool = False) -> str:
    prefix = "can't parse shipping option prices: " if shipping else ""
    return f"Bad Request: {prefix}can't parse labeled price: {reason}"


@dataclass(frozen=True)
class Currency:
    """A currency Telegram takes: digits after the point, and the total it allows (minor units)."""

    exp: int
    min_amount: int
    max_amount: int


# Provider payments: a snapshot of https://core.telegram.org/bots/payments/currencies.json for
# the currencies shops use most: exp, and min/max totals of about US$1 and US$10000 at that
# day's rates (Telegram moves them daily; a test near a bound is a test of the snapshot).
# XTR (Stars) is whole stars, 1 to MAX_STARS_PER_INVOICE.
CURRENCIES: dict[str, Currency] = {
    "XTR": Currency(0, 1, MAX_STARS_PER_INVOICE),
    "USD": Currency(2, 100, 1_000_000),
    "EUR": Currency(2, 82, 827_805),
    "GBP": Currency(2, 72, 720_365),
    "CHF": Currency(2, 91, 915_009),
    "RUB": Currency(2, 7_487, 74_874_898),
    "UAH": Currency(2, 2_776, 27_768_887),
    "KZT": Currency(2, 42_983, 429_833_966),
    "UZS": Currency(2, 1_053_426, 10_534_265_572),
    "GEL": Currency(2, 345, 3_455_017),
    "AMD": Currency(2, 52_070, 520_700_260),
    "AZN": Currency(2, 170, 1_701_197),
    "TRY": Currency(2, 824, 8_242_514),
    "PLN": Currency(2, 378, 3_784_050),
    "CZK": Currency(2, 2_146, 21_466_990),
    "SEK": Currency(2, 838, 8_381_449),
    "NOK": Currency(2, 828, 8_285_803),
    "DKK": Currency(2, 615, 6_155_050),
    "ILS": Currency(2, 324, 3_240_540),
    "AED": Currency(2, 367, 3_673_202),
    "INR": Currency(2, 7_455, 74_550_499),
    "CNY": Currency(2, 648, 6_486_399),
    "HKD": Currency(2, 776, 7_762_350),
    "SGD": Currency(2, 132, 1_327_030),
    "IDR": Currency(2, 1_452_005, 14_520_050_000),
    "THB": Currency(2, 3_140, 31_401_018),
    "BRL": Currency(2, 545, 5_452_697),
    "MXN": Currency(2, 2_006, 20_064_380),
    "CAD": Currency(2, 124, 1_240_750),
    "AUD": Currency(2, 129, 1_291_770),
    "JPY": Currency(0, 108, 1_088_524),
    "KRW": Currency(0, 1_112, 11_122_950),
    "VND": Currency(0, 23_054, 230_540_917),
    "CLP": Currency(0, 701, 7_019_997),
    "ISK": Currency(0, 124, 1_240_104),
}
