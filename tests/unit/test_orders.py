"""The order state machine (every change allowed or refused, with its stock effect), order
lines copied at checkout, numbers and reservation deadlines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.shop.cart import Cart, price_cart
from bot.shop.orders import (
    DEFAULT_RESERVATION_MINUTES,
    EXPIRY_GRACE,
    MAX_RESERVATION_MINUTES,
    NONCE_PATTERN,
    Order,
    OrderDraft,
    OrderLine,
    Status,
    StockChange,
    StockEffect,
    TransitionError,
    can_transition,
    expiry_due,
    new_nonce,
    new_order,
    next_statuses,
    order_kind,
    order_number,
    order_totals,
    parse_order_number,
    reservation_deadline,
    reservation_over,
    stock_changes,
    transition,
)
from tests.unit.test_cart import MUG, POSTER, STICKERS, WALLPAPER, Catalog, Product

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NONCE = "AbCdEfGhIjKlMnOp"
S = Status
E = StockEffect

# The state machine as the issues describe it, written out independently of the module's
# table: (from, to) -> (stock effect, kinds it applies to). None = creation at checkout.
BOTH = {"digital", "physical"}
EXPECTED = {
    (None, S.AWAITING_PAYMENT): (E.RESERVE, BOTH),
    (S.AWAITING_PAYMENT, S.PAID): (E.NONE, BOTH),
    (S.AWAITING_PAYMENT, S.CANCELLED): (E.RELEASE, BOTH),
    (S.AWAITING_PAYMENT, S.EXPIRED): (E.RELEASE, BOTH),
    (S.EXPIRED, S.PAID): (E.RESERVE, BOTH),
    (S.PAID, S.FULFILLED): (E.NONE, {"digital"}),
    (S.PAID, S.PACKED): (E.NONE, {"physical"}),
    (S.PACKED, S.SHIPPED): (E.NONE, {"physical"}),
    (S.SHIPPED, S.DELIVERED): (E.NONE, {"physical"}),
    (S.PAID, S.REFUNDED): (E.RETURN, BOTH),
    (S.FULFILLED, S.REFUNDED): (E.RETURN, {"digital"}),
    (S.PACKED, S.REFUNDED): (E.RETURN, {"physical"}),
    (S.SHIPPED, S.REFUNDED): (E.NONE, {"physical"}),
    (S.DELIVERED, S.REFUNDED): (E.NONE, {"physical"}),
}
ALL_CHANGES = [
    (origin, target, kind)
    for origin in [None, *Status]
    for target in Status
    for kind in sorted(BOTH)
]


def _id(change: tuple[Status | None, Status, str]) -> str:
    origin, target, kind = change
    return f"{kind}:{origin.value if origin else 'new'}->{target.value}"


@pytest.mark.parametrize("change", ALL_CHANGES, ids=[_id(c) for c in ALL_CHANGES])
def test_each_status_change_is_allowed_or_refused_as_the_issues_say(change):
    origin, target, kind = change
    expected = EXPECTED.get((origin, target))
    allowed = expected is not None and kind in expected[1]
    assert can_transition(origin, target, kind) is allowed
    if allowed:
        assert expected is not None
        assert transition(origin, target, kind).stock is expected[0]
    else:
        with pytest.raises(TransitionError, match=f"cannot go from .* to {target.value}"):
            transition(origin, target, kind)


def test_terminal_states_lead_nowhere():
    for status in (S.CANCELLED, S.REFUNDED, S.DELIVERED):
        for kind in BOTH:
            assert next_statuses(status, kind) == (
                (S.REFUNDED,) if status is S.DELIVERED and kind == "physical" else ()
            )


def test_the_desk_offers_the_next_states_of_each_kind():
    assert next_statuses(S.PAID, "digital") == (S.FULFILLED, S.REFUNDED)
    assert next_statuses(S.PAID, "physical") == (S.PACKED, S.REFUNDED)
    assert next_statuses(S.AWAITING_PAYMENT, "digital") == (S.PAID, S.CANCELLED, S.EXPIRED)


def test_an_unknown_kind_is_a_programming_error():
    with pytest.raises(ValueError, match="kind 'gift'"):
        can_transition(S.PAID, S.FULFILLED, "gift")


def test_the_refusal_names_the_kind_and_both_states():
    with pytest.raises(TransitionError, match="a physical order cannot go from paid to fulfilled"):
        transition(S.PAID, S.FULFILLED, "physical")
    with pytest.raises(TransitionError, match="from creation to paid"):
        transition(None, S.PAID, "digital")


# ---- stock ---------------------------------------------------------------------------------


def line(
    product_id: str = "mug",
    quantity: int = 2,
    *,
    price: int = 1250,
    currency: str = "EUR",
    kind: str = "physical",
) -> OrderLine:
    return OrderLine(product_id, {"en": product_id.title()}, price, quantity, currency, kind)


@pytest.mark.parametrize(
    ("effect", "deltas"),
    [(E.RESERVE, [-2, -1]), (E.RELEASE, [2, 1]), (E.RETURN, [2, 1]), (E.NONE, [])],
)
def test_stock_effects_take_or_give_back_each_lines_units(effect, deltas):
    lines = [line("mug", 2), line("poster", 1)]
    changes = stock_changes(effect, lines)
    assert [c.delta for c in changes] == deltas
    assert [c.product_id for c in changes] == ["mug", "poster"][: len(deltas)]


def order(
    status: Status = S.AWAITING_PAYMENT,
    lines: list[OrderLine] | None = None,
    *,
    id: int = 7,
    paid_charge_id: str | None = None,
) -> Order:
    return Order(
        id=id,
        user_id=42,
        status=status,
        lines=tuple(lines or [line("mug", 2), line("poster", 1, price=900)]),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        nonce=NONCE,
        paid_charge_id=paid_charge_id,
    )


def test_expiry_releases_the_reservation():
    rule, changes = order().change_to(S.EXPIRED)
    assert rule.stock is E.RELEASE
    assert changes == (StockChange("mug", 2), StockChange("poster", 1))


def test_a_late_payment_of_an_expired_order_reserves_again():
    rule, changes = order(S.EXPIRED).change_to(S.PAID)
    assert rule.stock is E.RESERVE
    assert changes == (StockChange("mug", -2), StockChange("poster", -1))


def test_paying_changes_no_stock():
    assert order().change_to(S.PAID)[1] == ()


def test_a_refund_before_shipping_returns_the_stock_and_after_it_does_not():
    assert order(S.PACKED).change_to(S.REFUNDED)[1] == (
        StockChange("mug", 2),
        StockChange("poster", 1),
    )
    assert order(S.SHIPPED).change_to(S.REFUNDED)[1] == ()


def test_a_physical_order_cannot_be_marked_fulfilled():
    with pytest.raises(TransitionError):
        order(S.PAID).change_to(S.FULFILLED)


def test_an_order_with_one_physical_line_is_physical():
    assert order_kind([line("stickers", kind="digital"), line("mug")]) == "physical"
    assert order_kind([line("stickers", kind="digital")]) == "digital"


# ---- numbers and deadlines -------------------------------------------------------------------


def test_order_numbers_read_hash_and_number():
    assert order_number(123) == "#123"
    assert order(id=5).number == "#5"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("#123", 123),
        ("123", 123),
        (" #9 ", 9),
        ("#0", None),
        ("#012", None),
        ("#12a", None),
        ("", None),
        ("#", None),
        ("#" + "9" * 20, None),
    ],
)
def test_order_numbers_parse_back(text, number):
    assert parse_order_number(text) == number


def test_the_reservation_lasts_the_configured_minutes():
    assert reservation_deadline(NOW, 15) == NOW + timedelta(minutes=15)
    assert DEFAULT_RESERVATION_MINUTES == 15


@pytest.mark.parametrize("minutes", [1, MAX_RESERVATION_MINUTES])
def test_reservation_minutes_at_the_bounds_are_accepted(minutes):
    assert reservation_deadline(NOW, minutes) - NOW == timedelta(minutes=minutes)


@pytest.mark.parametrize("minutes", [0, -5, MAX_RESERVATION_MINUTES + 1, True, 1.5])
def test_reservation_minutes_out_of_bounds_are_refused(minutes):
    with pytest.raises(ValueError, match="reservation of"):
        reservation_deadline(NOW, minutes)


def test_a_naive_time_is_refused_where_it_is_given():
    with pytest.raises(ValueError, match="timezone-aware"):
        reservation_deadline(datetime(2026, 5, 1, 12, 0), 15)
    with pytest.raises(ValueError, match="now must be"):
        reservation_over(NOW, datetime(2026, 5, 1, 12, 0))


def test_the_reservation_is_over_from_its_deadline_on():
    deadline = NOW + timedelta(minutes=15)
    assert not reservation_over(deadline, deadline - timedelta(microseconds=1))
    assert reservation_over(deadline, deadline)


def test_the_sweep_waits_the_grace_past_the_deadline():
    deadline = NOW + timedelta(minutes=15)
    assert not expiry_due(deadline, deadline)
    assert not expiry_due(deadline, deadline + EXPIRY_GRACE - timedelta(microseconds=1))
    assert expiry_due(deadline, deadline + EXPIRY_GRACE)


def test_times_in_other_zones_compare_by_the_instant():
    moscow = timezone(timedelta(hours=3))
    deadline = NOW + timedelta(minutes=15)
    assert reservation_over(deadline, deadline.astimezone(moscow))
    assert not reservation_over(deadline, NOW.astimezone(moscow))


# ---- lines and orders from a cart --------------------------------------------------------------


def test_checkout_copies_each_line_as_it_is_now():
    catalog = Catalog(MUG, POSTER, STICKERS, WALLPAPER)
    priced = price_cart(Cart.from_rows([("mug", 2), ("stickers", 3), ("wallpaper", 1)]), catalog)
    part = priced.stars_part
    assert part is not None
    draft = new_order(42, part, now=NOW, reservation_minutes=10, nonce=NONCE)
    assert [
        (li.product_id, li.unit_price, li.quantity, li.currency, li.kind) for li in draft.lines
    ] == [
        ("stickers", 25, 3, "XTR", "digital"),
        ("wallpaper", 10, 1, "XTR", "digital"),
    ]
    assert draft.lines[0].title == {"en": "Stickers", "ru": "STICKERS"}
    assert (draft.currency, draft.total, draft.kind, draft.status) == (
        "XTR",
        85,
        "digital",
        S.AWAITING_PAYMENT,
    )
    assert (draft.created_at, draft.expires_at, draft.user_id) == (
        NOW,
        NOW + timedelta(minutes=10),
        42,
    )
    assert draft.reservations() == (StockChange("stickers", -3), StockChange("wallpaper", -1))


def test_a_later_catalog_change_does_not_change_the_order():
    title = {"en": "Mug"}
    product = Product("mug", title=title)
    priced = price_cart(Cart.from_rows([("mug", 1)]), Catalog(product))
    (part,) = priced.parts
    draft = new_order(42, part, now=NOW, nonce=NONCE)
    title["en"] = "Renamed"
    assert draft.lines[0].title == {"en": "Mug"}


def test_a_flagged_line_cannot_be_copied_into_an_order():
    priced = price_cart(Cart.from_rows([("mug", 1)]), Catalog(Product("mug", stock=0)))
    with pytest.raises(ValueError, match="sold_out, not payable"):
        OrderLine.from_priced(priced.lines[0])


def test_each_new_order_gets_its_own_nonce():
    nonces = {new_nonce() for _ in range(50)}
    assert len(nonces) == 50
    assert all(NONCE_PATTERN.fullmatch(n) for n in nonces)
    (part,) = price_cart(Cart.from_rows([("mug", 1)]), Catalog(MUG)).parts
    assert NONCE_PATTERN.fullmatch(new_order(1, part, now=NOW).nonce)


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([], "at least one line"),
        ([line("mug"), line("stickers", currency="XTR", kind="digital")], "one currency"),
        ([line("mug"), line("mug")], "one line per product"),
    ],
)
def test_orders_that_cannot_be_one_invoice_are_refused(lines, message):
    with pytest.raises(ValueError, match=message):
        OrderDraft(42, tuple(lines), NOW, NOW, NONCE)
    with pytest.raises(ValueError, match=message):
        Order(1, 42, S.PAID, tuple(lines), NOW, NOW, NONCE)


@pytest.mark.parametrize("nonce", ["short", "A" * 17, "A" * 15 + "!", ""])
def test_a_draft_needs_a_well_formed_nonce(nonce):
    with pytest.raises(ValueError, match="nonce"):
        OrderDraft(42, (line(),), NOW, NOW, nonce)


@pytest.mark.parametrize("order_id", [0, -1])
def test_an_order_id_is_positive(order_id):
    with pytest.raises(ValueError, match="order id"):
        order(id=order_id)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"quantity": 0}, "quantity 0"),
        ({"price": -1}, "price -1"),
        ({"kind": "gift"}, "kind 'gift'"),
    ],
)
def test_a_line_with_impossible_values_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        line(**kwargs)


def test_a_line_needs_a_title():
    with pytest.raises(ValueError, match="a title is needed"):
        OrderLine("mug", {}, 1, 1, "EUR", "physical")
    with pytest.raises(ValueError, match="a title is needed"):
        OrderLine("mug", {"en": ""}, 1, 1, "EUR", "physical")


def test_a_lines_title_follows_the_shoppers_language_with_english_as_fallback():
    snapshot = OrderLine("mug", {"en": "Mug", "ru": "Кружка"}, 1, 1, "EUR", "physical")
    assert (snapshot.title_in("ru"), snapshot.title_in("de")) == ("Кружка", "Mug")
    russian_only = OrderLine("mug", {"ru": "Кружка"}, 1, 1, "EUR", "physical")
    assert russian_only.title_in("en") == "Кружка"


def test_order_totals_are_in_minor_units():
    lines = [line("mug", 2, price=1250), line("poster", 3, price=900)]
    assert order_totals(lines) == {"EUR": 2500 + 2700}
    assert order(lines=lines).total == 5200
    assert order_totals([line("a", 1, currency="EUR"), line("b", 1, currency="USD")]) == {
        "EUR": 1250,
        "USD": 1250,
    }


def test_an_orders_head_carries_what_payments_read():
    head = order(S.PAID, paid_charge_id="ch1").head()
    assert (head.id, head.user_id, head.status, head.currency, head.total, head.kind) == (
        7,
        42,
        S.PAID,
        "EUR",
        3400,
        "physical",
    )
    assert (head.nonce, head.paid_charge_id, head.number) == (NONCE, "ch1", "#7")
