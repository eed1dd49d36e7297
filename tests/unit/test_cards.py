from __future__ import annotations

import html

import pytest

from bot.media.cards import (
    CAPTION_LIMIT,
    CardPlan,
    CardText,
    SendAlbum,
    SendPhoto,
    SendText,
    album_sizes,
    card_text,
    plan_card,
    visible_length,
)

TEXT = CardText(caption="<b>Mug</b>\n12.50 EUR")


def _visible(html_text: str) -> str:
    """What a shopper sees: tags dropped, entities decoded (the demo captions use only <b>)."""
    return html.unescape(html_text.replace("<b>", "").replace("</b>", ""))


@pytest.mark.parametrize(
    ("count", "sizes"),
    [(0, []), (1, [1]), (2, [2]), (10, [10]), (11, [6, 5]), (20, [10, 10]), (25, [9, 8, 8])],
)
def test_albums_hold_two_to_ten_photos_and_never_a_lone_one(count, sizes):
    assert album_sizes(count) == sizes
    assert sum(sizes) == count


@pytest.mark.parametrize("count", range(11, 31))
def test_every_big_card_splits_into_valid_albums(count):
    assert all(2 <= size <= 10 for size in album_sizes(count))


def test_card_without_images_is_one_text_message_with_buttons():
    plan: CardPlan[str] = plan_card([], TEXT, buttons_text="-")
    assert plan.steps == [SendText(TEXT.caption, with_buttons=True)]


def test_card_whose_images_all_failed_says_so_in_the_text():
    plan: CardPlan[str] = plan_card([], TEXT, buttons_text="-", failure_note="⚠️ images <failed>")
    [step] = plan.steps
    assert isinstance(step, SendText)
    assert step.text.startswith(TEXT.caption)
    assert step.text.endswith("⚠️ images &lt;failed&gt;")


def test_one_image_is_a_photo_carrying_caption_and_buttons():
    plan = plan_card(["a"], TEXT, buttons_text="-")
    assert plan.steps == [SendPhoto("a", TEXT.caption, with_buttons=True)]


def test_two_images_are_an_album_with_the_caption_then_a_buttons_message():
    plan = plan_card(["a", "b"], TEXT, buttons_text="Choose")
    assert plan.steps == [SendAlbum(["a", "b"], TEXT.caption), SendText("Choose")]


def test_twenty_five_images_are_three_albums_captioned_once_in_order():
    items = [str(n) for n in range(25)]
    plan = plan_card(items, TEXT, buttons_text="Choose")
    albums = [s for s in plan.steps if isinstance(s, SendAlbum)]
    assert [len(a.items) for a in albums] == [9, 8, 8]
    assert [i for a in albums for i in a.items] == items
    assert [a.caption for a in albums] == [TEXT.caption, None, None]
    assert plan.steps[-1] == SendText("Choose")


def test_caption_is_escaped_so_catalog_text_cannot_inject_markup():
    text = card_text("Mug <i>", "Fish & <b>chips</b>", "1.00 EUR")
    assert "&lt;i&gt;" in text.caption
    assert "Fish &amp; &lt;b&gt;chips&lt;/b&gt;" in text.caption
    assert text.overflow == ""


def test_long_description_is_cut_at_a_word_and_the_rest_moves_to_the_buttons_message():
    words = " ".join(f"word{n}" for n in range(400))
    text = card_text("Gallery", words, "120.00 EUR")
    assert visible_length(_visible(text.caption)) <= CAPTION_LIMIT
    kept = _visible(text.caption).split("\n\n", 1)[1].removesuffix("…")
    rest = _visible(text.overflow).removeprefix("…")
    assert f"{kept} {rest}" == words
    plan = plan_card(["a", "b"], text, buttons_text="Choose")
    assert plan.steps[-1] == SendText(text.overflow)


def test_cut_never_splits_an_escaped_entity():
    description = "&" * 2000
    text = card_text("T", description, "1 EUR")
    assert visible_length(_visible(text.caption)) <= CAPTION_LIMIT
    assert text.caption.count("&amp;") + text.overflow.count("&amp;") == 2000
    assert "&amp" not in text.caption.replace("&amp;", "")


def test_caption_limit_counts_emoji_as_telegram_does():
    description = "🍄" * 600  # 1200 UTF-16 units although 600 code points
    text = card_text("T", description, "1 EUR")
    assert visible_length(_visible(text.caption)) <= CAPTION_LIMIT
    assert text.overflow


def test_one_image_with_overflow_puts_buttons_under_the_rest_of_the_text():
    text = CardText(caption="cap", overflow="…rest")
    plan = plan_card(["a"], text, buttons_text="Choose")
    assert plan.steps == [SendPhoto("a", "cap", with_buttons=False), SendText("…rest")]
