"""A generated ru+en catalog and queries for bench/search.py (seeded: the same every run).

Products read like a shop's: "Large ceramic mug Borvik" / "Большая керамическая кружка
Borvik", two or three sentences of description in each language built from the same word
pools, and a made-up brand from a pool of 3,000 (so the vocabulary grows with the catalog,
as a real one's does). Queries are what shoppers type: whole words, prefixes of 2 or more
letters (an inline query is asked again at each keystroke), two words, Russian and English,
a brand, and some that find nothing.
"""

from __future__ import annotations

import random
from typing import Any

from bot.shop.catalog import Catalog

NOUNS = [
    ("mug", "кружка"), ("cup", "чашка"), ("teapot", "чайник"), ("plate", "тарелка"),
    ("bowl", "миска"), ("poster", "постер"), ("print", "принт"), ("hoodie", "худи"),
    ("shirt", "рубашка"), ("socks", "носки"), ("scarf", "шарф"), ("hat", "шапка"),
    ("bag", "сумка"), ("notebook", "блокнот"), ("pencil", "карандаш"), ("candle", "свеча"),
    ("lamp", "лампа"), ("blanket", "плед"), ("pillow", "подушка"), ("sticker", "стикер"),
    ("book", "книга"), ("map", "карта"), ("jar", "банка"), ("spoon", "ложка"),
    ("knife", "нож"), ("board", "доска"), ("vase", "ваза"), ("frame", "рамка"),
    ("clock", "часы"), ("mirror", "зеркало"), ("basket", "корзина"), ("towel", "полотенце"),
]  # fmt: skip
ADJECTIVES = [
    ("large", "большая"), ("small", "маленькая"), ("red", "красная"), ("green", "зелёная"),
    ("white", "белая"), ("black", "чёрная"), ("forest", "лесная"), ("spotted", "пятнистая"),
    ("warm", "тёплая"), ("light", "лёгкая"), ("old", "старая"), ("new", "новая"),
    ("handmade", "ручная"), ("travel", "походная"), ("festive", "праздничная"),
    ("winter", "зимняя"), ("summer", "летняя"), ("wooden", "деревянная"),
]  # fmt: skip
MATERIALS = [
    ("ceramic", "керамическая"), ("enamel", "эмалированная"), ("linen", "льняная"),
    ("cotton", "хлопковая"), ("wool", "шерстяная"), ("glass", "стеклянная"),
    ("paper", "бумажная"), ("oak", "дубовая"), ("clay", "глиняная"), ("steel", "стальная"),
]  # fmt: skip
PHRASES = [
    ("Made by a small family workshop.", "Сделано в небольшой семейной мастерской."),
    ("Dishwasher and microwave safe.", "Можно мыть в посудомоечной машине."),
    ("A gift for a mushroom lover.", "Подарок для любителя грибов."),
    ("Printed with fly agaric spots.", "С принтом в пятнах мухомора."),
    ("Ships in a recycled box.", "Отправляем в переработанной коробке."),
    ("Limited edition of the autumn season.", "Ограниченная серия осеннего сезона."),
    ("Hand painted, every piece is unique.", "Расписано вручную, каждая вещь уникальна."),
    ("Soft, warm and durable.", "Мягкая, тёплая и прочная."),
    ("Fits a backpack for hiking trips.", "Помещается в рюкзак для походов."),
    ("Café style, easy to clean.", "В стиле кафе, легко мыть."),
]  # fmt: skip
MISSES = ["zzzzq", "ъъъ", "qwertyuiop", "нетакогослова", "xylophone", "🍄🍄", "!!!"]


def _brand(rng: random.Random) -> str:
    syllables = ["bor", "vik", "lan", "tes", "mor", "ka", "ri", "dun", "sel", "po", "nor", "ul"]
    return "".join(rng.choice(syllables) for _ in range(rng.randint(2, 3))).capitalize()


def generate(count: int, *, seed: int = 20) -> tuple[dict[str, Any], list[str]]:
    """A catalog of ``count`` products in 8 categories (as exchange's JSON rows) and the
    brands it uses."""
    rng = random.Random(seed)
    brands = sorted({_brand(rng) for _ in range(3000)})
    categories = [
        {"id": f"c{n}", "title": {"en": f"Category {n}", "ru": f"Категория {n}"}} for n in range(8)
    ]
    products = []
    for n in range(count):
        noun, adjective, material = rng.choice(NOUNS), rng.choice(ADJECTIVES), rng.choice(MATERIALS)
        brand = rng.choice(brands)
        phrases = rng.sample(PHRASES, rng.randint(2, 3))
        products.append(
            {
                "id": f"p{n}",
                "category": f"c{n % 8}",
                "title": {
                    "en": f"{adjective[0].capitalize()} {material[0]} {noun[0]} {brand}",
                    "ru": f"{adjective[1].capitalize()} {material[1]} {noun[1]} {brand}",
                },
                "description": {
                    "en": " ".join(p[0] for p in phrases) + f" Model {brand}-{n}.",
                    "ru": " ".join(p[1] for p in phrases) + f" Модель {brand}-{n}.",
                },
                "price": f"{rng.randint(100, 9000) / 100:.2f}",
                "currency": "EUR",
                # A public JPEG (never fetched by the benchmark): inline answers it by URL
                # after the file_id lookup every inline page makes.
                "images": [f"https://img.example/p{n}.jpg"],
                # Every tenth hidden: hidden products are indexed and filtered per query.
                "active": n % 10 != 9,
            }
        )
    return {"categories": categories, "products": products}, brands


def queries(count: int, brands: list[str], *, seed: int = 21) -> list[str]:
    """``count`` queries as shoppers type them (see the module's docstring)."""
    rng = random.Random(seed)
    pool_words = [w for pair in NOUNS + ADJECTIVES + MATERIALS for w in pair]
    out = []
    for _ in range(count):
        kind = rng.random()
        word = rng.choice(pool_words)
        if kind < 0.35:
            out.append(word)
        elif kind < 0.65:
            out.append(word[: rng.randint(2, max(2, len(word) - 1))])
        elif kind < 0.8:
            out.append(f"{word} {rng.choice(pool_words)[:4]}")
        elif kind < 0.93:
            out.append(rng.choice(brands).lower()[: rng.randint(3, 8)])
        else:
            out.append(rng.choice(MISSES))
    return out


def catalog_of(rows: dict[str, Any]) -> Catalog:
    return Catalog.validated(rows["categories"], _minor(rows["products"]), source="bench")


def _minor(products: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Prices in minor units, as Catalog.validated takes them (the files take major units)."""
    return [{**p, "price": round(float(p["price"]) * 100)} for p in products]
