"""Pure decisions of card payments with delivery: the checkout's limits with the cheapest
zone, the shipping query's options, the pre-checkout and the charge priced with the chosen
option, and refunds that make no Bot API call for card and pay-on-delivery orders."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from bot.shop.cart import Cart, CartPart, price_cart
from bot.shop.money import amount_limits
from bot.shop.orders import OrderHead, PaymentMethod, Status, StockEffect
from bot.shop.payments import (
    Charge,
    CheckoutRefusal,
    PaymentAction,
    Refusal,
    admin_refund,
    checkout_refusal,
    decide_payment,
    decide_pre_checkout,
    decide_shipping,
    make_payload,
    parse_payload,
)
from bot.shop.shipping import Address, OrderInfo, ShippingZone
from tests.unit.test_cart import Catalog, Product
from tests.unit.test_payments import NONCE, NOW

EU = ShippingZone(
    "eu", {"en": "EU parcel", "ru": "Посылка"}, frozenset({"DE", "FR"}), 490, "EUR", 5000
)
EXPRESS = ShippingZone("express", {"en": "Express"}, frozenset({"DE"}), 1490, "EUR")
USD = ShippingZone("us", {"en": "US mail"}, frozenset({"US", "DE"}), 700, "USD")
ZONES = (EU, EXPRESS, USD)
BERLIN = OrderInfo(name="Ada", shipping_address=Address("DE", city="Berlin"))
_EUR = amount_limits("EUR")
assert _EUR is not None
LIMITS = _EUR


def eur_part(price: int, quantity: int = 1, kind: str = "physical") -> CartPart:
    catalog = Catalog(Product("mug", price=price, kind=kind))
    part = price_cart(Cart.from_rows([("mug", quantity)]), catalog).part("EUR")
    assert part is not None
    return part


def head(
    total: int = 1980,
    *,
    status: Status = Status.AWAITING_PAYMENT,
    method: PaymentMethod = PaymentMethod.PROVIDER,
    kind: str = "physical",
    currency: str = "EUR",
    paid_charge_id: str | None = None,
) -> OrderHead:
    return OrderHead(
        id=7,
        user_id=42,
        status=status,
        currency=currency,
        total=total,
        kind=kind,
        expires_at=NOW + timedelta(minutes=15),
        nonce=NONCE,
        paid_charge_id=paid_charge_id,
        method=method,
    )


REF = parse_payload(make_payload(7, NONCE))


# ---- checkout -------------------------------------------------------------------------------


def test_goods_plus_the_cheapest_delivery_must_reach_the_currencys_minimum():
    # 0.50 alone is below €0.84; with the EU parcel's 4.90 it is fine.
    assert checkout_refusal(eur_part(50), shipping=ZONES) is None
    assert checkout_refusal(eur_part(50, kind="digital"), shipping=ZONES) is (
        CheckoutRefusal.TOO_SMALL
    )


def test_goods_plus_the_cheapest_delivery_must_stay_under_the_currencys_maximum():
    top = LIMITS.max_amount - EU.price
    assert checkout_refusal(eur_part(top - 1), shipping=(EU,)) is None
    # Free delivery from €50 on: the goods alone count.
    assert checkout_refusal(eur_part(LIMITS.max_amount), shipping=(EU,)) is None
    assert checkout_refusal(eur_part(top + 1), shipping=(EXPRESS,)) is CheckoutRefusal.TOO_LARGE


def test_physical_goods_no_zone_of_their_currency_delivers_are_refused():
    assert checkout_refusal(eur_part(990), shipping=(USD,)) is CheckoutRefusal.NO_SHIPPING
    assert checkout_refusal(eur_part(990, kind="digital"), shipping=(USD,)) is None


def test_without_a_provider_no_telegram_limits_apply():
    # Pay on delivery: no invoice, so Telegram's minimum does not matter.
    assert checkout_refusal(eur_part(50, kind="digital")) is None


# ---- the shipping query ---------------------------------------------------------------------


def test_an_address_gets_every_zone_of_the_orders_currency_that_covers_it():
    options = decide_shipping(REF, head(), country="DE", zones=ZONES, language="ru", now=NOW)
    assert not isinstance(options, Refusal)
    assert [(o.id, o.title, o.price) for o in options] == [
        ("eu", "Посылка", 490),
        ("express", "Express", 1490),
    ]


def test_delivery_is_free_from_the_zones_subtotal():
    options = decide_shipping(REF, head(6000), country="FR", zones=ZONES, language="en", now=NOW)
    assert not isinstance(options, Refusal)
    assert [(o.id, o.price) for o in options] == [("eu", 0)]


@pytest.mark.parametrize(
    ("order", "refusal"),
    [
        (head(), Refusal.NO_DELIVERY),  # JP is in no zone
        (head(status=Status.PAID, paid_charge_id="c"), Refusal.PAID_ALREADY),
        (head(status=Status.EXPIRED), Refusal.EXPIRED),
        (None, Refusal.UNKNOWN_ORDER),
    ],
)
def test_an_address_in_no_zone_or_an_order_that_cannot_be_paid_gets_no_options(order, refusal):
    found = decide_shipping(REF, order, country="JP", zones=ZONES, language="en", now=NOW)
    assert found is refusal


def test_a_reservation_past_its_deadline_gets_no_options():
    later = NOW + timedelta(minutes=16)
    assert decide_shipping(REF, head(), country="DE", zones=ZONES, language="en", now=later) is (
        Refusal.EXPIRED
    )


# ---- pre-checkout -----------------------------------------------------------------------------


def pre_checkout(total: int, option: str | None, info: OrderInfo | None = BERLIN) -> object:
    return decide_pre_checkout(
        REF,
        head(),
        currency="EUR",
        total_amount=total,
        now=NOW,
        shipping_option_id=option,
        order_info=info,
        zones=ZONES,
    )


def test_the_total_must_be_the_goods_and_the_chosen_delivery():
    assert pre_checkout(1980 + 1490, "express") is None
    assert pre_checkout(1980 + 490, "express") is Refusal.AMOUNT_CHANGED
    assert pre_checkout(1980, "express") is Refusal.AMOUNT_CHANGED


def test_an_option_that_does_not_deliver_to_the_address_is_refused():
    paris = OrderInfo(shipping_address=Address("FR"))
    assert pre_checkout(1980 + 1490, "express", paris) is Refusal.NO_DELIVERY
    assert pre_checkout(1980 + 700, "us") is Refusal.NO_DELIVERY  # a USD zone for an EUR order
    assert pre_checkout(1980, None) is Refusal.NO_DELIVERY
    assert pre_checkout(1980 + 490, "eu", None) is Refusal.NO_DELIVERY


def test_a_stars_or_digital_order_pays_its_goods_only():
    digital = head(kind="digital")
    assert (
        decide_pre_checkout(REF, digital, currency="EUR", total_amount=1980, now=NOW, zones=ZONES)
        is None
    )


# ---- the charge -----------------------------------------------------------------------------


def charge(total: int, option: str | None = "eu", charge_id: str = "tpc_1") -> Charge:
    return Charge(
        charge_id,
        "EUR",
        total,
        make_payload(7, NONCE),
        42,
        provider_charge_id="ch_1",
        shipping_option_id=option,
        order_info=BERLIN,
    )


def test_a_card_charge_marks_paid_with_the_deliverys_price():
    decision = decide_payment(charge(1980 + 490), REF, head(), known=False, zones=ZONES)
    assert decision.action is PaymentAction.MARK_PAID
    assert decision.shipping_amount == 490


def test_a_card_charge_of_another_amount_is_reported_never_refunded():
    decision = decide_payment(charge(1980), REF, head(), known=False, zones=ZONES)
    assert (decision.action, decision.reason) == (PaymentAction.REPORT, Refusal.AMOUNT_CHANGED)


def test_a_second_card_charge_of_a_paid_order_is_reported():
    paid = head(status=Status.PAID, paid_charge_id="tpc_1")
    decision = decide_payment(charge(2470, charge_id="tpc_2"), REF, paid, known=False, zones=ZONES)
    assert (decision.action, decision.reason) == (PaymentAction.REPORT, Refusal.PAID_ALREADY)
    same = decide_payment(charge(2470), REF, paid, known=False, zones=ZONES)
    assert same.action is PaymentAction.NOTHING


# ---- refunds ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "currency", "through_the_api"),
    [
        (PaymentMethod.STARS, "XTR", True),
        (PaymentMethod.PROVIDER, "EUR", False),
        (PaymentMethod.COD, "EUR", False),
    ],
)
def test_only_stars_go_back_through_the_bot_api(method, currency, through_the_api):
    paid = head(status=Status.PAID, paid_charge_id="c1", method=method, currency=currency)
    if currency == "XTR":
        paid = replace(paid, kind="digital")
    plan = admin_refund(paid)
    assert plan.via_stars_api is through_the_api
    # Paid goods come back on sale (the table's rule for paid -> refunded).
    assert plan.rule.stock is StockEffect.RETURN
