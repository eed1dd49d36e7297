from __future__ import annotations

import pytest

from bot.shop.paging import paginate


def test_seven_products_make_two_pages_of_five_and_two():
    first = paginate(list(range(7)), 0, size=5)
    assert (first.items, first.number, first.count) == ([0, 1, 2, 3, 4], 0, 2)
    assert (first.has_prev, first.has_next) == (False, True)
    second = paginate(list(range(7)), 1, size=5)
    assert (second.items, second.has_prev, second.has_next) == ([5, 6], True, False)


@pytest.mark.parametrize(("asked", "shown"), [(-3, 0), (9, 1)])
def test_a_stale_page_number_shows_the_nearest_page(asked, shown):
    assert paginate(list(range(7)), asked, size=5).number == shown


def test_an_empty_category_still_has_one_page():
    page = paginate(list[int](), 0)
    assert (page.items, page.count, page.has_prev, page.has_next) == ([], 1, False, False)
