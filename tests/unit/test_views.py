"""What shoppers read and press: the category list's text and buttons (with prices), and
/help."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.shop.catalog import Catalog, Product
from bot.shop.orders import Order, OrderLine, PaymentMethod, Status
from bot.shop.paging import Page, paginate
from bot.shop.shipping import Address, OrderInfo, ShippingZone
from bot.telegram.handlers.guide import help_text
from bot.telegram.i18n import build_i18n
from bot.telegram.keyboards import categories_keyboard, products_keyboard
from bot.telegram.views import admin_refunded_text, category_text, order_text, when_text


@pytest.fixture(scope="module")
def i18n(tmp_path_factory: pytest.TempPathFactory) -> I18n:
    return build_i18n(tmp_path_factory.mktemp("i18n"), "en")


@pytest.fixture
def english(i18n: I18n) -> Iterator[None]:
    with i18n.context(), i18n.use_locale("en"):
        yield


def _rows(markup: InlineKeyboardMarkup) -> list[list[str]]:
    return [[button.text for button in row] for row in markup.inline_keyboard]


def _catalog(products: int, title: str = "Mugs") -> Catalog:
    return Catalog.validated(
        [{"id": "mugs", "title": {"en": title, "ru": "Кружки"}}],
        [
            {
                "id": f"mug-{i}",
                "category": "mugs",
                "title": {"en": f"Mug {i}"},
                "description": {"en": "A mug."},
                "price": 990,  # minor units: €9.90
                "currency": "EUR",
            }
            for i in range(1, products + 1)
        ],
    )


def _page(products: int, number: int) -> Page[Product]:
    return paginate(_catalog(products).products_in("mugs"), number)


@pytest.mark.usefixtures("english")
def test_a_one_page_category_has_no_page_buttons_and_no_page_line():
    page = _page(3, 0)
    assert _rows(products_keyboard("mugs", page, "en")) == [
        ["Mug 1 · €9.90"],
        ["Mug 2 · €9.90"],
        ["Mug 3 · €9.90"],
        ["⬅️ Categories"],
    ]
    assert category_text("Mugs", page) == "<b>Mugs</b>\nChoose a product:"


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    ("number", "nav", "where"),
    [
        (0, ["Next ▶️"], "Page 1 of 3"),
        (1, ["◀️ Prev", "Next ▶️"], "Page 2 of 3"),
        (2, ["◀️ Prev"], "Page 3 of 3"),
    ],
)
def test_pages_have_only_buttons_that_go_somewhere_and_say_where_in_the_text(number, nav, where):
    page = _page(12, number)
    rows = _rows(products_keyboard("mugs", page, "en"))
    assert rows[-2:] == [nav, ["⬅️ Categories"]]
    assert all(len(row) == 1 for row in rows[:-2])  # one product a row
    assert category_text("Mugs", page).endswith(f"\n<i>{where}</i>")


@pytest.mark.parametrize(
    ("language", "buttons"),
    [
        ("en", ["Fly agaric mug · €16.00", "Mascot sticker · ⭐\N{NO-BREAK SPACE}50"]),
        (
            "ru",
            ["Кружка «Мухомор» · 16,00\N{NO-BREAK SPACE}€", "Наклейка · ⭐\N{NO-BREAK SPACE}50"],
        ),
    ],
)
def test_each_product_button_shows_its_price_as_the_shoppers_language_writes_it(
    i18n, language, buttons
):
    shop_window = [  # (title en, title ru, price in minor units, currency, kind)
        ("Fly agaric mug", "Кружка «Мухомор»", 1600, "EUR", "physical"),
        ("Mascot sticker", "Наклейка", 50, "XTR", "digital"),
    ]
    catalog = Catalog.validated(
        [{"id": "shop", "title": {"en": "Shop"}}],
        [
            {
                "id": f"p{n}",
                "category": "shop",
                "title": {"en": en, "ru": ru},
                "description": {"en": "For sale."},
                "price": price,
                "currency": currency,
                "kind": kind,
            }
            for n, (en, ru, price, currency, kind) in enumerate(shop_window)
        ],
    )
    page = paginate(catalog.products_in("shop"), 0)
    with i18n.context(), i18n.use_locale(language):
        rows = _rows(products_keyboard("shop", page, language))
    assert rows[:-1] == [[text] for text in buttons]


@pytest.mark.usefixtures("english")
def test_an_empty_category_says_so():
    assert (
        category_text("Mugs & Cups", _page(0, 0)) == "<b>Mugs &amp; Cups</b>\nNo products here yet."
    )


def test_the_welcome_keyboard_follows_an_edited_catalog_at_once(i18n):
    with i18n.context(), i18n.use_locale("en"):
        before = categories_keyboard(_catalog(1, "Mugs"), "en")
        assert categories_keyboard(_catalog(1, "Mugs"), "en") == before  # same texts, same keyboard
        assert _rows(categories_keyboard(_catalog(1, "Cups"), "en")) == [["Cups"], ["🛒 Cart"]]
    with i18n.context(), i18n.use_locale("ru"):
        # The Cart button's language is part of the cached keyboard's key.
        assert _rows(categories_keyboard(_catalog(1, "Cups"), "ru")) == [["Кружки"], ["🛒 Корзина"]]


@pytest.mark.parametrize("language", ["en", "ru"])
def test_help_lists_the_menus_commands_and_admin_ones_only_for_admins(i18n, language):
    with i18n.context(), i18n.use_locale(language):
        shopper, admin = help_text(admin=False), help_text(admin=True)
    for command in ("/start", "/help", "/language"):
        assert f"\n{command} — " in shopper
    assert "/cache_stats" not in shopper
    assert "/warm" not in shopper
    for command in ("/cache_stats", "/cache_clear", "/warm"):
        assert f"\n{command} — " in admin
    if language == "ru":
        assert "Каталог" in shopper
        assert "Для администраторов" in admin


def test_hidden_categories_and_products_stay_off_the_shoppers_buttons(i18n):
    catalog = Catalog.validated(
        [
            {"id": "mugs", "title": {"en": "Mugs"}},
            {"id": "attic", "title": {"en": "Attic"}, "active": False},
        ],
        [
            {
                "id": f"mug-{i}",
                "category": "mugs",
                "title": {"en": f"Mug {i}"},
                "description": {"en": "A mug."},
                "price": 990,
                "currency": "EUR",
                "active": i != 2,
            }
            for i in range(1, 4)
        ],
    )
    page = paginate(catalog.products_in("mugs"), 0)
    with i18n.context(), i18n.use_locale("en"):
        assert _rows(categories_keyboard(catalog, "en")) == [["Mugs"], ["🛒 Cart"]]
        rows = _rows(products_keyboard("mugs", page, "en"))
    assert rows == [["Mug 1 · €9.90"], ["Mug 3 · €9.90"], ["⬅️ Categories"]]


@pytest.mark.usefixtures("english")
@pytest.mark.parametrize(
    ("status", "total_line"),
    [
        (Status.AWAITING_PAYMENT, "Total with shipping: €24.70"),
        (Status.PAID, "Paid in all: €24.70"),
    ],
)
def test_an_order_with_delivery_shows_its_shipping_and_what_it_costs_in_all(status, total_line):
    when = datetime(2026, 12, 7, 10, tzinfo=UTC)
    order = Order(
        id=12,
        user_id=5,
        status=status,
        lines=(OrderLine("mug", {"en": "Mug"}, 990, 2, "EUR", "physical"),),
        created_at=when,
        expires_at=when,
        nonce="n" * 16,
        method=PaymentMethod.COD,
        shipping_amount=490,
        shipping_option_id="eu",
        order_info=OrderInfo(name="Ada", shipping_address=Address("DE", city="Berlin")),
    )
    text = order_text(order, "en", zone=UTC)
    # Without the catalog's zone (gone from it since), its id; with it, its title.
    assert "Total: €19.80\nDelivery (eu): €4.90\n" + total_line in text
    zone = ShippingZone(
        "eu", {"en": "EU parcel", "ru": "Посылка по ЕС"}, frozenset({"DE"}), 490, "EUR"
    )
    assert "Delivery (EU parcel): €4.90\n" in order_text(order, "en", zone=UTC, zones=[zone])
    assert "(Посылка по ЕС)" in order_text(order, "ru", zone=UTC, zones=[zone])
    assert "Ada" in text
    assert "Berlin, DE" in text
    # Its time on the shop's clock (SHOP_TIMEZONE), named.
    assert "<b>Order #12</b> of 2026-12-07 10:00 UTC\n" in text
    moscow = order_text(order, "en", zone=ZoneInfo("Europe/Moscow"))
    assert "<b>Order #12</b> of 2026-12-07 13:00 MSK\n" in moscow
    assert when_text(when, ZoneInfo("Asia/Dubai")) == "2026-12-07 14:00 +04"
    assert admin_refunded_text(order, "en", "by hand").startswith("↩️ Order #12 (€24.70)")
