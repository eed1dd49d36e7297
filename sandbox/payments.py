"""Telegram payments: invoices in Stars (XTR) or through a provider, shipping and pre-checkout
queries, Star transactions and refunds.

The Bot API side is here (sendInvoice, createInvoiceLink, answerShippingQuery,
answerPreCheckoutQuery, refundStarPayment, getStarTransactions, getMyStarBalance), checked in
the order Telegram checks: the Bot API server parses the parameters (missing ones, prices,
tips), then the chat is resolved, then TDLib checks totals and tips, then Telegram's server
its own rules (Stars: no provider token, one price, no tips; a provider: its token and the
currency's range). So is the flow a user's Pay sets off (:func:`pay`, called by the user side
in sandbox/payment_routes.py): shipping query, pre-checkout query with Telegram's 10 s, the
charge, and the successful_payment message; refunds send refunded_payment.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from sandbox.core import Sandbox
from sandbox.dispatch import Ctx, method
from sandbox.limits import (
    AMOUNT_TOO_BIG,
    BOT_PRECHECKOUT_TIMEOUT,
    BOT_SHIPPING_TIMEOUT,
    CHARGE_ALREADY_REFUNDED,
    CHARGE_NOT_FOUND,
    CURRENCIES,
    CURRENCY_INVALID,
    CURRENCY_TOTAL_AMOUNT_INVALID,
    INVOICE_DESCRIPTION_INVALID,
    INVOICE_PAYLOAD_INVALID,
    INVOICE_TITLE_INVALID,
    MAX_CURRENCY_AMOUNT,
    MAX_INVOICE_DESCRIPTION,
    MAX_INVOICE_PAYLOAD_BYTES,
    MAX_INVOICE_TITLE,
    MAX_SUGGESTED_TIPS,
    MAX_TIP_INVALID,
    MAX_TIP_UNPARSABLE,
    PAYMENT_PROVIDER_INVALID,
    PRE_CHECKOUT_TIMEOUT,
    PRICES_UNPARSABLE,
    QUERY_INVALID,
    REPLY_MARKUP_BUY_EMPTY,
    SHIPPING_OPTIONS_UNPARSABLE,
    SHIPPING_QUERY_TIMEOUT,
    STARS_INVOICE_INVALID,
    TIP_ABOVE_MAX,
    TIP_NOT_NUMBER,
    TIP_NOT_POSITIVE,
    TIP_UNPARSABLE,
    TIPS_NOT_ARRAY,
    TIPS_NOT_INCREASING,
    TIPS_UNPARSABLE,
    TOO_MANY_TIPS,
    TOTAL_NOT_POSITIVE,
    TOTAL_TOO_BIG,
    USER_NOT_FOUND,
    ApiError,
    bad_request,
    parameter_required,
)
from sandbox.methods import _new_message, _reply_markup, _reply_to, _store
from sandbox.payment_state import (
    BotPayments,
    Charge,
    Invoice,
    PendingQuery,
    RequestedInfo,
    StarTransaction,
)
from sandbox.state import Bot, Chat, Event

# A provider token as @BotFather issues it for a test payment provider ("<id>:TEST:<key>").
# The sandbox takes no other: nothing here may look as if it charged real money, so a LIVE
# token is refused as an invalid provider.
PROVIDER_TEST_TOKEN_RE = re.compile(r"^\d{1,20}:TEST:[A-Za-z0-9_=+/-]{1,256}$")
_INT64 = 2**63
_INTEGER_RE = re.compile(r"^-?\d{1,19}$")


class _ParseError(Exception):
    """A refusal in the Bot API server's or TDLib's own words (before "Bad Request: ")."""


def _bot_api_error(reason: str) -> ApiError:
    """Bad Request as the Bot API server words it: the first letter made lower case, unless
    the message is an error code (its second character a capital or an underscore)."""
    if not (len(reason) >= 2 and (reason[1] == "_" or reason[1].isupper())):
        reason = reason[:1].lower() + reason[1:]
    return ApiError(400, f"Bad Request: {reason}")


# ---------------------------------------------------------------- parameters, as parsed


def _int64(text: str) -> int | None:
    if not _INTEGER_RE.match(text):
        return None
    value = int(text)
    return value if -_INT64 <= value < _INT64 else None


def _json_long(obj: dict[str, Any], name: str) -> int:
    """TDLib's get_required_long_field: a JSON number or a numeric string, a whole int64."""
    if name not in obj:
        raise _ParseError(f'Can\'t find field "{name}"')
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _ParseError(f'Field "{name}" must be a Number')
    parsed = _int64(value if isinstance(value, str) else repr(value))
    if parsed is None:
        raise _ParseError(f'Field "{name}" must be a valid Number')
    return parsed


def _json_string(obj: dict[str, Any], name: str) -> str:
    if name not in obj:
        raise _ParseError(f'Can\'t find field "{name}"')
    value = obj[name]
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise _ParseError(f'Field "{name}" must be of type String')


def _price_parts(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _ParseError("Expected an Array of labeled prices")
    prices: list[dict[str, Any]] = []
    for item in value:
        try:
            prices.append(_labeled_price(item))
        except _ParseError as exc:
            raise _ParseError(f"Can't parse labeled price: {exc}") from None
    if not prices:
        raise _ParseError("There must be at least one price")
    return prices


def _labeled_price(item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _ParseError("LabeledPrice must be an Object")
    label = _json_string(item, "label")
    if not label:
        raise _ParseError("LabeledPrice label must be non-empty")
    return {"label": label, "amount": _json_long(item, "amount")}


def _shipping_options(value: Any) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        raise _ParseError("Expected an Array of shipping options")
    options: list[dict[str, Any]] = []
    for option in value:
        try:
            options.append(_shipping_option(option))
        except _ParseError as exc:
            raise _ParseError(f"Can't parse shipping option: {exc}") from None
    if not options:
        raise _ParseError("There must be at least one shipping option")
    ids = [option["id"] for option in options]
    if len(set(ids)) != len(ids):
        # The app lists options by id: two alike could not be told apart (the sandbox's
        # words; Telegram documents no error for it).
        raise _ParseError("SHIPPING_ID_DUPLICATE")
    return options


def _shipping_option(option: Any) -> dict[str, Any]:
    if not isinstance(option, dict):
        raise _ParseError("ShippingOption must be an Object")
    option_id = _json_string(option, "id")
    if not option_id:
        raise _ParseError("ShippingOption identifier must be non-empty")
    title = _json_string(option, "title")
    if not title:
        raise _ParseError("ShippingOption title must be non-empty")
    if "prices" not in option:
        raise _ParseError('Can\'t find field "prices"')
    if not isinstance(option["prices"], list):
        raise _ParseError('Field "prices" must be of type Array')
    try:
        prices = _price_parts(option["prices"])
    except _ParseError as exc:
        raise _ParseError(f"Can't parse shipping option prices: {exc}") from None
    return {"id": option_id, "title": title, "prices": prices}


def _required(ctx: Ctx, name: str) -> str:
    value = ctx.params.get_str(name)
    if not value:
        raise ApiError(400, parameter_required(name))
    return value


def _max_tip(ctx: Ctx) -> int:
    raw = ctx.params.raw.get("max_tip_amount")
    if raw is None or raw == "":
        return 0
    parsed = raw if isinstance(raw, int) and not isinstance(raw, bool) else None
    if parsed is None and isinstance(raw, str):
        parsed = _int64(raw.strip())
    if parsed is None:
        raise ApiError(400, MAX_TIP_UNPARSABLE)
    return parsed


def _suggested_tips(ctx: Ctx) -> list[int]:
    raw = ctx.params.get_json("suggested_tip_amounts", error=TIPS_UNPARSABLE)
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ApiError(400, TIPS_NOT_ARRAY)
    tips: list[int] = []
    for amount in raw:
        if isinstance(amount, bool) or not isinstance(amount, int | float | str):
            raise ApiError(400, TIP_NOT_NUMBER)
        parsed = _int64(amount if isinstance(amount, str) else repr(amount))
        if parsed is None:
            raise ApiError(400, TIP_UNPARSABLE)
        tips.append(parsed)
    return tips


def _parse_invoice(ctx: Ctx) -> Invoice:
    """The Bot API server's get_input_message_invoice: required fields, prices and tips parsed."""
    p = ctx.params
    title = _required(ctx, "title")
    description = _required(ctx, "description")
    payload = _required(ctx, "payload")
    currency = _required(ctx, "currency")
    raw_prices = p.get_json("prices", error=PRICES_UNPARSABLE)
    if raw_prices is None:
        raise ApiError(400, parameter_required("prices"))
    try:
        prices = _price_parts(raw_prices)
    except _ParseError as exc:
        raise _bot_api_error(str(exc)) from None
    stars = currency == "XTR"
    return Invoice(
        title=title,
        description=description,
        payload=payload,
        currency=currency,
        prices=prices,
        provider_token=p.get_str("provider_token") or "",
        provider_data=p.get_str("provider_data"),
        start_parameter=p.get_str("start_parameter") or "",
        photo_url=p.get_str("photo_url") or None,
        photo_size=p.get_int("photo_size"),
        photo_width=p.get_int("photo_width"),
        photo_height=p.get_int("photo_height"),
        max_tip_amount=_max_tip(ctx),
        suggested_tip_amounts=_suggested_tips(ctx),
        # "Ignored for payments in Telegram Stars" (Bot API docs): a Stars invoice never asks
        # for a name, an address or a shipping method.
        need_name=not stars and p.get_bool("need_name"),
        need_phone_number=not stars and p.get_bool("need_phone_number"),
        need_email=not stars and p.get_bool("need_email"),
        need_shipping_address=not stars
        and (p.get_bool("need_shipping_address") or p.get_bool("is_flexible")),
        send_phone_number_to_provider=not stars and p.get_bool("send_phone_number_to_provider"),
        send_email_to_provider=not stars and p.get_bool("send_email_to_provider"),
        is_flexible=not stars and p.get_bool("is_flexible"),
    )


def _tdlib_checks(invoice: Invoice) -> None:
    """TDLib's InputInvoice::process_input_message_invoice, in its order."""
    for price in invoice.prices:
        if abs(price["amount"]) > MAX_CURRENCY_AMOUNT:
            raise ApiError(400, AMOUNT_TOO_BIG)
    total = invoice.total_amount
    if total <= 0:
        raise ApiError(400, TOTAL_NOT_POSITIVE)
    if total > MAX_CURRENCY_AMOUNT:
        raise ApiError(400, TOTAL_TOO_BIG)
    if not 0 <= invoice.max_tip_amount <= MAX_CURRENCY_AMOUNT:
        raise ApiError(400, MAX_TIP_INVALID)
    for tip in invoice.suggested_tip_amounts:
        if tip <= 0:
            raise ApiError(400, TIP_NOT_POSITIVE)
        if tip > invoice.max_tip_amount:
            raise ApiError(400, TIP_ABOVE_MAX)
    if len(invoice.suggested_tip_amounts) > MAX_SUGGESTED_TIPS:
        raise ApiError(400, TOO_MANY_TIPS)


def _server_checks(invoice: Invoice) -> None:
    """Telegram's own rules for an invoice (the errors bots meet from messages.sendMedia)."""
    if len(invoice.payload.encode("utf-8")) > MAX_INVOICE_PAYLOAD_BYTES:
        raise ApiError(400, INVOICE_PAYLOAD_INVALID)
    if len(invoice.title) > MAX_INVOICE_TITLE:
        raise ApiError(400, INVOICE_TITLE_INVALID)
    if len(invoice.description) > MAX_INVOICE_DESCRIPTION:
        raise ApiError(400, INVOICE_DESCRIPTION_INVALID)
    if invoice.stars:
        # Stars: no provider, exactly one price, no tips. A provider token on a Stars invoice
        # gets the Stars error too (the sandbox's reading; Telegram documents only "pass an
        # empty string").
        tips = invoice.max_tip_amount or invoice.suggested_tip_amounts
        if invoice.provider_token or len(invoice.prices) != 1 or tips:
            raise ApiError(400, STARS_INVOICE_INVALID)
    else:
        # Without a valid provider even a misspelt "XTR" fails here, as Telegram answers it.
        if not PROVIDER_TEST_TOKEN_RE.match(invoice.provider_token):
            raise ApiError(400, PAYMENT_PROVIDER_INVALID)
        if invoice.currency not in CURRENCIES:
            raise ApiError(400, CURRENCY_INVALID)
    bounds = CURRENCIES[invoice.currency]
    if not bounds.min_amount <= invoice.total_amount <= bounds.max_amount:
        raise ApiError(400, CURRENCY_TOTAL_AMOUNT_INVALID)
    tips = invoice.suggested_tip_amounts
    if any(later <= earlier for earlier, later in itertools.pairwise(tips)):
        raise ApiError(400, TIPS_NOT_INCREASING)


def format_amount(currency: str, amount: int) -> str:
    """An amount as the Pay button shows it: "⭐ 25", "10.00 USD"."""
    if currency == "XTR":
        return f"⭐ {amount}"
    exp = CURRENCIES[currency].exp if currency in CURRENCIES else 2
    return f"{amount / 10**exp:.{exp}f} {currency}"


def _invoice_markup(invoice: Invoice, given: bool, markup: dict[str, Any] | None) -> dict[str, Any]:
    """The bot's keyboard, whose first button must be a Pay button; without a keyboard the
    message gets a Pay button of Telegram's (its text here is the sandbox's)."""
    if not given:
        pay = {"text": f"Pay {format_amount(invoice.currency, invoice.total_amount)}", "pay": True}
        return {"inline_keyboard": [[pay]]}
    rows = (markup or {}).get("inline_keyboard") or [[]]
    first = rows[0][0] if rows[0] else {}
    if markup is None or first.get("pay") is not True:
        raise ApiError(400, REPLY_MARKUP_BUY_EMPTY)
    return markup


# ---------------------------------------------------------------- invoices


@method("sendInvoice")
async def send_invoice(ctx: Ctx) -> dict[str, Any]:
    invoice = _parse_invoice(ctx)
    chat = ctx.chat()
    given = ctx.params.has("reply_markup")
    bot_markup = _reply_markup(ctx)
    reply = _reply_to(ctx, chat)
    _tdlib_checks(invoice)
    _server_checks(invoice)
    markup = _invoice_markup(invoice, given, bot_markup)
    message = _new_message(ctx, chat, {"invoice": invoice.message_json()}, markup, reply)
    invoice.chat_id, invoice.message_id = chat.id, message["message_id"]
    ctx.bot.payments.invoices[BotPayments.message_key(chat.id, message["message_id"])] = invoice
    return _store(ctx, chat, message)


@method("createInvoiceLink")
async def create_invoice_link(ctx: Ctx) -> str:
    invoice = _parse_invoice(ctx)
    if ctx.params.has("subscription_period"):
        raise bad_request("the sandbox does not emulate subscriptions (subscription_period)")
    _tdlib_checks(invoice)
    _server_checks(invoice)
    slug = secrets.token_urlsafe(12)
    invoice.link = f"https://t.me/${slug}"
    ctx.bot.payments.invoices[BotPayments.link_key(slug)] = invoice
    return invoice.link


def invoice_of_link(bot: Bot, link: str) -> Invoice | None:
    """The invoice of a link createInvoiceLink made (the link or its slug)."""
    slug = link.removeprefix("https://t.me/").removeprefix("$").removeprefix("invoice/")
    return bot.payments.invoices.get(BotPayments.link_key(slug))


def invoice_of_message(bot: Bot, chat_id: int, message_id: int) -> Invoice | None:
    chat = bot.chats.get(chat_id)
    stored = chat.messages.get(message_id) if chat is not None else None
    if stored is None or stored.deleted:
        return None
    return bot.payments.invoices.get(BotPayments.message_key(chat_id, message_id))


# ---------------------------------------------------------------- the bot's answers


def _open_query(bot: Bot, query_id: str, kind: str) -> PendingQuery:
    """A query the bot may still answer, or QUERY_INVALID as Telegram answers a late one."""
    query = bot.payments.queries.get(query_id)
    if query is None or query.kind != kind or query.closed or query.answer is not None:
        raise ApiError(400, QUERY_INVALID)
    return query


@method("answerShippingQuery")
async def answer_shipping_query(ctx: Ctx) -> bool:
    query_id = ctx.params.get_str("shipping_query_id") or ""
    ok = ctx.params.get_bool("ok")
    answer: dict[str, Any] = {"ok": ok}
    if ok:
        raw = ctx.params.get_json("shipping_options", error=SHIPPING_OPTIONS_UNPARSABLE)
        if raw is None:
            raise ApiError(400, parameter_required("shipping_options"))
        try:
            answer["shipping_options"] = _shipping_options(raw)
        except _ParseError as exc:
            raise _bot_api_error(str(exc)) from None
    else:
        answer["error_message"] = _required(ctx, "error_message")
    query = _open_query(ctx.bot, query_id, "shipping_query")
    query.answer = answer
    query.answered.set()
    return True


@method("answerPreCheckoutQuery")
async def answer_pre_checkout_query(ctx: Ctx) -> bool:
    query_id = ctx.params.get_str("pre_checkout_query_id") or ""
    ok = ctx.params.get_bool("ok")
    answer: dict[str, Any] = {"ok": ok}
    if not ok:
        answer["error_message"] = _required(ctx, "error_message")
    query = _open_query(ctx.bot, query_id, "pre_checkout_query")
    query.answer = answer
    query.answered.set()
    return True


# ---------------------------------------------------------------- Stars: ledger and refunds


@method("getStarTransactions")
async def get_star_transactions(ctx: Ctx) -> dict[str, Any]:
    # Oldest first ("in chronological order": TDLib asks the server ascending for bots);
    # out-of-range offset and limit are brought into range, as the Bot API server does.
    offset = max(ctx.params.get_int("offset", 0) or 0, 0)
    limit = min(max(ctx.params.get_int("limit", 100) or 0, 1), 100)
    page = ctx.bot.payments.transactions[offset : offset + limit]
    return {"transactions": [transaction.to_json() for transaction in page]}


@method("getMyStarBalance")
async def get_my_star_balance(ctx: Ctx) -> dict[str, Any]:
    return {"amount": ctx.bot.payments.balance}


@method("refundStarPayment")
async def refund_star_payment(ctx: Ctx) -> bool:
    user_id = ctx.params.get_int("user_id")
    if user_id is None or user_id <= 0:
        raise bad_request("invalid user_id specified")
    charge_id = _required(ctx, "telegram_payment_charge_id")
    chat = ctx.bot.chats.get(user_id)
    if chat is None:
        raise ApiError(400, USER_NOT_FOUND)
    payments = ctx.bot.payments
    charge = payments.charges.get(charge_id)
    if charge is None or charge.user["id"] != user_id or charge.currency != "XTR":
        raise ApiError(400, CHARGE_NOT_FOUND)
    if charge.refunded:
        raise ApiError(400, CHARGE_ALREADY_REFUNDED)
    charge.refunded = True
    now = int(time.time())
    payments.transactions.append(
        StarTransaction(charge.id, charge.total_amount, now, charge.user, charge.payload, False)
    )
    payments.balance -= charge.total_amount
    refunded: dict[str, Any] = {
        "currency": charge.currency,
        "total_amount": charge.total_amount,
        "invoice_payload": charge.payload,
        "telegram_payment_charge_id": charge.id,
    }
    if charge.provider_charge_id:
        refunded["provider_payment_charge_id"] = charge.provider_charge_id
    # A service message from the bot in the buyer's chat, which the Bot API delivers to the
    # bot although the bot "sent" it (need_skip_update_message keeps messagePaymentRefunded).
    state = ctx.sb.state
    message = state.message_shell(ctx.bot, chat, from_bot=True)
    message["refunded_payment"] = refunded
    state.store_message(ctx.bot, chat, message, from_bot=True)
    await state.push_update(ctx.bot, "message", message)
    return True


# ---------------------------------------------------------------- the user pays


class PayError(Exception):
    """A payment the user side cannot attempt as asked (the route answers it with a 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PayRequest:
    """What the user enters on the payment sheet; whatever is left out gets a sandbox default.
    ``requested_info_id``: the sheet was validated first (:func:`validate_info`): its order
    info and the bot's options are used, and the bot is not asked for options again."""

    tip_amount: int = 0
    shipping_address: dict[str, str] | None = None
    shipping_option_id: str | None = None
    order_info: dict[str, str] = field(default_factory=dict)
    requested_info_id: str | None = None


# The address a sandbox user ships to unless the request gives one.
DEFAULT_SHIPPING_ADDRESS = {
    "country_code": "GB",
    "state": "",
    "city": "London",
    "street_line1": "1 Sandbox Street",
    "street_line2": "",
    "post_code": "EC1A 1AA",
}


def _order_info(chat: Chat, invoice: Invoice, request: PayRequest) -> dict[str, Any] | None:
    """OrderInfo with what the invoice asked for (only that), as TDLib's JsonOrderInfo."""
    user = chat.user
    defaults = {
        "name": " ".join(part for part in (user.first_name, user.last_name) if part),
        "phone_number": f"1555{user.id % 10**7:07d}",
        "email": f"user{user.id}@example.com",
    }
    info: dict[str, Any] = {}
    for wanted, key in (
        (invoice.need_name, "name"),
        (invoice.need_phone_number, "phone_number"),
        (invoice.need_email, "email"),
    ):
        if wanted:
            info[key] = request.order_info.get(key) or defaults[key]
    if invoice.need_shipping_address:
        info["shipping_address"] = {
            **DEFAULT_SHIPPING_ADDRESS,
            **(request.shipping_address or {}),
        }
    return info or None


async def _answer_within(
    sb: Sandbox, bot: Bot, query: PendingQuery, seconds: float, *, expire_now: bool = False
) -> dict[str, Any] | None:
    """The bot's answer, or None when it did not come in time; then the query is closed and
    a late answer is QUERY_INVALID. The deadline runs on the sandbox's sleep (a test's seam)."""
    try:
        if not expire_now:
            deadline = asyncio.ensure_future(sb.config.sleep(seconds))
            answered = asyncio.ensure_future(query.answered.wait())
            try:
                await asyncio.wait({deadline, answered}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                deadline.cancel()
                answered.cancel()
        # Decided with no await since: an answer that came in counts, even at the deadline.
        return query.answer
    finally:
        query.closed = True
        bot.payments.queries.pop(query.id, None)


async def _ask(
    sb: Sandbox, bot: Bot, kind: str, user_id: int, payload: dict[str, Any]
) -> PendingQuery:
    """Send the bot a shipping or pre-checkout query it can answer until it is closed."""
    query = PendingQuery(id=str(secrets.randbits(62)), kind=kind, user_id=user_id)
    bot.payments.queries[query.id] = query
    await sb.state.push_update(bot, kind, {"id": query.id, **payload})
    return query


def _check_request(invoice: Invoice, request: PayRequest) -> None:
    if request.tip_amount and invoice.stars:
        raise PayError(400, "a Stars invoice takes no tip")
    if not 0 <= request.tip_amount <= invoice.max_tip_amount:
        raise PayError(
            400, f"tip_amount must be 0-{invoice.max_tip_amount} (the invoice's max_tip_amount)"
        )


async def pay(
    sb: Sandbox, bot: Bot, chat: Chat, invoice: Invoice, request: PayRequest
) -> dict[str, Any]:
    """The user pays ``invoice``: the shipping query (a flexible provider invoice), the
    pre-checkout query, and on the bot's ok the charge and its successful_payment. The
    outcome is what the user's app learns: paid (the charge ids), refused (the bot's
    error_message) or timeout."""
    _check_request(invoice, request)
    user = chat.user.to_json()
    total = invoice.total_amount + request.tip_amount
    order_info = _order_info(chat, invoice, request)
    shipping_option: dict[str, Any] | None = None
    if request.requested_info_id is not None:
        info = _requested(bot, chat, invoice, request.requested_info_id)
        order_info = info.order_info or None
        if invoice.is_flexible:
            shipping_option = _choose_option(info.shipping_options, request.shipping_option_id)
            total += sum(price["amount"] for price in shipping_option["prices"])
    elif invoice.is_flexible:
        shipped = await _shipping_answer(sb, bot, chat, invoice, order_info)
        if not shipped["ok"]:
            return shipped
        shipping_option = _choose_option(shipped["shipping_options"], request.shipping_option_id)
        total += sum(price["amount"] for price in shipping_option["prices"])
    query_payload: dict[str, Any] = {
        "from": user,
        "currency": invoice.currency,
        "total_amount": total,
        "invoice_payload": invoice.payload,
    }
    if shipping_option is not None:
        query_payload["shipping_option_id"] = shipping_option["id"]
    if order_info is not None:
        query_payload["order_info"] = order_info
    expire = sb.faults.take_payment("expire_pre_checkout", bot.token) is not None
    query = await _ask(sb, bot, "pre_checkout_query", chat.id, query_payload)
    answer = await _answer_within(sb, bot, query, PRE_CHECKOUT_TIMEOUT, expire_now=expire)
    if answer is None:
        return _failed("timeout", "pre_checkout", BOT_PRECHECKOUT_TIMEOUT)
    if not answer["ok"]:
        return _failed("refused", "pre_checkout", answer["error_message"])
    return await _charge(sb, bot, chat, invoice, query_payload)


async def _shipping_answer(
    sb: Sandbox, bot: Bot, chat: Chat, invoice: Invoice, order_info: dict[str, Any] | None
) -> dict[str, Any]:
    """Ask the bot for shipping options to the address in ``order_info`` (Telegram's 10 s);
    its answer ({"ok": true, "shipping_options"}) or the user's failure."""
    address = (order_info or {}).get("shipping_address", DEFAULT_SHIPPING_ADDRESS)
    query = await _ask(
        sb,
        bot,
        "shipping_query",
        chat.id,
        {
            "from": chat.user.to_json(),
            "invoice_payload": invoice.payload,
            "shipping_address": address,
        },
    )
    answer = await _answer_within(sb, bot, query, SHIPPING_QUERY_TIMEOUT)
    if answer is None:
        return _failed("timeout", "shipping", BOT_SHIPPING_TIMEOUT)
    if not answer["ok"]:
        return _failed("refused", "shipping", answer["error_message"])
    return answer


async def validate_info(
    sb: Sandbox, bot: Bot, chat: Chat, invoice: Invoice, request: PayRequest
) -> dict[str, Any]:
    """What the app does when the user has filled in the sheet's details (Telegram's
    payments.validateRequestedInfo): a flexible invoice asks the bot for shipping options to
    that address. The outcome: {"ok": true, "requested_info_id", "order_info",
    "shipping_options"} (each option with its ``amount``, the sum of its prices), or the
    refusal or timeout, as :func:`pay` words them."""
    order_info = _order_info(chat, invoice, request) or {}
    options: list[dict[str, Any]] = []
    if invoice.is_flexible:
        answer = await _shipping_answer(sb, bot, chat, invoice, order_info)
        if not answer["ok"]:
            return answer
        options = answer["shipping_options"]
    info = RequestedInfo(
        id=secrets.token_hex(8),
        invoice=invoice,
        user_id=chat.id,
        order_info=order_info,
        shipping_options=options,
    )
    bot.payments.requested[info.id] = info
    return {
        "ok": True,
        "requested_info_id": info.id,
        "order_info": order_info,
        "shipping_options": [
            {**option, "amount": sum(price["amount"] for price in option["prices"])}
            for option in options
        ],
    }


def _requested(bot: Bot, chat: Chat, invoice: Invoice, info_id: str) -> RequestedInfo:
    info = bot.payments.requested.get(info_id)
    if info is None or info.invoice is not invoice or info.user_id != chat.id:
        raise PayError(404, f"requested_info_id {info_id!r} is not one of this invoice's")
    return info


def _failed(status: str, stage: str, error_message: str) -> dict[str, Any]:
    return {"ok": False, "status": status, "stage": stage, "error_message": error_message}


def _choose_option(options: list[dict[str, Any]], wanted: str | None) -> dict[str, Any]:
    if wanted is None:
        return options[0]
    for option in options:
        if option["id"] == wanted:
            return option
    offered = ", ".join(option["id"] for option in options)
    raise PayError(409, f"shipping_option_id {wanted!r} is not among the bot's: {offered}")


def _new_charge_ids(invoice: Invoice) -> tuple[str, str]:
    if invoice.stars:
        # Telegram's Stars charge ids start with "stx" and run past 128 characters: a column
        # sized for short ids fails here as it would in production.
        return "stx" + secrets.token_urlsafe(96), ""
    return "tpc_" + secrets.token_hex(16), "ch_sandbox_" + secrets.token_hex(12)


async def _charge(
    sb: Sandbox, bot: Bot, chat: Chat, invoice: Invoice, query_payload: dict[str, Any]
) -> dict[str, Any]:
    payments = bot.payments
    charge_id, provider_charge_id = _new_charge_ids(invoice)
    total = query_payload["total_amount"]
    now = int(time.time())
    payments.charges[charge_id] = Charge(
        id=charge_id,
        provider_charge_id=provider_charge_id,
        user=query_payload["from"],
        currency=invoice.currency,
        total_amount=total,
        payload=invoice.payload,
        date=now,
    )
    if invoice.stars:
        payments.transactions.append(
            StarTransaction(charge_id, total, now, query_payload["from"], invoice.payload, True)
        )
        payments.balance += total
    successful: dict[str, Any] = {
        "currency": invoice.currency,
        "total_amount": total,
        "invoice_payload": invoice.payload,
    }
    for key in ("shipping_option_id", "order_info"):
        if key in query_payload:
            successful[key] = query_payload[key]
    successful["telegram_payment_charge_id"] = charge_id
    successful["provider_payment_charge_id"] = provider_charge_id
    # The service message is the user's, in the bot's chat; the bot gets it as a message.
    message = sb.state.message_shell(bot, chat, from_bot=False)
    message["successful_payment"] = successful
    sb.state.store_message(bot, chat, message, from_bot=False)
    if invoice.receipt_message_id is None:
        invoice.receipt_message_id = message["message_id"]
    await _deliver(sb, bot, chat, message)
    return {
        "ok": True,
        "status": "paid",
        "currency": invoice.currency,
        "total_amount": total,
        "telegram_payment_charge_id": charge_id,
        "provider_payment_charge_id": provider_charge_id,
        "message": message,
    }


async def _deliver(sb: Sandbox, bot: Bot, chat: Chat, message: dict[str, Any]) -> None:
    """successful_payment to the bot, unless a fault loses it (or sends it twice)."""
    for kind in ("lose_successful_payment", "repeat_successful_payment"):
        fault = sb.faults.take_payment(kind, bot.token)
        if fault is None:
            continue
        sb.state.hub.publish(
            Event("fault", bot.token, chat.id, {**fault.to_json(), "method": f"payment:{kind}"})
        )
        if kind == "lose_successful_payment":
            return
        await sb.state.push_update(bot, "message", message)
        break
    await sb.state.push_update(bot, "message", message)
