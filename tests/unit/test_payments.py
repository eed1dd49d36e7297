"""Telegram's invoice rules, the payload, and every payment decision: pre-checkout,
successful_payment, reconciliation against getStarTransactions, and refunds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.shop.cart import Cart, CartPart, price_cart
from bot.shop.orders import (
    PAID_STATUSES,
    Order,
    OrderHead,
    OrderLine,
    Status,
    StockEffect,
    TransitionError,
    new_order,
)
from bot.shop.payments import (
    MAX_AMOUNT,
    MAX_DESCRIPTION,
    MAX_PAYLOAD_BYTES,
    MAX_STARS_PER_INVOICE,
    MAX_TITLE,
    MSG_MORE,
    MSG_ORDER,
    REFUSAL_TEXTS,
    Charge,
    CheckoutRefusal,
    InvoiceWords,
    LabeledPrice,
    PayloadRef,
    PaymentAction,
    PaymentDecision,
    Refusal,
    StarCharge,
    admin_refund,
    build_invoice,
    checkout_refusal,
    decide_payment,
    decide_pre_checkout,
    decide_refunded_payment,
    fit_text,
    invoice_description,
    invoice_photo,
    invoice_title,
    make_payload,
    orders_to_load,
    parse_payload,
    reconcile,
    revive_failed,
    utf16_len,
)
from bot.telegram.i18n import build_i18n
from tests.unit.test_cart import STICKERS, Catalog, Product

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
NONCE = "AbCdEfGhIjKlMnOp"
OTHER_NONCE = "ZyXwVuTsRqPoNmLk"
RU = InvoiceWords(order="Заказ {number}", more="и ещё {count}")

# ---- measuring and cutting text ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("abc", 3),
        ("Мухомор", 7),  # Cyrillic: one UTF-16 unit a letter, two UTF-8 bytes
        ("🍄", 2),  # outside the BMP: a surrogate pair
        ("🇩🇪", 4),  # a flag is two regional indicators
        ("×…", 2),
        ("", 0),
    ],
)
def test_text_is_measured_in_utf16_code_units(text, units):
    assert utf16_len(text) == units
    assert utf16_len(text) == len(text.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    "text",
    ["a" * 32, "Ж" * 32, "🍄" * 16, "🍄" * 15 + "ab"],
    ids=["ascii", "cyrillic", "emoji", "emoji+ascii"],
)
def test_a_title_of_exactly_32_units_is_kept_whole(text):
    assert fit_text(text, MAX_TITLE) == text


@pytest.mark.parametrize(
    "text",
    ["a" * 33, "Ж" * 33, "🍄" * 17, "a" * 31 + "🍄", "🍄" * 16 + "a"],
    ids=["ascii", "cyrillic", "emoji", "emoji straddling the limit", "emoji+1"],
)
def test_one_unit_over_is_cut_with_an_ellipsis_inside_the_limit(text):
    cut = fit_text(text, MAX_TITLE)
    assert cut.endswith("…")
    assert utf16_len(cut) <= MAX_TITLE
    assert text.startswith(cut[:-1])


def test_an_emoji_that_would_straddle_the_limit_is_left_out_whole():
    # 30 letters + an emoji (2 units) would be 32 with the ellipsis 33: the emoji goes.
    cut = fit_text("a" * 30 + "🍄🍄", MAX_TITLE)
    assert cut == "a" * 30 + "…"


def test_a_cut_falls_on_a_word_boundary():
    text = "Fly agaric mug with a hand painted golden rim"
    assert fit_text(text, 32) == "Fly agaric mug with a hand…"


def test_a_cut_in_russian_falls_on_a_word_boundary_too():
    text = "Кружка с мухомором, ручная роспись и золотой ободок"
    cut = fit_text(text, 32)
    assert cut == "Кружка с мухомором, ручная…"
    assert utf16_len(cut) <= 32


def test_separators_left_before_the_ellipsis_are_dropped():
    assert fit_text("Order #7: Mug ×2, Poster, Stickers ×3, Pin", 27) == "Order #7: Mug ×2, Poster…"


def test_one_long_word_is_cut_inside_rather_than_to_nothing():
    assert fit_text("A Supercalifragilisticexpialidocious-mug", 20) == "A Supercalifragilis…"


def test_half_a_flag_is_never_left():
    cut = fit_text("🇩🇪" * 10, 15)  # 7 units of flags fit: 3.5 flags
    assert cut == "🇩🇪" * 3 + "…"


def test_a_joiner_is_not_left_dangling_before_the_ellipsis():
    family = "👨\u200d👩\u200d👧"
    cut = fit_text("x" * 26 + family + family, 32)
    assert "\u200d…" not in cut
    assert utf16_len(cut) <= 32


def test_line_breaks_and_runs_of_spaces_become_one_space():
    assert fit_text("Fly  agaric\nmug\t", 32) == "Fly agaric mug"


@pytest.mark.parametrize("limit", [1, 2, 5, 32, 255])
@pytest.mark.parametrize(
    "text",
    ["Мухомор " * 50, "🍄 mug " * 60, "x" * 300, "🇩🇪🇫🇷" * 80, "a, b, c, " * 40],
)
def test_every_cut_fits_its_limit(text, limit):
    cut = fit_text(text, limit)
    assert 1 <= utf16_len(cut) <= limit


def test_a_limit_below_one_is_a_programming_error():
    with pytest.raises(ValueError, match="no room"):
        fit_text("a", 0)


# ---- titles and descriptions ---------------------------------------------------------------


def line(
    product_id: str = "mug",
    quantity: int = 1,
    *,
    title: dict[str, str] | None = None,
    price: int = 1250,
    currency: str = "EUR",
    kind: str = "physical",
) -> OrderLine:
    return OrderLine(
        product_id,
        title or {"en": product_id.title(), "ru": product_id.upper()},
        price,
        quantity,
        currency,
        kind,
    )


MUG_LINE = line("mug", 2, title={"en": "Fly agaric mug", "ru": "Кружка «Мухомор»"})
POSTER_LINE = line("poster", 1, title={"en": "Amanita poster", "ru": "Постер"}, price=900)


def test_the_title_names_the_first_line_and_counts_the_rest():
    assert invoice_title("#7", [MUG_LINE, POSTER_LINE], "en", InvoiceWords()) == (
        "Fly agaric mug ×2 and 1 more"
    )


def test_one_unit_of_one_product_is_just_its_name():
    assert invoice_title("#7", [POSTER_LINE], "en", InvoiceWords()) == "Amanita poster"


def test_the_title_is_in_the_shoppers_language():
    assert invoice_title("#7", [MUG_LINE, POSTER_LINE], "ru", RU) == "Кружка «Мухомор» ×2 и ещё 1"


def test_a_long_name_is_cut_and_the_quantity_and_count_still_show():
    long = line("mug", 3, title={"en": "Fly agaric mug with a hand painted golden rim"})
    title = invoice_title("#7", [long, POSTER_LINE, POSTER_LINE], "en", InvoiceWords())
    assert title.endswith("… ×3 and 2 more")
    assert utf16_len(title) <= MAX_TITLE


@pytest.mark.parametrize(
    "name",
    ["Кружка с мухомором и золотым ободком ручной работы", "🍄" * 30, "Mug " + "🇩🇪" * 20],
)
def test_titles_in_any_script_fit_32(name):
    title = invoice_title("#7", [line("mug", 12, title={"en": name}), POSTER_LINE], "en", RU)
    assert 1 <= utf16_len(title) <= MAX_TITLE
    assert title.endswith(" ×12 и ещё 1")


def test_a_translation_too_long_for_the_suffix_still_gives_a_title_that_fits():
    words = InvoiceWords(more="and another {count} products in this order of yours")
    title = invoice_title("#7", [MUG_LINE, POSTER_LINE], "en", words)
    assert utf16_len(title) <= MAX_TITLE
    assert title.startswith("Fly agaric mug ×2")


def test_a_blank_product_title_falls_back_to_the_order_number():
    assert invoice_title("#7", [line(title={"en": "   "})], "ru", RU) == "Заказ #7"


def test_the_description_lists_the_lines_after_the_order_number():
    assert invoice_description("#7", [MUG_LINE, POSTER_LINE], "en", InvoiceWords()) == (
        "Order #7: Fly agaric mug ×2, Amanita poster"
    )
    assert invoice_description("#7", [MUG_LINE, POSTER_LINE], "ru", RU) == (
        "Заказ #7: Кружка «Мухомор» ×2, Постер"
    )


def test_a_long_description_is_cut_at_255_on_a_word_boundary():
    lines = [line(f"p{n}", 2, title={"en": f"Мухомор {n} 🍄"}) for n in range(20)]
    text = invoice_description("#123", lines, "en", InvoiceWords())
    assert utf16_len(text) <= MAX_DESCRIPTION
    assert text.endswith("…")
    assert not text[:-1].endswith((",", " "))
    assert text.startswith("Order #123: Мухомор 0 🍄 ×2, Мухомор 1 🍄 ×2")


def test_words_come_through_the_shoppers_gettext():
    russian = {MSG_ORDER: "Заказ {number}", MSG_MORE: "и ещё {count}"}
    words = InvoiceWords.translated(lambda msgid: russian.get(msgid, msgid))
    assert words == RU


def test_a_translation_with_a_broken_placeholder_falls_back_to_english():
    broken = {MSG_ORDER: "Заказ {номер}", MSG_MORE: "и ещё {count"}
    words = InvoiceWords.translated(lambda msgid: broken.get(msgid, msgid))
    assert words == InvoiceWords()


# ---- the payload ---------------------------------------------------------------------------


def test_a_payload_names_the_order_and_its_nonce():
    payload = make_payload(123, NONCE)
    assert payload == f"o1.123.{NONCE}"
    assert parse_payload(payload) == PayloadRef(123, NONCE)


def test_the_largest_order_id_gives_a_payload_far_inside_128_bytes():
    payload = make_payload(2**63 - 1, NONCE)
    assert len(payload.encode()) == len(payload) <= MAX_PAYLOAD_BYTES
    assert parse_payload(payload) == PayloadRef(2**63 - 1, NONCE)


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "",
        "123",
        f"o2.123.{NONCE}",  # another version of the format
        f"O1.123.{NONCE}",
        f"o1.0.{NONCE}",
        f"o1.0123.{NONCE}",  # a leading zero: two spellings of one id
        f"o1.-1.{NONCE}",
        f"o1.9223372036854775808.{NONCE}",  # 2**63: beyond BIGINT
        f"o1.{'9' * 20}.{NONCE}",
        "o1.123.",
        "o1.123.short",
        f"o1.123.{NONCE}A",
        f"o1.123.{NONCE[:-1]}=",
        f"o1.123.{NONCE}.extra",
        f"o1.123.{NONCE}\n",
        f" o1.123.{NONCE}",
        f"o1.١٢٣.{NONCE}",  # Arabic-Indic digits are digits to int(), not to us
        f"o1.123.{NONCE[:-1]}Ж",  # Cyrillic: 17 bytes, still 16 characters
        "Ж" * 64,  # 64 characters but 128 bytes: not ours either way
        "Ж" * 65,  # 130 bytes: over Telegram's 128
        "o" * 129,
        '{"order": 123}',
    ],
)
def test_anything_but_one_of_our_payloads_is_refused(payload):
    assert parse_payload(payload) is None


@pytest.mark.parametrize(
    ("order_id", "nonce"), [(0, NONCE), (-5, NONCE), (2**63, NONCE), (1, "bad"), (True, NONCE)]
)
def test_a_payload_is_not_made_from_bad_parts(order_id, nonce):
    with pytest.raises(ValueError, match=r"order id|nonce"):
        make_payload(order_id, nonce)


# ---- checkout limits and the invoice ---------------------------------------------------------


def stars_part(price: int, quantity: int = 1) -> CartPart | None:
    catalog = Catalog(Product("stickers", price=price, currency="XTR", kind="digital", stock=None))
    return price_cart(Cart.from_rows([("stickers", quantity)]), catalog).stars_part


def test_nothing_to_pay_is_refused_at_checkout():
    assert checkout_refusal(None) is CheckoutRefusal.NOTHING_TO_PAY
    sold_out = price_cart(Cart.from_rows([("mug", 1)]), Catalog(Product("mug", stock=0)))
    assert sold_out.parts == ()
    assert checkout_refusal(sold_out.part("EUR")) is CheckoutRefusal.NOTHING_TO_PAY


def test_a_free_part_cannot_be_invoiced():
    assert checkout_refusal(stars_part(0)) is CheckoutRefusal.FREE


@pytest.mark.parametrize(
    ("price", "quantity", "refusal"),
    [
        (1, 1, None),
        (MAX_STARS_PER_INVOICE, 1, None),
        (MAX_STARS_PER_INVOICE // 2, 2, None),
        (MAX_STARS_PER_INVOICE + 1, 1, CheckoutRefusal.TOO_LARGE),
        (5001, 2, CheckoutRefusal.TOO_LARGE),
    ],
)
def test_a_stars_invoice_holds_1_to_10000_stars(price, quantity, refusal):
    assert checkout_refusal(stars_part(price, quantity)) is refusal


def test_a_fiat_total_may_not_pass_telegrams_amount_limit():
    def part(price: int) -> CartPart | None:
        catalog = Catalog(Product("mug", price=price))
        return price_cart(Cart.from_rows([("mug", 1)]), catalog).part("EUR")

    assert checkout_refusal(part(MAX_AMOUNT)) is None
    assert checkout_refusal(part(MAX_AMOUNT + 1)) is CheckoutRefusal.TOO_LARGE


def order_of(
    *lines: OrderLine,
    status: Status = Status.AWAITING_PAYMENT,
    order_id: int = 7,
    paid_charge_id: str | None = None,
) -> Order:
    return Order(
        id=order_id,
        user_id=42,
        status=status,
        lines=tuple(lines),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=15),
        nonce=NONCE,
        paid_charge_id=paid_charge_id,
    )


STARS_ORDER = order_of(
    line(
        "stickers",
        3,
        title={"en": "Sticker pack"},
        price=25,
        currency="XTR",
        kind="digital",
    ),
    line("wallpaper", 1, title={"en": "Wallpaper"}, price=10, currency="XTR", kind="digital"),
)
FIAT_ORDER = order_of(MUG_LINE, POSTER_LINE)


def test_a_stars_invoice_has_one_price_no_provider_and_no_shipping():
    invoice = build_invoice(STARS_ORDER, language="en")
    assert invoice.currency == "XTR"
    assert invoice.prices == (LabeledPrice("Sticker pack ×3 and 1 more", 85),)
    assert invoice.total == STARS_ORDER.total == 85
    assert invoice.provider_token is None
    assert (invoice.need_shipping_address, invoice.is_flexible) == (False, False)
    assert (invoice.need_name, invoice.need_phone_number) == (False, False)
    assert invoice.title == "Sticker pack ×3 and 1 more"
    assert invoice.description == "Order #7: Sticker pack ×3, Wallpaper"
    assert parse_payload(invoice.payload) == PayloadRef(7, NONCE)


def test_a_stars_invoice_ignores_contact_questions():
    invoice = build_invoice(STARS_ORDER, language="en", need_name=True, need_phone_number=True)
    assert (invoice.need_name, invoice.need_phone_number) == (False, False)


def test_a_stars_invoice_refuses_a_provider_token():
    with pytest.raises(ValueError, match="no provider token"):
        build_invoice(STARS_ORDER, language="en", provider_token="284685063:TEST:abc")


def test_a_fiat_invoice_has_one_price_per_line_and_asks_where_to_ship():
    invoice = build_invoice(
        FIAT_ORDER, language="ru", words=RU, provider_token="284685063:TEST:abc", need_name=True
    )
    assert invoice.prices == (
        LabeledPrice("Кружка «Мухомор» ×2", 2500),
        LabeledPrice("Постер", 900),
    )
    assert (invoice.currency, invoice.total, invoice.provider_token) == (
        "EUR",
        3400,
        "284685063:TEST:abc",
    )
    assert (invoice.need_shipping_address, invoice.is_flexible, invoice.need_name) == (
        True,
        True,
        True,
    )
    assert invoice.title == "Кружка «Мухомор» ×2 и ещё 1"
    assert invoice.description == "Заказ #7: Кружка «Мухомор» ×2, Постер"


def test_digital_goods_in_a_fiat_currency_need_no_address():
    order = order_of(line("ebook", 1, kind="digital"))
    invoice = build_invoice(order, language="en", provider_token="t")
    assert (invoice.need_shipping_address, invoice.is_flexible) == (False, False)


def test_a_price_label_is_cut_like_a_title():
    order = order_of(line("mug", 2, title={"en": "Мухомор " * 10}))
    (price,) = build_invoice(order, language="en", provider_token="t").prices
    assert utf16_len(price.label) <= MAX_TITLE
    assert price.label.endswith("…")


def test_a_fiat_invoice_needs_a_provider_token():
    with pytest.raises(ValueError, match="needs a provider token"):
        build_invoice(FIAT_ORDER, language="en")


def test_an_order_that_cannot_be_invoiced_is_refused():
    free = order_of(line("gift", 1, price=0, currency="XTR", kind="digital"))
    with pytest.raises(ValueError, match="free"):
        build_invoice(free, language="en")
    huge = order_of(line("x", 1, price=MAX_STARS_PER_INVOICE + 1, currency="XTR", kind="digital"))
    with pytest.raises(ValueError, match="too_large"):
        build_invoice(huge, language="en")


def test_the_invoice_photo_is_the_first_image_telegram_can_fetch():
    urls = [
        "{static}/img/a.jpg",
        "AgACAgIAAxkBAAIB",
        "https://cdn.example/mug.jpg",
        "http://x/y.jpg",
    ]
    assert invoice_photo(urls) == "https://cdn.example/mug.jpg"
    assert invoice_photo(["{static}/a.jpg"]) is None
    assert invoice_photo([]) is None


# ---- pre-checkout ---------------------------------------------------------------------------


def head(
    status: Status = Status.AWAITING_PAYMENT,
    *,
    currency: str = "XTR",
    total: int = 85,
    charge: str | None = None,
    kind: str = "digital",
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
        paid_charge_id=charge,
    )


REF = PayloadRef(7, NONCE)


def pre_checkout(
    ref: PayloadRef | None = REF,
    order: OrderHead | None = None,
    *,
    currency: str = "XTR",
    total: int = 85,
    now: datetime = NOW,
    held: bool = True,
) -> Refusal | None:
    order = head() if order is None else order
    return decide_pre_checkout(
        ref, order, currency=currency, total_amount=total, now=now, reservation_held=held
    )


def test_an_order_awaiting_payment_with_the_right_amount_is_ok():
    assert pre_checkout() is None


@pytest.mark.parametrize(
    ("ref", "order"),
    [
        (None, head()),
        (REF, None),
        (PayloadRef(7, OTHER_NONCE), head()),  # a payload of another database's order #7
        (PayloadRef(8, NONCE), head()),
    ],
    ids=["unparsable payload", "no such order", "wrong nonce", "another id"],
)
def test_an_invoice_that_is_not_this_orders_is_unknown(ref, order):
    result = decide_pre_checkout(ref, order, currency="XTR", total_amount=85, now=NOW)
    assert result is Refusal.UNKNOWN_ORDER


@pytest.mark.parametrize(
    ("status", "refusal"),
    [
        *[(status, Refusal.PAID_ALREADY) for status in sorted(PAID_STATUSES)],
        (Status.EXPIRED, Refusal.EXPIRED),
        (Status.CANCELLED, Refusal.CANCELLED),
        (Status.REFUNDED, Refusal.REFUNDED),
        (Status.AWAITING_PAYMENT, None),
    ],
)
def test_each_status_gets_its_answer(status, refusal):
    assert pre_checkout(order=head(status)) is refusal


def test_an_order_past_its_deadline_is_refused_before_the_sweep_marks_it():
    deadline = NOW + timedelta(minutes=15)
    assert pre_checkout(now=deadline - timedelta(seconds=1)) is None
    assert pre_checkout(now=deadline) is Refusal.EXPIRED


@pytest.mark.parametrize(("currency", "total"), [("XTR", 84), ("XTR", 86), ("EUR", 85)])
def test_a_different_amount_or_currency_is_refused(currency, total):
    assert pre_checkout(currency=currency, total=total) is Refusal.AMOUNT_CHANGED


def test_an_order_whose_units_are_no_longer_held_is_sold_out():
    assert pre_checkout(held=False) is Refusal.SOLD_OUT


def test_a_paid_order_says_paid_even_if_the_amount_differs():
    assert pre_checkout(order=head(Status.PAID), total=1) is Refusal.PAID_ALREADY


def test_every_refusal_has_a_text_for_the_shopper():
    assert set(REFUSAL_TEXTS) == set(Refusal)
    assert all(text.endswith(".") for text in REFUSAL_TEXTS.values())


# ---- successful_payment ------------------------------------------------------------------------


def charge(
    charge_id: str = "ch1",
    *,
    currency: str = "XTR",
    total: int = 85,
    payload: str | None = None,
    user_id: int | None = 42,
) -> Charge:
    payload = make_payload(7, NONCE) if payload is None else payload
    return Charge(charge_id, currency, total, payload, user_id)


def decide(c: Charge, order: OrderHead | None, *, known: bool = False) -> PaymentDecision:
    return decide_payment(c, parse_payload(c.payload), order, known=known)


def test_a_new_charge_marks_the_order_paid_with_no_stock_change():
    decision = decide(charge(), head())
    assert (decision.action, decision.reason, decision.order_id, decision.expected) == (
        PaymentAction.MARK_PAID,
        None,
        7,
        Status.AWAITING_PAYMENT,
    )
    assert decision.rule is not None
    assert decision.rule.stock is StockEffect.NONE


def test_a_charge_after_the_deadline_but_before_the_sweep_still_pays():
    late = replace(head(), expires_at=NOW - timedelta(minutes=1))
    assert decide(charge(), late).action is PaymentAction.MARK_PAID


def test_the_same_charge_delivered_twice_does_nothing():
    assert decide(charge(), head(), known=True).action is PaymentAction.NOTHING
    paid = head(Status.PAID, charge="ch1")
    decision = decide(charge("ch1"), paid)
    assert (decision.action, decision.reason) == (PaymentAction.NOTHING, None)


@pytest.mark.parametrize("status", sorted(PAID_STATUSES))
def test_a_second_stars_charge_of_a_paid_order_is_refunded(status):
    decision = decide(charge("ch2"), head(status, charge="ch1"))
    assert (decision.action, decision.reason, decision.order_id) == (
        PaymentAction.REFUND,
        Refusal.PAID_ALREADY,
        7,
    )
    assert decision.rule is None


def test_a_second_fiat_charge_of_a_paid_order_is_flagged_for_the_admins():
    paid = head(Status.PAID, currency="EUR", total=3400, charge="ch1", kind="physical")
    decision = decide(charge("ch2", currency="EUR", total=3400), paid)
    assert (decision.action, decision.reason) == (PaymentAction.REPORT, Refusal.PAID_ALREADY)


@pytest.mark.parametrize(
    ("status", "reason"),
    [(Status.CANCELLED, Refusal.CANCELLED), (Status.REFUNDED, Refusal.REFUNDED)],
)
def test_a_charge_of_a_dead_order_is_undone(status, reason):
    decision = decide(charge(), head(status))
    assert (decision.action, decision.reason) == (PaymentAction.REFUND, reason)


def test_a_charge_of_an_expired_order_takes_its_stock_again():
    decision = decide(charge(), head(Status.EXPIRED))
    assert (decision.action, decision.expected) == (PaymentAction.REVIVE, Status.EXPIRED)
    assert decision.rule is not None
    assert decision.rule.stock is StockEffect.RESERVE


def test_when_the_stock_is_gone_a_revived_charge_is_refunded_as_sold_out():
    assert revive_failed(charge(), 7).action is PaymentAction.REFUND
    assert revive_failed(charge(), 7).reason is Refusal.SOLD_OUT
    fiat = revive_failed(charge(currency="EUR"), 7)
    assert (fiat.action, fiat.reason, fiat.order_id) == (PaymentAction.REPORT, Refusal.SOLD_OUT, 7)


@pytest.mark.parametrize("payload", ["", "nonsense", f"o1.7.{OTHER_NONCE}", f"o1.8.{NONCE}"])
def test_a_charge_matching_no_order_is_reported_not_refunded_blindly(payload):
    decision = decide(charge(payload=payload), head())
    assert (decision.action, decision.reason) == (PaymentAction.REPORT, Refusal.UNKNOWN_ORDER)


def test_a_charge_of_the_wrong_amount_is_undone():
    decision = decide(charge(total=1), head())
    assert (decision.action, decision.reason) == (PaymentAction.REFUND, Refusal.AMOUNT_CHANGED)


def test_a_stars_charge_without_its_payer_cannot_be_refunded_and_is_reported():
    decision = decide(charge("ch2", user_id=None), head(Status.PAID, charge="ch1"))
    assert decision.action is PaymentAction.REPORT


# ---- reconciliation ------------------------------------------------------------------------------


def star(
    charge_id: str,
    *,
    minutes: int = 0,
    order_id: int = 7,
    nonce: str = NONCE,
    amount: int = 85,
    payload: str | None = None,
) -> StarCharge:
    return StarCharge(
        id=charge_id,
        amount=amount,
        date=NOW + timedelta(minutes=minutes),
        user_id=42,
        payload=make_payload(order_id, nonce) if payload is None else payload,
    )


def ids(
    pairs: tuple[tuple[StarCharge, PaymentDecision], ...],
) -> list[tuple[str, int | None, Refusal | None]]:
    return [(c.id, d.order_id, d.reason) for c, d in pairs]


def test_a_lost_successful_payment_is_found_and_its_order_marked_paid():
    result = reconcile([star("ch1")], {7: head()}, known_charge_ids=set())
    assert ids(result.mark_paid) == [("ch1", 7, None)]
    assert (result.refund, result.unmatched, result.revive) == ((), (), ())


def test_charges_already_recorded_need_nothing():
    result = reconcile(
        [star("ch1")], {7: head(Status.PAID, charge="ch1")}, known_charge_ids={"ch1"}
    )
    assert [d.action for _, d in result.decisions] == [PaymentAction.NOTHING]
    assert (result.mark_paid, result.refund, result.unmatched) == ((), (), ())


def test_a_double_charge_pays_once_and_the_later_charge_is_refunded():
    # Given newest first, as getStarTransactions pages may come: the older charge pays.
    result = reconcile(
        [star("ch2", minutes=2), star("ch1", minutes=1)], {7: head()}, known_charge_ids=set()
    )
    assert ids(result.mark_paid) == [("ch1", 7, None)]
    assert ids(result.refund) == [("ch2", 7, Refusal.PAID_ALREADY)]


def test_a_new_charge_of_an_order_paid_by_a_recorded_one_is_refunded():
    result = reconcile(
        [star("ch1"), star("ch2", minutes=1)],
        {7: head(Status.PAID, charge="ch1")},
        known_charge_ids={"ch1"},
    )
    assert ids(result.refund) == [("ch2", 7, Refusal.PAID_ALREADY)]
    assert result.mark_paid == ()


@pytest.mark.parametrize(
    "payload",
    ["", "something-else", f"o1.7.{OTHER_NONCE}", f"o1.99.{NONCE}"],
    ids=["no payload", "not ours", "wrong nonce", "order not found"],
)
def test_a_charge_of_an_unknown_payload_is_reported_to_the_admins(payload):
    result = reconcile([star("ch9", payload=payload)], {7: head()}, known_charge_ids=set())
    assert ids(result.unmatched) == [("ch9", None, Refusal.UNKNOWN_ORDER)]
    assert (result.mark_paid, result.refund) == ((), ())


def test_a_charge_without_any_payload_is_reported_too():
    missing = StarCharge("ch9", 85, NOW, 42, None)
    assert ids(reconcile([missing], {}, known_charge_ids=()).unmatched) == [
        ("ch9", None, Refusal.UNKNOWN_ORDER)
    ]


def test_a_lost_payment_of_an_order_the_sweep_expired_revives_it():
    result = reconcile([star("ch1")], {7: head(Status.EXPIRED)}, known_charge_ids=set())
    assert ids(result.revive) == [("ch1", 7, None)]


def test_a_charge_of_a_cancelled_order_is_refunded():
    result = reconcile([star("ch1")], {7: head(Status.CANCELLED)}, known_charge_ids=set())
    assert ids(result.refund) == [("ch1", 7, Refusal.CANCELLED)]


def test_a_charge_already_refunded_needs_nothing_more():
    result = reconcile(
        [star("ch2")],
        {7: head(Status.PAID, charge="ch1")},
        known_charge_ids=(),
        refunded_ids={"ch2"},
    )
    assert [d.action for _, d in result.decisions] == [PaymentAction.NOTHING]


def test_one_pass_sorts_out_a_mixed_history():
    orders = {
        7: head(),
        8: replace(head(), id=8),
        9: replace(head(Status.PAID, charge="a"), id=9),
    }
    charges = [
        star("a", order_id=9),  # recorded: nothing
        star("b", order_id=7, minutes=1),  # lost successful_payment: mark paid
        star("c", order_id=7, minutes=2),  # double charge of 7: refund
        star("d", payload="gift", minutes=3),  # not ours: report
        star("e", order_id=8, amount=1, minutes=4),  # wrong amount: refund
        star("f", order_id=8, minutes=5),  # then the right one: mark paid
    ]
    result = reconcile(charges, orders, known_charge_ids={"a"})
    assert ids(result.mark_paid) == [("b", 7, None), ("f", 8, None)]
    assert ids(result.refund) == [("c", 7, Refusal.PAID_ALREADY), ("e", 8, Refusal.AMOUNT_CHANGED)]
    assert ids(result.unmatched) == [("d", None, Refusal.UNKNOWN_ORDER)]
    assert len(result.decisions) == len(charges)
    assert orders[7].status is Status.AWAITING_PAYMENT  # the caller's heads are not changed


def test_the_orders_to_load_are_those_the_payloads_name():
    charges = [
        star("a", order_id=7),
        star("b", order_id=9),
        star("c", payload="x"),
        star("d", order_id=7),
    ]
    assert orders_to_load(charges) == {7, 9}


# ---- refunds ------------------------------------------------------------------------------------


def test_a_refund_of_the_paying_charge_marks_the_order_refunded_and_returns_stock():
    rule = decide_refunded_payment(head(Status.PAID, charge="ch1"), "ch1")
    assert rule is not None
    assert rule.stock is StockEffect.RETURN


def test_a_refund_of_a_shipped_parcel_returns_no_stock():
    rule = decide_refunded_payment(head(Status.SHIPPED, charge="ch1", kind="physical"), "ch1")
    assert rule is not None
    assert rule.stock is StockEffect.NONE


@pytest.mark.parametrize(
    ("order", "charge_id"),
    [
        (None, "ch1"),
        (head(Status.REFUNDED, charge="ch1"), "ch1"),
        (head(Status.PAID, charge="ch1"), "ch2"),  # the refund of a duplicate charge
        (head(Status.AWAITING_PAYMENT), "ch1"),
    ],
    ids=["unknown order", "refunded already", "duplicate charge", "never paid"],
)
def test_a_refund_that_changes_nothing(order, charge_id):
    assert decide_refunded_payment(order, charge_id) is None


def test_an_admin_refund_of_stars_goes_through_the_bot_api():
    refund = admin_refund(head(Status.FULFILLED, charge="ch1"))
    assert (refund.via_stars_api, refund.user_id, refund.charge_id) == (True, 42, "ch1")
    assert refund.rule.stock is StockEffect.RETURN


def test_an_admin_refund_goes_back_to_whoever_paid_a_forwarded_invoice():
    # Telegram lets anyone an invoice is forwarded to pay it; refundStarPayment must name
    # that payer (the buyer's id is refused with CHARGE_NOT_FOUND).
    paid = replace(head(Status.PAID, charge="ch1"), payer_id=77)
    refund = admin_refund(paid)
    assert (refund.user_id, refund.charge_id) == (77, "ch1")
    assert admin_refund(head(Status.PAID, charge="ch1")).user_id == 42  # paid by the buyer


def test_every_refusal_and_invoice_word_is_translated(tmp_path):
    # The handler passes these through the shopper's gettext: each must be in the .po files
    # (extracted through the N_ mark) or a Russian shopper reads English.
    i18n = build_i18n(tmp_path, "en")
    for text in (*REFUSAL_TEXTS.values(), MSG_ORDER, MSG_MORE):
        assert i18n.gettext(text, locale="ru") != text, text


def test_an_admin_refund_of_a_card_payment_happens_at_the_provider():
    paid = head(Status.PACKED, currency="EUR", total=3400, charge="ch1", kind="physical")
    refund = admin_refund(paid)
    assert refund.via_stars_api is False
    assert refund.rule.stock is StockEffect.RETURN


def test_an_unpaid_order_cannot_be_refunded():
    with pytest.raises(TransitionError):
        admin_refund(head(Status.AWAITING_PAYMENT))


def test_a_new_orders_random_nonce_makes_a_payload_that_parses_back():
    (part,) = price_cart(Cart.from_rows([("stickers", 2)]), Catalog(STICKERS)).parts
    draft = new_order(42, part, now=NOW)
    payload = make_payload(99, draft.nonce)
    assert parse_payload(payload) == PayloadRef(99, draft.nonce)
    assert len(payload.encode()) <= MAX_PAYLOAD_BYTES
