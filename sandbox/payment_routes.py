"""The user side of payments: a user opens an invoice (the payment form, its photo) and pays it.

The routes join the user side's table (``sandbox.user_api.routes``, which imports this module
at its end), so the sandbox and the web chat serve them with the same guards and errors.
See sandbox/README.md, "Payments".
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from sandbox.limits import MAX_PHOTO_URL_BYTES, ApiError
from sandbox.media import fetch_url, file_response, inspect_image
from sandbox.payment_state import Invoice
from sandbox.payments import (
    DEFAULT_SHIPPING_ADDRESS,
    PayError,
    PayRequest,
    invoice_of_link,
    invoice_of_message,
    pay,
    validate_info,
)
from sandbox.state import Bot, StoredFile
from sandbox.user_api import (
    UserError,
    _body,
    _bot,
    _chat_for,
    _json,
    _positive_int,
    _sb,
    routes,
)

_ADDRESS_FIELDS = ("country_code", "state", "city", "street_line1", "street_line2", "post_code")
_ORDER_FIELDS = ("name", "phone_number", "email")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_IMAGE_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "GIF": "image/gif", "WEBP": "image/webp"}


def _message_invoice(request: web.Request, bot: Bot) -> Invoice:
    user_id = _positive_int(request, "user_id")
    message_id = _positive_int(request, "message_id")
    invoice = invoice_of_message(bot, user_id, message_id)
    if invoice is None:
        raise UserError(404, f"no invoice message {message_id} in chat {user_id}")
    return invoice


def _link_invoice(bot: Bot, link: str) -> Invoice:
    invoice = invoice_of_link(bot, link)
    if invoice is None:
        raise UserError(404, f"no invoice link {link!r} of this bot")
    return invoice


def _form(bot: Bot, invoice: Invoice) -> dict[str, Any]:
    form = {**invoice.form_json(), "bot_name": bot.first_name}
    if invoice.need_shipping_address:
        # Where the sandbox ships unless the payment names an address.
        form["shipping_address"] = DEFAULT_SHIPPING_ADDRESS
    return form


@routes.get("/sandbox/bot{token}/users/{user_id}/invoices/{message_id}")
async def invoice_form(request: web.Request) -> web.Response:
    """What the app shows when this user taps Pay on an invoice message of their chat."""
    bot = _bot(request)
    return _json(_form(bot, _message_invoice(request, bot)))


@routes.get("/sandbox/bot{token}/invoice-links/{slug}")
async def invoice_link_form(request: web.Request) -> web.Response:
    bot = _bot(request)
    return _json(_form(bot, _link_invoice(bot, request.match_info["slug"])))


async def _photo(request: web.Request, invoice: Invoice) -> web.Response:
    """The invoice's photo_url, fetched by the sandbox as Telegram's servers fetch it for the
    apps (so a page under a strict CSP can show it from its own origin)."""
    if invoice.photo is None:
        if not invoice.photo_url:
            raise UserError(404, "this invoice has no photo_url")
        try:
            data, _type, _name = await fetch_url(
                _sb(request), invoice.photo_url, MAX_PHOTO_URL_BYTES
            )
        except ApiError as exc:
            raise UserError(502, f"the photo_url could not be fetched: {exc.description}") from None
        info = await inspect_image(data)
        mime = _IMAGE_TYPES.get(info.format or "") if info is not None else None
        if mime is None:
            raise UserError(502, "the photo_url is not a JPEG, PNG, GIF or WebP picture")
        invoice.photo = (data, mime)
    data, mime = invoice.photo
    picture = StoredFile(unique_id="", kind="Photo", data=data, file_path="", mime_type=mime)
    return file_response(picture)


@routes.get("/sandbox/bot{token}/users/{user_id}/invoices/{message_id}/photo")
async def invoice_photo(request: web.Request) -> web.Response:
    bot = _bot(request)
    return await _photo(request, _message_invoice(request, bot))


@routes.get("/sandbox/bot{token}/invoice-links/{slug}/photo")
async def invoice_link_photo(request: web.Request) -> web.Response:
    bot = _bot(request)
    return await _photo(request, _link_invoice(bot, request.match_info["slug"]))


def _strings(body: dict[str, Any], name: str, fields: tuple[str, ...]) -> dict[str, str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise UserError(400, f"{name} must be an object of strings")
    unknown = set(value) - set(fields)
    if unknown:
        raise UserError(400, f"unknown {name} fields: {sorted(unknown)}; known: {list(fields)}")
    return value


def _pay_request(body: dict[str, Any]) -> PayRequest:
    tip = body.get("tip_amount", 0)
    if isinstance(tip, bool) or not isinstance(tip, int):
        raise UserError(400, "tip_amount must be an integer in the currency's smallest units")
    address = _strings(body, "shipping_address", _ADDRESS_FIELDS)
    if address is not None and not _COUNTRY_RE.match(address.get("country_code", "")):
        raise UserError(400, "shipping_address.country_code must be two capital letters (ISO)")
    option = body.get("shipping_option_id")
    if option is not None and not isinstance(option, str):
        raise UserError(400, "shipping_option_id must be a string")
    info_id = body.get("requested_info_id")
    if info_id is not None and not isinstance(info_id, str):
        raise UserError(400, "requested_info_id must be the string the shipping route returned")
    return PayRequest(
        tip_amount=tip,
        shipping_address=address,
        shipping_option_id=option,
        order_info=_strings(body, "order_info", _ORDER_FIELDS) or {},
        requested_info_id=info_id,
    )


@routes.post("/sandbox/bot{token}/users/{user_id}/invoices/{message_id}/shipping")
async def user_validates(request: web.Request) -> web.Response:
    """The user filled in the sheet of an invoice message ({"shipping_address",
    "order_info"}): a flexible invoice asks the bot for its shipping options to that address.
    The answer: {"ok": true, "requested_info_id", "order_info", "shipping_options"} (each
    with its "amount") for the payment to name, or the bot's refusal or the timeout, worded as
    the pay route words them."""
    bot = _bot(request)
    invoice = _message_invoice(request, bot)
    body = await _body(request)
    pay_request = _pay_request(body)
    chat = _chat_for(request, bot, body)
    try:
        outcome = await validate_info(_sb(request), bot, chat, invoice, pay_request)
    except PayError as exc:
        raise UserError(exc.status, exc.message) from None
    return _json(outcome)


@routes.post("/sandbox/bot{token}/users/{user_id}/payments")
async def user_pays(request: web.Request) -> web.Response:
    """The user pays an invoice message of their chat ({"message_id"}) or an invoice link
    ({"invoice_link"}). The answer is the outcome: {"ok": true, "status": "paid", the charge
    ids, "message": the successful_payment message} or {"ok": false, "status": "refused" |
    "timeout", "stage", "error_message": what the app shows}."""
    bot = _bot(request)
    body = await _body(request)
    message_id, link = body.get("message_id"), body.get("invoice_link")
    if (message_id is None) == (link is None):
        raise UserError(400, "give either message_id (an invoice message) or invoice_link")
    pay_request = _pay_request(body)
    chat = _chat_for(request, bot, body)
    if link is not None:
        if not isinstance(link, str):
            raise UserError(400, "invoice_link must be the link createInvoiceLink returned")
        invoice = _link_invoice(bot, link)
    else:
        found = (
            invoice_of_message(bot, chat.id, message_id) if isinstance(message_id, int) else None
        )
        if found is None:
            raise UserError(404, f"no invoice message {message_id!r} in chat {chat.id}")
        invoice = found
    try:
        outcome = await pay(_sb(request), bot, chat, invoice, pay_request)
    except PayError as exc:
        raise UserError(exc.status, exc.message) from None
    return _json(outcome)
