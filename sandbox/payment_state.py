"""What a bot's payments leave in the sandbox: invoices, queries waiting for the bot's answer,
charges, and the Telegram Star ledger and balance.

Plain data owned by the event loop, as sandbox/state.py; the rules (Telegram's checks, the
pay flow, refunds) are in sandbox/payments.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from typing import Any

from cachetools import FIFOCache

# Invoices a bot has sent or linked that can still be paid, per bot; the oldest are forgotten
# first (a chat keeps its last 10000 messages too, see Retention).
MAX_INVOICES = 10_000


@dataclass
class Invoice:
    """An invoice as the bot made it (sendInvoice or createInvoiceLink)."""

    title: str
    description: str
    payload: str
    currency: str
    prices: list[dict[str, Any]]  # LabeledPrice objects: {"label", "amount"}
    provider_token: str = ""
    provider_data: str | None = None
    start_parameter: str = ""
    photo_url: str | None = None
    photo_size: int | None = None
    photo_width: int | None = None
    photo_height: int | None = None
    max_tip_amount: int = 0
    suggested_tip_amounts: list[int] = field(default_factory=list)
    need_name: bool = False
    need_phone_number: bool = False
    need_email: bool = False
    need_shipping_address: bool = False
    send_phone_number_to_provider: bool = False
    send_email_to_provider: bool = False
    is_flexible: bool = False
    # Where it can be paid: an invoice message, or a link (https://t.me/$<slug>).
    chat_id: int | None = None
    message_id: int | None = None
    link: str | None = None
    # The first successful payment's service message: Telegram's app then shows "Receipt" on
    # this message's Pay button (copies and links can still be paid).
    receipt_message_id: int | None = None
    # The photo_url's bytes and type once fetched for a user (as Telegram's servers fetch it).
    photo: tuple[bytes, str] | None = None

    @property
    def stars(self) -> bool:
        return self.currency == "XTR"

    @property
    def total_amount(self) -> int:
        return sum(int(price["amount"]) for price in self.prices)

    def message_json(self) -> dict[str, Any]:
        """The Bot API's Invoice object (photo, need_shipping_address and the receipt are not
        part of it)."""
        return {
            "title": self.title,
            "description": self.description,
            "start_parameter": self.start_parameter,
            "currency": self.currency,
            "total_amount": self.total_amount,
        }

    def form_json(self) -> dict[str, Any]:
        """What a Telegram app shows when the user taps Pay (payments.getPaymentForm)."""
        return {
            **self.message_json(),
            "prices": self.prices,
            "photo_url": self.photo_url,
            "max_tip_amount": self.max_tip_amount,
            "suggested_tip_amounts": self.suggested_tip_amounts,
            "need_name": self.need_name,
            "need_phone_number": self.need_phone_number,
            "need_email": self.need_email,
            "need_shipping_address": self.need_shipping_address or self.is_flexible,
            "is_flexible": self.is_flexible,
            "chat_id": self.chat_id,
            "message_id": self.message_id,
            "link": self.link,
            "receipt_message_id": self.receipt_message_id,
        }


@dataclass
class PendingQuery:
    """A shipping or pre-checkout query sent to the bot, answerable until it is closed (answered
    and acted on, past its deadline, or given up by the user)."""

    id: str
    kind: str  # "shipping_query" or "pre_checkout_query"
    user_id: int
    answer: dict[str, Any] | None = None  # {"ok": ..., "error_message" | "shipping_options"}
    answered: asyncio.Event = field(default_factory=asyncio.Event)
    closed: bool = False


@dataclass
class Charge:
    """One successful payment, by its telegram_payment_charge_id."""

    id: str
    provider_charge_id: str
    user: dict[str, Any]  # the payer's User object
    currency: str
    total_amount: int
    payload: str
    date: int
    refunded: bool = False


@dataclass(frozen=True)
class StarTransaction:
    """A line of the bot's Star ledger: a payment in (source) or a refund out (receiver)."""

    id: str  # the charge's id, for the refund too (as Telegram's StarTransaction.id)
    amount: int
    date: int
    user: dict[str, Any]
    payload: str
    incoming: bool

    def to_json(self) -> dict[str, Any]:
        partner = {
            "type": "user",
            "transaction_type": "invoice_payment",
            "user": self.user,
            "invoice_payload": self.payload,
        }
        return {
            "id": self.id,
            "amount": self.amount,
            "date": self.date,
            "source" if self.incoming else "receiver": partner,
        }


@dataclass(frozen=True)
class RequestedInfo:
    """What the user entered on a flexible invoice's sheet and the options the bot answered
    for it (Telegram's payments.validateRequestedInfo): a payment naming its id pays with one
    of these options, without asking the bot again."""

    id: str
    invoice: Invoice
    user_id: int
    order_info: dict[str, Any]
    shipping_options: list[dict[str, Any]]


@dataclass
class BotPayments:
    # "msg:<chat_id>:<message_id>" or "link:<slug>" -> the invoice.
    invoices: MutableMapping[str, Invoice] = field(default_factory=lambda: FIFOCache(MAX_INVOICES))
    # Open queries only: a closed one is removed, and answering it is "query is too old".
    queries: dict[str, PendingQuery] = field(default_factory=dict)
    # The ledger is kept whole, as Telegram keeps it: reconciliation pages through all of it.
    # A line is a few hundred bytes; a million payments of `./run.sh dev` would be needed to
    # notice it.
    charges: dict[str, Charge] = field(default_factory=dict)
    # Validated sheets, newest kept (a user who never pays leaves one behind).
    requested: MutableMapping[str, RequestedInfo] = field(
        default_factory=lambda: FIFOCache(MAX_INVOICES)
    )
    transactions: list[StarTransaction] = field(default_factory=list)
    balance: int = 0

    @staticmethod
    def message_key(chat_id: int, message_id: int) -> str:
        return f"msg:{chat_id}:{message_id}"

    @staticmethod
    def link_key(slug: str) -> str:
        return f"link:{slug}"
