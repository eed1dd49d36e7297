"""Draw the test catalog's pictures: ``python tests/catalogs/make_images.py``.

Every ``{static}images/NAME.png|jpg`` URL in card_shapes.json gets a small, real image file
(an Amanita mushroom on a coloured background, with its name and number printed on it, so a
test or a screenshot shows which picture went where). This was the demo shop's catalog until
the shop window (catalog/demo.json) got pictures that look like the products; the tests keep
it for its card shapes: 0, 1, 2, 10, 11 and 25 images, a long caption, HTML-looking text.
The output is committed; rerun after adding products.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

HERE = Path(__file__).parent
SIZE = 320


def _colour(seed: str, salt: str) -> tuple[int, int, int]:
    digest = hashlib.sha256((seed + salt).encode()).digest()
    return (digest[0] // 2 + 96, digest[1] // 2 + 96, digest[2] // 2 + 96)


def draw(name: str, number: int) -> Image.Image:
    image = Image.new("RGB", (SIZE, SIZE), _colour(name, "bg"))
    pen = ImageDraw.Draw(image)
    # Stem, cap and the white spots of a fly agaric.
    pen.rounded_rectangle((135, 150, 185, 280), radius=18, fill=(245, 238, 220))
    pen.pieslice((50, 60, 270, 250), 180, 360, fill=(200, 30, 30))
    for x, y in ((95, 125), (150, 95), (205, 120), (125, 140), (180, 140)):
        pen.ellipse((x - 11, y - 9, x + 11, y + 9), fill=(255, 255, 255))
    font = ImageFont.load_default(size=40)
    pen.text((SIZE - 20, SIZE - 20), str(number), fill=(20, 20, 20), font=font, anchor="rs")
    pen.text((16, 14), name[:22], fill=(20, 20, 20), font=ImageFont.load_default(size=18))
    return image


def main() -> None:
    catalog = json.loads((HERE / "card_shapes.json").read_text(encoding="utf-8"))
    out = HERE / "images"
    out.mkdir(exist_ok=True)
    for product in catalog["products"]:
        for url in product["images"]:
            match = re.fullmatch(r"\{static\}images/((.+)-(\d+)\.(png|jpg))", url)
            if match is None:
                continue
            filename, name, number, ext = match.groups()
            image = draw(name, int(number))
            if ext == "jpg":
                image.save(out / filename, "JPEG", quality=70)
            else:
                image.quantize(colors=32).save(out / filename, "PNG", optimize=True)


if __name__ == "__main__":
    main()
