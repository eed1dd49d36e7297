"""Selling, around the storage's decisions: the invoice sent, buyers and admins told, refunds
made, and the two loops that run beside the updates (expiry sweep, reconciliation).

Handlers turn an update into one call here and show its result; bot/storage applies
bot/shop's rules in transactions; this module talks to Telegram after each commit, and only
about a change its own call made (``Moved.moved``, the charge's decision), so a change seen
by two instances, or by an update and reconciliation, is announced once.

Messages to a buyer speak the language they chose (else the one they checked out in);
admins (ADMIN_IDS) each read theirs. A message that cannot be delivered (an admin who never
opened the bot) is logged and the rest go on: nothing here undoes a sale for a message.

Time comes from ``clock`` (a seam: tests move it past a reservation instead of waiting).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from enum import StrEnum

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.methods import SendMessage
from aiogram.types import (
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    StarTransaction,
    TransactionPartnerUser,
    User,
)
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.shop.cart import Cart, CartChange, CatalogView, PricedCart, price_cart
from bot.shop.catalog import Catalog
from bot.shop.cod import Answers, Quote, quote
from bot.shop.money import STARS
from bot.shop.orders import (
    PAID_STATUSES,
    Order,
    PaymentMethod,
    Status,
    TransitionError,
    order_number,
)
from bot.shop.payments import (
    REFUSAL_TEXTS,
    Charge,
    CheckoutRefusal,
    InvoiceWords,
    PaymentAction,
    Refusal,
    StarCharge,
    admin_refund,
    build_invoice,
    decide_pre_checkout,
    decide_shipping,
    invoice_photo,
    orders_to_load,
    parse_payload,
    reconcile,
)
from bot.shop.prices import amount_text
from bot.shop.shipping import OrderInfo, ShippingOption, ShippingZone
from bot.storage.carts import CartStore
from bot.storage.orders import (
    ChargeResult,
    CheckoutResult,
    CheckoutStatus,
    Moved,
    OrderRecord,
    OrderStore,
    OrderSummary,
    PendingRefund,
)
from bot.storage.preferences import Preferences
from bot.telegram import desk_ui, views
from bot.telegram.keyboards import expired_invoice_keyboard

log = logging.getLogger(__name__)

# Seconds between two expiry sweeps. A reservation is refused at pre-checkout from its
# deadline on; the sweep only gives its units back, within this of the deadline + grace.
SWEEP_INTERVAL_S = 30.0
# getStarTransactions' largest page.
_PAGE = 100
# Telegram's answer to a refund of a charge refunded already: the refund is done.
_ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"
# The inline buttons Telegram allows on one message; more paid orders are listed without.
_BUTTONS = 90


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Person:
    """Who paid or asks: what admins are told of them."""

    id: int
    name: str | None = None
    username: str | None = None

    @classmethod
    def of(cls, user: User) -> Person:
        return cls(user.id, user.full_name, user.username)

    def text(self) -> str:
        return views.person_text(self.id, self.name, self.username)


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """A payment provider's invoices: its token (BotFather's), and what the buyer is asked
    for beside the address (PAYMENT_NEED_NAME, _PHONE, _EMAIL)."""

    token: str
    need_name: bool = True
    need_phone_number: bool = True
    need_email: bool = False


class AdminAnswer(StrEnum):
    """What an admin's button did (the callback's answer)."""

    DONE = "done"
    ALREADY = "already"  # someone (or a refund update) did it first
    NOT_ALLOWED = "not_allowed"  # the order's status does not allow it
    NOT_FOUND = "not_found"
    FAILED = "failed"  # Telegram refused the refund


@dataclass(frozen=True, slots=True)
class Reconciled:
    """One pass: charges among the Star transactions it read (those since the previous
    pass), and what was done about those not known before."""

    charges: int
    paid: int
    refunded: int
    reported: int


class Sales:
    def __init__(
        self,
        bot: Bot,
        *,
        orders: OrderStore,
        carts: CartStore,
        i18n: I18n,
        preferences: Preferences,
        admin_ids: frozenset[int],
        reservation_minutes: int,
        reconcile_interval: float,
        fiat_methods: tuple[PaymentMethod, ...] = (),
        provider: ProviderSettings | None = None,
        zone: tzinfo,
        clock: Callable[[], datetime] = utc_now,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._bot = bot
        self.orders = orders
        self.carts = carts
        self._i18n = i18n
        self._preferences = preferences
        self._admins = tuple(sorted(admin_ids))
        self.reservation_minutes = reservation_minutes
        # The shop's clock (SHOP_TIMEZONE): the times orders' messages show, its days /stats'.
        self.zone = zone
        self._reconcile_interval = reconcile_interval
        # How fiat-priced goods can be paid (BotSettings.fiat_methods): the cart's buttons.
        self.fiat_methods = fiat_methods
        # Card payments through PAYMENT_PROVIDER_TOKEN (None: no provider).
        self.provider = provider
        self.now = clock
        self._sleep = sleep
        self._tasks: list[asyncio.Task[None]] = []
        # getStarTransactions lists oldest first and only ever appends: a pass starts where
        # the previous one ended (the first pass of a process reads them all), so a shop
        # with years of sales does not page through all of them every RECONCILE_INTERVAL.
        # Refunds seen are kept to tell a refund that went through from one to retry.
        self._stars_read = 0
        self._star_refunds: set[str] = set()
        self._reconciling = asyncio.Lock()
        # Told of each admin's notice about an order (order id, the message): the orders
        # desk keeps them to edit in place (bot/telegram/desk.py).
        self.on_notice: Callable[[int, Message], Awaitable[None]] | None = None

    # -- the cart ---------------------------------------------------------------------------

    async def cart(self, user_id: int, catalog: CatalogView) -> PricedCart:
        return price_cart(await self.carts.get(user_id), catalog)

    async def change_cart(self, user_id: int, operate: Callable[[Cart], CartChange]) -> CartChange:
        return await self.carts.change(user_id, operate)

    # -- checkout and payment ----------------------------------------------------------------

    async def checkout(
        self, user_id: int, chat_id: int, catalog: Catalog, locale: str
    ) -> CheckoutResult:
        """The cart's Stars part becomes an order and its invoice is sent to ``chat_id``."""
        result = await self.orders.checkout(
            user_id,
            catalog,
            now=self.now(),
            minutes=self.reservation_minutes,
            language=locale,
        )
        if result.order is not None:
            try:
                await self._send_invoice(chat_id, result.order, catalog, locale)
            except BaseException:
                # No invoice, no order: its units go back on sale, its lines to the cart.
                await self._call_off(result.order, "the invoice could not be sent")
                raise
        return result

    async def checkout_card(
        self, user_id: int, chat_id: int, catalog: Catalog, locale: str, currency: str
    ) -> CheckoutResult:
        """The cart's part in ``currency`` becomes an order paid through the provider, and its
        invoice (a price line per product, an address and delivery options for physical
        goods) is sent to ``chat_id``. NO_FIAT when there is no provider or no such part."""
        if self.provider is None:
            return CheckoutResult(CheckoutStatus.NO_FIAT)
        result = await self.orders.checkout(
            user_id,
            catalog,
            now=self.now(),
            minutes=self.reservation_minutes,
            language=locale,
            method=PaymentMethod.PROVIDER,
            currency=currency,
            zones=catalog.shipping,
        )
        if result.order is not None:
            try:
                await self._send_invoice(chat_id, result.order, catalog, locale)
            except TelegramBadRequest as exc:
                # Telegram's word on the provider (PAYMENT_PROVIDER_INVALID: a live token on
                # a test bot, a revoked one): no shopper can pay by card until staff act.
                error = exc.message
                await self._call_off(result.order, f"sendInvoice refused: {error}")
                log.warning("card invoice of order %s refused: %s", result.order.number, error)
                await self._tell_admins(
                    lambda _lang: (views.admin_invoice_refused_text(error), None)
                )
                return CheckoutResult(
                    CheckoutStatus.REFUSED,
                    result.priced,
                    refusal=CheckoutRefusal.PROVIDER_REFUSED,
                )
            except BaseException:
                await self._call_off(result.order, "the invoice could not be sent")
                raise
        return result

    async def _send_invoice(
        self, chat_id: int, order: Order, catalog: Catalog, locale: str
    ) -> None:
        words = InvoiceWords.translated(lambda text: self._i18n.gettext(text, locale=locale))
        first = catalog.get_product(order.lines[0].product_id)
        provider = self.provider if order.method is PaymentMethod.PROVIDER else None
        invoice = build_invoice(
            order,
            language=locale,
            words=words,
            photo_url=None if first is None else invoice_photo(first.images),
            provider_token=None if provider is None else provider.token,
            need_name=provider is not None and provider.need_name,
            need_phone_number=provider is not None and provider.need_phone_number,
            need_email=provider is not None and provider.need_email,
        )
        message = await self._bot.send_invoice(
            chat_id=chat_id,
            title=invoice.title,
            description=invoice.description,
            payload=invoice.payload,
            currency=invoice.currency,
            prices=[LabeledPrice(label=p.label, amount=p.amount) for p in invoice.prices],
            photo_url=invoice.photo_url,
            # Stars: no provider, no buyer's details (aiogram leaves None out of the call).
            provider_token=invoice.provider_token,
            need_name=invoice.need_name or None,
            need_phone_number=invoice.need_phone_number or None,
            need_email=invoice.need_email or None,
            need_shipping_address=invoice.need_shipping_address or None,
            is_flexible=invoice.is_flexible or None,
        )
        await self.orders.set_invoice(order.id, chat_id, message.message_id)

    async def _call_off(self, order: Order, reason: str) -> None:
        moved = await self.orders.change(order.id, Status.CANCELLED, now=self.now(), reason=reason)
        if moved.moved:
            await self.carts.put_back(
                order.user_id, [(line.product_id, line.quantity) for line in order.lines]
            )

    async def shipping_options(
        self, payload: str, country: str, zones: Sequence[ShippingZone], locale: str
    ) -> tuple[ShippingOption, ...] | Refusal:
        """A shipping_query: the delivery options to ``country`` for the invoice's order,
        from the catalog's ``zones``, or why none (one primary-key read)."""
        ref = parse_payload(payload)
        head = None if ref is None else await self.orders.head(ref.order_id)
        return decide_shipping(
            ref, head, country=country, zones=zones, language=locale, now=self.now()
        )

    async def pre_checkout(
        self,
        payload: str,
        currency: str,
        total: int,
        *,
        shipping_option_id: str | None = None,
        order_info: OrderInfo | None = None,
        zones: Sequence[ShippingZone] = (),
    ) -> Refusal | None:
        """None (answer ok) or why not: one primary-key read. A provider's physical order
        must be paid with the chosen delivery's price, recomputed from ``zones``."""
        ref = parse_payload(payload)
        head = None if ref is None else await self.orders.head(ref.order_id)
        return decide_pre_checkout(
            ref,
            head,
            currency=currency,
            total_amount=total,
            now=self.now(),
            shipping_option_id=shipping_option_id,
            order_info=order_info,
            zones=zones,
        )

    def refusal_text(self, refusal: Refusal, locale: str) -> str:
        return self._i18n.gettext(REFUSAL_TEXTS[refusal], locale=locale)

    async def on_payment(
        self,
        charge: Charge,
        payer: Person,
        raw: dict[str, object],
        *,
        chat_id: int,
        zones: Sequence[ShippingZone] = (),
    ) -> SendMessage | None:
        """A successful_payment in ``chat_id``: recorded and applied first, then people are
        told. The confirmation for that chat's buyer is returned, not sent: the handler
        returns it, so in webhook mode it rides back in the HTTP answer (no request of its
        own, none of the bot's ~30 messages/s spent). ``zones``: the catalog's, which price
        a provider payment's delivery."""
        result = await self.orders.apply_charge(charge, now=self.now(), raw=raw, zones=zones)
        return await self._after_charge(
            result, payer, recovered=False, chat_id=chat_id, zones=zones
        )

    async def _after_charge(
        self,
        result: ChargeResult,
        payer: Person,
        *,
        recovered: bool,
        chat_id: int | None = None,
        zones: Sequence[ShippingZone] = (),
    ) -> SendMessage | None:
        """``zones``: the catalog's, which name a paid order's delivery (none for Stars)."""
        action = result.decision.action
        if action in {PaymentAction.MARK_PAID, PaymentAction.REVIVE} and result.record:
            return await self._tell_paid(
                result.record, payer, recovered=recovered, chat_id=chat_id, zones=zones
            )
        if action is PaymentAction.REFUND:
            await self._refund_charge(result, payer)
        elif action is PaymentAction.REPORT:
            await self._tell_report(result, payer)
        return None

    async def _tell_paid(
        self,
        record: OrderRecord,
        payer: Person,
        *,
        recovered: bool,
        chat_id: int | None,
        zones: Sequence[ShippingZone],
    ) -> SendMessage | None:
        order = record.order
        await self._tell_admins(
            lambda lang: (
                views.admin_paid_text(order, payer.text(), lang, recovered=recovered, zones=zones),
                # The orders desk's buttons (its Refund asks first), edited in place by it.
                desk_ui.card_keyboard(order, view="n"),
            ),
            order_id=order.id,
        )
        language = await self._language(order.user_id, record.language)
        with self._speaking(language):
            text = views.paid_text(order, language, zones)
        if chat_id == order.user_id:
            return SendMessage(chat_id=chat_id, text=text)
        await self._send(order.user_id, text)
        return None

    async def _refund_charge(self, result: ChargeResult, payer: Person) -> None:
        charge, reason = result.charge, result.decision.reason
        number = None if result.record is None else result.record.number
        if charge.user_id is None:  # pragma: no cover - REFUND needs a payer (decide_payment)
            return
        error = await self._refund(charge.user_id, charge.charge_id)
        if error is not None:
            await self._tell_admins(
                lambda lang: (
                    views.admin_refund_failed_text(
                        number, self._amount(charge, lang), payer.text(), error
                    ),
                    None,
                )
            )
            return
        language = await self._language(charge.user_id, None)
        with self._speaking(language):
            why = None if reason is None else _(REFUSAL_TEXTS[reason])
            await self._send(
                charge.user_id,
                views.charge_refunded_text(number, self._amount(charge, language), why),
            )
        await self._tell_admins(
            lambda lang: (
                views.admin_charge_refunded_text(
                    number,
                    self._amount(charge, lang),
                    payer.text(),
                    _(REFUSAL_TEXTS[reason or Refusal.UNKNOWN_ORDER]),
                ),
                None,
            )
        )

    async def _refund(self, user_id: int, charge_id: str) -> str | None:
        """refundStarPayment, and the charge's row settled; the error's text if it failed
        (the row stays "refund_due" for the next reconciliation)."""
        try:
            await self._bot.refund_star_payment(
                user_id=user_id, telegram_payment_charge_id=charge_id
            )
        except TelegramBadRequest as exc:
            if _ALREADY_REFUNDED not in exc.message:
                log.warning("refund of charge %s failed: %s", charge_id, exc.message)
                return exc.message
        except TelegramAPIError as exc:
            log.warning("refund of charge %s failed: %s", charge_id, exc)
            return str(exc)
        await self.orders.refund_settled(charge_id)
        return None

    async def _tell_report(self, result: ChargeResult, payer: Person) -> None:
        charge, reason = result.charge, result.decision.reason or Refusal.UNKNOWN_ORDER
        number = None if result.record is None else result.record.number
        if charge.currency != STARS:
            # The Bot API cannot refund a card payment: admins refund it at the provider.
            await self._tell_admins(
                lambda lang: (
                    views.admin_provider_refund_text(
                        number,
                        self._amount(charge, lang),
                        payer.text(),
                        charge_id=charge.charge_id,
                        provider_charge_id=charge.provider_charge_id,
                        why=_(REFUSAL_TEXTS[reason]),
                    ),
                    None,
                )
            )
            if charge.user_id is not None:
                language = await self._language(charge.user_id, None)
                with self._speaking(language):
                    await self._send(
                        charge.user_id,
                        views.provider_refund_due_text(
                            number, self._amount(charge, language), _(REFUSAL_TEXTS[reason])
                        ),
                    )
            return
        await self._tell_admins(
            lambda lang: (
                views.admin_unmatched_text(
                    self._amount(charge, lang),
                    payer.text(),
                    charge.charge_id,
                    _(REFUSAL_TEXTS[reason]),
                ),
                None,
            )
        )

    @staticmethod
    def _amount(charge: Charge, language: str) -> str:
        return amount_text(charge.total_amount, charge.currency, language)

    async def on_refunded(self, charge_id: str, *, source: str = "telegram") -> Moved:
        """A refund happened (``source`` "telegram": a refunded_payment update;
        "reconciliation": found among the Star transactions): the order it paid becomes
        refunded and its units go back on sale, once."""
        moved = await self.orders.refunded(charge_id, now=self.now(), reason=f"refund: {source}")
        if moved.moved and moved.record is not None:
            await self._tell_refunded(moved.record, source)
        return moved

    async def _tell_refunded(self, record: OrderRecord, source: str) -> None:
        order = record.order
        language = await self._language(order.user_id, record.language)
        with self._speaking(language):
            await self._send(order.user_id, views.refunded_text(order, language))
        await self._tell_admins(
            lambda lang: (views.admin_refunded_text(order, lang, views.refund_why(source)), None)
        )

    # -- pay on delivery (bot/telegram/handlers/delivery_form.py) -----------------------------

    async def place_cod(
        self, buyer: Person, catalog: Catalog, locale: str, *, answers: Answers, seen: str
    ) -> tuple[CheckoutResult | None, Quote | None]:
        """Pay on delivery's Confirm: the cart's ``quoted.currency`` part becomes an order
        awaiting payment (stock reserved, no invoice, no expiry) with the buyer's details
        and shipping, and the admins are told; the buyer's answer is the handler's.

        Prices and stock are those of now: (None, the quote of now) when it is not the one
        the buyer confirmed (``seen``: the fingerprint of the summary they saw, whose currency
        it names; the quote None: nothing left to order). (result, quote) otherwise; an order
        whose lines are not the quote's (a unit sold meanwhile: checkout reads fresh stock)
        is called off at once and its quote of now returned instead."""
        currency = seen.split("|", 1)[0]
        now = quote(await self.cart(buyer.id, catalog), currency, catalog.shipping, answers, locale)
        if now is None or now.fingerprint != seen:
            return None, now
        result = await self.orders.checkout(
            buyer.id,
            catalog,
            now=self.now(),
            minutes=self.reservation_minutes,
            language=locale,
            method=PaymentMethod.COD,
            currency=currency,
            order_info=answers.order_info(),
            shipping=now.shipping_choice(),
        )
        order = result.order
        if order is None:
            return result, now
        ordered = [(li.product_id, li.quantity, li.unit_price) for li in order.lines]
        if ordered != [(li.product_id, li.quantity, li.unit_price) for li in now.lines]:
            await self._call_off(order, "pay on delivery: the stock changed at confirmation")
            fresh = result.priced or await self.cart(buyer.id, catalog)
            return None, quote(fresh, currency, catalog.shipping, answers, locale)
        zone = next((z for z in catalog.shipping if z.id == order.shipping_option_id), None)
        # With the desk's buttons (Confirm payment, Cancel order), kept so that the desk
        # edits this notice in place after every change.
        await self._tell_admins(
            lambda lang: (
                views.admin_cod_text(order, buyer.text(), zone, lang),
                desk_ui.card_keyboard(order, view="n"),
            ),
            order_id=order.id,
        )
        return result, now

    # -- admins' buttons and the buyers' requests ---------------------------------------------

    async def admin_refund(self, order_id: int, admin_id: int) -> tuple[AdminAnswer, str | None]:
        """The admin's Refund: Stars go back through refundStarPayment first, then the order
        is marked refunded (its units back on sale) and its buyer told. A provider's or a
        pay-on-delivery order (``order.method``) makes no Bot API call: the money goes back
        at the provider or by hand (payments.admin_refund)."""
        head = await self.orders.head(order_id)
        if head is None:
            return AdminAnswer.NOT_FOUND, None
        if head.status is Status.REFUNDED:
            return AdminAnswer.ALREADY, None
        try:
            plan = admin_refund(head)
        except TransitionError:
            return AdminAnswer.NOT_ALLOWED, None
        if plan.via_stars_api and plan.charge_id is not None:
            error = await self._refund(plan.user_id, plan.charge_id)
            if error is not None:
                return AdminAnswer.FAILED, error
        moved = await self.orders.change(
            order_id, Status.REFUNDED, now=self.now(), reason=f"refund by admin {admin_id}"
        )
        # Not moved: the refund's own refunded_payment update got there first (and told
        # the buyer); the refund is this admin's all the same.
        if moved.moved and moved.record is not None:
            await self._tell_refunded(moved.record, "admin")
        return AdminAnswer.DONE, None

    async def request_refund(self, order_id: int, user: Person) -> bool:
        """/paysupport's Request refund: the admins get the order with a Refund button."""
        record = await self.orders.get(order_id)
        if record is None or record.order.user_id != user.id:
            return False
        order = record.order
        if order.status not in PAID_STATUSES:
            return False
        await self._tell_admins(
            lambda lang: (
                views.admin_refund_request_text(order, user.text(), lang, self.zone),
                desk_ui.card_keyboard(order, view="n"),
            ),
            order_id=order.id,
        )
        return True

    async def paid_recently(self, user_id: int, days: int = 30) -> list[OrderSummary]:
        since = self.now() - timedelta(days=days)
        return await self.orders.paid_since(user_id, since, PAID_STATUSES, limit=_BUTTONS)

    # -- time: the expiry sweep -----------------------------------------------------------------

    async def expire_due(self) -> int:
        """Expire every order whose reservation is over: units back on sale, lines back in
        the cart, the invoice's keyboard says so, the buyer is told. Returns how many this
        call expired (another instance's sweep may take some first)."""
        now = self.now()
        expired = 0
        for order_id in await self.orders.due_for_expiry(now):
            moved = await self.orders.expire(order_id, now=now)
            if moved.moved and moved.record is not None:
                expired += 1
                await self._after_expiry(moved.record)
        return expired

    async def _after_expiry(self, record: OrderRecord) -> None:
        order = record.order
        await self.carts.put_back(
            order.user_id, [(line.product_id, line.quantity) for line in order.lines]
        )
        language = await self._language(order.user_id, record.language)
        with self._speaking(language):
            if record.invoice_chat_id is not None and record.invoice_message_id is not None:
                # Telegram refuses to edit an invoice's text; its keyboard can change.
                with contextlib.suppress(TelegramAPIError):
                    await self._bot.edit_message_reply_markup(
                        chat_id=record.invoice_chat_id,
                        message_id=record.invoice_message_id,
                        reply_markup=expired_invoice_keyboard(order.number),
                    )
            await self._send(order.user_id, views.expired_text(order))

    # -- reconciliation ---------------------------------------------------------------------------

    async def star_transactions(self, offset: int = 0) -> list[StarTransaction]:
        """The bot's Star transactions after the first ``offset``, oldest first, paged."""
        found: list[StarTransaction] = []
        while True:
            page = await self._bot.get_star_transactions(offset=offset + len(found), limit=_PAGE)
            found += page.transactions
            if len(page.transactions) < _PAGE:
                return found

    async def reconcile(self) -> Reconciled:
        """Match every charge Telegram took to the orders: a charge whose successful_payment
        never arrived pays its order now; one that matches no order is reported to the
        admins (once: its payments row remembers it); a refund whose refunded_payment was
        lost marks its order refunded; a refund that failed earlier is tried again.

        Stars only: getStarTransactions lists Telegram Stars, and the Bot API has no list of
        card payments (they are the provider's). A card payment whose successful_payment was
        lost is found in the provider's dashboard, not here: its order expires like an
        unpaid one, and staff settle it with the buyer.

        Reads only the transactions since the previous pass of this process (a pass that
        fails part-way is read again whole by the next)."""
        async with self._reconciling:
            transactions = await self.star_transactions(self._stars_read)
            result = await self._reconcile(transactions)
            self._stars_read += len(transactions)
            return result

    async def _reconcile(self, transactions: list[StarTransaction]) -> Reconciled:
        charges: list[StarCharge] = []
        payers: dict[str, Person] = {}
        raw: dict[str, dict[str, object]] = {}
        refunds: set[str] = set()
        for tx in transactions:
            source = tx.source
            if (
                isinstance(source, TransactionPartnerUser)
                and source.transaction_type == "invoice_payment"
            ):
                charges.append(
                    StarCharge(tx.id, tx.amount, tx.date, source.user.id, source.invoice_payload)
                )
                payers[tx.id] = Person.of(source.user)
                raw[tx.id] = tx.model_dump(mode="json", exclude_none=True)
            elif isinstance(tx.receiver, TransactionPartnerUser):
                refunds.add(tx.id)
        known = await self.orders.known_charges([c.id for c in charges])
        heads = await self.orders.heads(orders_to_load(c for c in charges if c.id not in known))
        plan = reconcile(charges, heads, known_charge_ids=known, refunded_ids=refunds)
        paid = refunded = reported = 0
        for star, decision in plan.decisions:
            if decision.action is PaymentAction.NOTHING:
                continue
            result = await self.orders.apply_charge(star.charge(), now=self.now(), raw=raw[star.id])
            await self._after_charge(result, payers[star.id], recovered=True)
            action = result.decision.action
            paid += action in {PaymentAction.MARK_PAID, PaymentAction.REVIVE}
            refunded += action is PaymentAction.REFUND
            reported += action is PaymentAction.REPORT
        for charge_id, head in (await self.orders.heads_paid_by(sorted(refunds))).items():
            if head.status in PAID_STATUSES:
                await self.on_refunded(charge_id, source="reconciliation")
        self._star_refunds |= refunds
        for pending in await self.orders.refunds_due():
            await self._retry_refund(pending, settled=pending.charge_id in self._star_refunds)
        return Reconciled(len(charges), paid, refunded, reported)

    async def _retry_refund(self, pending: PendingRefund, *, settled: bool) -> None:
        if settled:
            await self.orders.refund_settled(pending.charge_id)
            return
        if await self._refund(pending.payer_id, pending.charge_id) is not None:
            return
        number = None if pending.order_id is None else order_number(pending.order_id)
        language = await self._language(pending.payer_id, None)
        with self._speaking(language):
            amount = amount_text(pending.amount, pending.currency, language)
            await self._send(pending.payer_id, views.charge_refunded_text(number, amount, None))

    # -- the loops ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the expiry sweep and reconciliation (each runs once at once, then every
        interval) until :meth:`aclose`. A second call does nothing."""
        if self._tasks:
            return
        self._tasks = [
            asyncio.create_task(
                self._every(SWEEP_INTERVAL_S, self.expire_due, "expiry sweep"), name="sweep"
            ),
            asyncio.create_task(
                self._every(self._reconcile_interval, self.reconcile, "reconciliation"),
                name="reconcile",
            ),
        ]

    async def _every(
        self, interval: float, step: Callable[[], Awaitable[object]], what: str
    ) -> None:
        while True:
            try:
                await step()
            except Exception:
                # The next pass tries again; a Bot API or database outage must not end it.
                log.exception("%s failed; next in %gs", what, interval)
            await self._sleep(interval)

    async def aclose(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- helpers --------------------------------------------------------------------------------

    async def _language(self, user_id: int, fallback: str | None) -> str:
        chosen = await self._preferences.language(user_id)
        for language in (chosen, fallback):
            if language in self._i18n.available_locales:
                return language
        return self._i18n.default_locale

    @contextlib.asynccontextmanager
    async def speaking_to(self, user_id: int, fallback: str | None = None) -> AsyncIterator[str]:
        """``_()`` in ``user_id``'s language in the block, which gets it (the desk's texts)."""
        language = await self._language(user_id, fallback)
        with self._speaking(language):
            yield language

    @contextlib.contextmanager
    def _speaking(self, language: str) -> Iterator[None]:
        """``_()`` in ``language`` here, in a handler or in a background task alike."""
        with self._i18n.context(), self._i18n.use_locale(language):
            yield

    async def _send(
        self, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
    ) -> Message | None:
        try:
            return await self._bot.send_message(chat_id, text, reply_markup=markup)
        except TelegramAPIError as exc:
            log.warning("chat %s: could not tell about an order: %s", chat_id, exc)
            return None

    async def _tell_admins(
        self,
        build: Callable[[str], tuple[str, InlineKeyboardMarkup | None]],
        *,
        order_id: int | None = None,
    ) -> None:
        for admin in self._admins:
            language = await self._language(admin, None)
            with self._speaking(language):
                text, markup = build(language)
            sent = await self._send(admin, text, markup)
            if sent is not None and order_id is not None and self.on_notice is not None:
                await self.on_notice(order_id, sent)
