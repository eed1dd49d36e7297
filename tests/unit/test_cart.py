"""The cart's rules: limits, refusals that leave the cart as it was, and pricing that flags
what cannot be paid instead of dropping it."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from bot.shop.cart import (
    MAX_LINES,
    MAX_QUANTITY,
    Cart,
    CartLine,
    LineState,
    Outcome,
    price_cart,
)


@dataclass(frozen=True)
class Product:
    id: str
    price: int = 1250
    currency: str = "EUR"
    stock: int | None = None
    kind: str = "physical"
    active: bool = True
    title: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not self.title:
            object.__setattr__(self, "title", {"en": self.id.title(), "ru": self.id.upper()})


class Catalog:
    """The two lookups of the real catalog: shown products, and all of them. (price_cart's
    and Cart.add's annotations make mypy check these fakes against the Protocols.)"""

    def __init__(self, *products: Product, hidden_categories: tuple[str, ...] = ()):
        self.all = {p.id: p for p in products}
        self.hidden = set(hidden_categories)

    def product(self, product_id: str, /) -> Product | None:
        p = self.all.get(product_id)
        return p if p is not None and p.active and p.id not in self.hidden else None

    def get_product(self, product_id: str, /) -> Product | None:
        return self.all.get(product_id)


MUG = Product("mug", price=1250)
POSTER = Product("poster", price=900)
STICKERS = Product("stickers", price=25, currency="XTR", kind="digital")
WALLPAPER = Product("wallpaper", price=10, currency="XTR", kind="digital")


def cart_of(**quantities: int) -> Cart:
    return Cart.from_rows(quantities.items())


# ---- adding --------------------------------------------------------------------------------


def test_adding_a_product_makes_a_line_and_says_how_many_are_in_the_cart():
    change = Cart().add(MUG)
    assert (change.outcome, change.quantity) == (Outcome.ADDED, 1)
    again = change.cart.add(MUG)
    assert (again.outcome, again.quantity) == (Outcome.ADDED, 2)
    assert again.cart.rows() == [("mug", 2)]


def test_lines_keep_the_order_they_were_added_in():
    cart = Cart().add(MUG).cart.add(POSTER).cart.add(MUG).cart
    assert cart.rows() == [("mug", 2), ("poster", 1)]
    assert (len(cart), cart.units) == (2, 3)


@pytest.mark.parametrize(
    "product",
    [None, Product("mug", active=False)],
    ids=["gone or hidden (catalog.product is None)", "inactive"],
)
def test_a_product_shoppers_cannot_see_is_not_added(product):
    change = cart_of(poster=1).add(product)
    assert change.outcome is Outcome.UNAVAILABLE
    assert change.cart.rows() == [("poster", 1)]


def test_a_sold_out_product_is_not_added():
    change = Cart().add(Product("mug", stock=0))
    assert (change.outcome, change.cart.rows()) == (Outcome.SOLD_OUT, [])


@pytest.mark.parametrize(
    ("stock", "have", "outcome"), [(3, 2, Outcome.ADDED), (3, 3, Outcome.NO_MORE_STOCK)]
)
def test_adding_stops_at_the_stock(stock, have, outcome):
    change = cart_of(mug=have).add(Product("mug", stock=stock))
    assert change.outcome is outcome
    assert change.quantity == (have + 1 if outcome is Outcome.ADDED else have)


def test_adding_more_than_the_stock_at_once_adds_nothing():
    change = cart_of(mug=1).add(Product("mug", stock=3), count=3)
    assert (change.outcome, change.cart.rows()) == (Outcome.NO_MORE_STOCK, [("mug", 1)])


@pytest.mark.parametrize(
    ("have", "outcome"),
    [(MAX_QUANTITY - 1, Outcome.ADDED), (MAX_QUANTITY, Outcome.LINE_LIMIT)],
)
def test_a_line_holds_at_most_max_quantity(have, outcome):
    change = cart_of(mug=have).add(MUG)
    assert change.outcome is outcome
    assert change.cart.quantity("mug") == min(have + 1, MAX_QUANTITY)


def test_a_line_limit_beats_a_larger_stock():
    change = cart_of(mug=MAX_QUANTITY).add(Product("mug", stock=1000))
    assert change.outcome is Outcome.LINE_LIMIT


def test_a_full_cart_takes_no_new_line_but_still_more_of_a_line_it_has():
    full = Cart.from_rows((f"p{n}", 1) for n in range(MAX_LINES))
    refused = full.add(MUG)
    assert (refused.outcome, len(refused.cart)) == (Outcome.CART_FULL, MAX_LINES)
    assert full.add(Product("p0")).outcome is Outcome.ADDED


def test_one_line_less_than_full_takes_a_new_line():
    cart = Cart.from_rows((f"p{n}", 1) for n in range(MAX_LINES - 1))
    change = cart.add(MUG)
    assert (change.outcome, len(change.cart)) == (Outcome.ADDED, MAX_LINES)


@pytest.mark.parametrize("count", [0, -1, 1.5, True])
def test_a_count_that_is_not_a_positive_whole_number_is_a_programming_error(count):
    with pytest.raises(ValueError, match="count"):
        Cart().add(MUG, count=count)


# ---- the cart's own buttons ---------------------------------------------------------------


def test_plus_adds_one_to_a_line():
    change = cart_of(mug=2).increment("mug", MUG)
    assert (change.outcome, change.quantity) == (Outcome.ADDED, 3)


def test_plus_on_an_old_message_after_clear_does_not_put_the_product_back():
    change = Cart().increment("mug", MUG)
    assert (change.outcome, change.cart.rows()) == (Outcome.NOT_IN_CART, [])


def test_plus_on_a_product_that_went_away_changes_nothing():
    change = cart_of(mug=2).increment("mug", None)
    assert (change.outcome, change.quantity) == (Outcome.UNAVAILABLE, 2)


def test_plus_respects_the_stock():
    change = cart_of(mug=2).increment("mug", Product("mug", stock=2))
    assert (change.outcome, change.quantity) == (Outcome.NO_MORE_STOCK, 2)


def test_minus_takes_one_off_and_the_last_one_removes_the_line():
    change = cart_of(mug=2, poster=1).decrement("mug")
    assert (change.outcome, change.quantity) == (Outcome.DECREMENTED, 1)
    last = change.cart.decrement("mug")
    assert (last.outcome, last.quantity, last.cart.rows()) == (Outcome.REMOVED, 0, [("poster", 1)])


@pytest.mark.parametrize("operation", ["decrement", "remove"])
def test_minus_and_remove_of_a_line_that_is_not_there_are_refused(operation):
    cart = cart_of(poster=1)
    change = getattr(cart, operation)("mug")
    assert (change.outcome, change.cart) == (Outcome.NOT_IN_CART, cart)


def test_remove_drops_the_whole_line():
    change = cart_of(mug=5, poster=1).remove("mug")
    assert (change.outcome, change.cart.rows()) == (Outcome.REMOVED, [("poster", 1)])


def test_clear_empties_the_cart():
    change = cart_of(mug=5, poster=1).clear()
    assert (change.outcome, change.cart.rows(), change.cart.units) == (Outcome.CLEARED, [], 0)


def test_refusals_do_not_count_as_changes():
    assert Outcome.ADDED.changed
    assert Outcome.CLEARED.changed
    assert not Outcome.SOLD_OUT.changed
    assert not Outcome.NOT_IN_CART.changed


def test_without_takes_the_checked_out_lines_and_keeps_the_rest():
    cart = cart_of(mug=1, stickers=2, poster=3)
    assert cart.without(["stickers"]).rows() == [("mug", 1), ("poster", 3)]


# ---- rows from storage --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("mug", 0)], "quantity 0"),
        ([("mug", MAX_QUANTITY + 1)], f"quantity {MAX_QUANTITY + 1}"),
        ([("mug", 1), ("mug", 2)], "two lines"),
        ([("", 1)], "not a product id"),
        ([(f"p{n}", 1) for n in range(MAX_LINES + 1)], f"at most {MAX_LINES} lines"),
    ],
)
def test_rows_that_break_the_limits_are_refused_with_the_reason(rows, message):
    with pytest.raises(ValueError, match=message):
        Cart.from_rows(rows)


def test_rows_round_trip():
    rows = [("poster", 3), ("mug", 1)]
    assert Cart.from_rows(rows).rows() == rows
    assert list(Cart.from_rows(rows)) == [CartLine("poster", 3), CartLine("mug", 1)]


# ---- pricing ------------------------------------------------------------------------------


def test_a_line_is_priced_in_minor_units_with_its_total():
    priced = price_cart(cart_of(mug=3), Catalog(MUG))
    (line,) = priced.lines
    assert (line.state, line.unit_price, line.line_total, line.currency) == (
        LineState.OK,
        1250,
        3750,
        "EUR",
    )
    assert line.title == {"en": "Mug", "ru": "MUG"}
    assert priced.totals == {"EUR": 3750}


def test_totals_are_per_currency_and_stars_come_first():
    catalog = Catalog(MUG, POSTER, STICKERS, WALLPAPER, Product("pin", price=300, currency="USD"))
    priced = price_cart(cart_of(mug=2, stickers=1, pin=1, poster=1, wallpaper=3), catalog)
    assert priced.totals == {"XTR": 25 + 30, "EUR": 2500 + 900, "USD": 300}
    assert [part.currency for part in priced.parts] == ["XTR", "EUR", "USD"]


def test_a_mixed_cart_splits_into_its_stars_part_and_its_fiat_parts():
    catalog = Catalog(MUG, POSTER, STICKERS, WALLPAPER)
    priced = price_cart(cart_of(mug=1, stickers=2, poster=1, wallpaper=1), catalog)
    stars = priced.stars_part
    assert stars is not None
    assert (stars.stars, stars.product_ids, stars.total, stars.physical) == (
        True,
        ("stickers", "wallpaper"),
        60,
        False,
    )
    (fiat,) = priced.fiat_parts
    assert (fiat.currency, fiat.product_ids, fiat.total, fiat.physical) == (
        "EUR",
        ("mug", "poster"),
        2150,
        True,
    )
    assert priced.part("EUR") == fiat
    assert priced.part("USD") is None


def test_a_cart_without_stars_items_has_no_stars_part():
    priced = price_cart(cart_of(mug=1), Catalog(MUG))
    assert priced.stars_part is None
    assert len(priced.fiat_parts) == 1


@pytest.mark.parametrize(
    ("mug", "hidden", "state", "available"),
    [
        (None, False, LineState.GONE, None),
        (Product("mug", active=False), False, LineState.HIDDEN, None),
        (MUG, True, LineState.HIDDEN, None),
        (Product("mug", stock=0), False, LineState.SOLD_OUT, 0),
        (Product("mug", stock=1), False, LineState.SHORT, 1),
        (Product("mug", stock=2), False, LineState.OK, 2),
    ],
    ids=["gone", "inactive", "category hidden", "sold out", "short", "just enough"],
)
def test_lines_that_cannot_be_paid_are_flagged_and_kept(mug, hidden, state, available):
    products = [POSTER] if mug is None else [POSTER, mug]
    catalog = Catalog(*products, hidden_categories=("mug",) if hidden else ())
    priced = price_cart(cart_of(mug=2, poster=1), catalog)
    mug = priced.lines[0]
    assert (mug.product_id, mug.quantity, mug.state, mug.available) == ("mug", 2, state, available)
    # The poster is unaffected and nothing was dropped.
    assert [line.product_id for line in priced.lines] == ["mug", "poster"]
    if state is LineState.OK:
        assert priced.totals == {"EUR": 2500 + 900}
        assert priced.flagged == ()
    else:
        assert priced.flagged == (mug,)
        assert priced.totals == {"EUR": 900}
        assert [line.product_id for line in priced.payable] == ["poster"]


def test_a_gone_line_knows_nothing_but_its_id_and_quantity():
    (line,) = price_cart(cart_of(mug=2), Catalog()).lines
    assert (line.title, line.unit_price, line.line_total, line.currency) == (None, None, None, None)


def test_a_flagged_line_still_shows_its_price_but_is_not_in_the_totals():
    (line,) = price_cart(cart_of(mug=2), Catalog(Product("mug", stock=0))).lines
    assert line.line_total == 2500
    assert price_cart(cart_of(mug=2), Catalog(Product("mug", stock=0))).totals == {}


def test_an_empty_cart_prices_to_nothing():
    priced = price_cart(Cart(), Catalog(MUG))
    assert (priced.lines, priced.parts, priced.totals, priced.stars_part) == ((), (), {}, None)


def test_pricing_uses_the_catalog_as_it_is_now():
    cart = cart_of(mug=2)
    assert price_cart(cart, Catalog(MUG)).totals == {"EUR": 2500}
    assert price_cart(cart, Catalog(Product("mug", price=1500))).totals == {"EUR": 3000}
