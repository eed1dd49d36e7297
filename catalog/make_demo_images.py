"""Draw the demo shop's product photos: ``python catalog/make_demo_images.py``.

Every picture in demo.json is drawn here with Pillow shapes (no downloads, no fonts, no one's
artwork): a mug with a handle, shading and a fly-agaric print; a hoodie in ten named colours;
socks, a tee, framed posters on a wall; phones and a monitor for the digital goods. Each is
drawn at twice its size and scaled down (smooth edges), then saved as a JPEG 1280 px on its
long side, at the aspect ratios real product photos have (4:5, 3:4, 1:1, 16:9, 3:2, 2:3).
Nothing random is unseeded, so a rerun with the same Pillow writes the same files.

The output is committed (about 3 MB); rerun after changing a drawing or adding a photo:
``PICTURES`` below names every file demo.json uses, and a full run refuses to finish if the
two disagree (a run for some pictures only, ``make_demo_images.py NAME ...``, skips that check;
tests/unit/test_catalog.py checks it on every test run).
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageChops, ImageDraw, ImageFilter

HERE = Path(__file__).parent
OUT = HERE / "images"
SS = 2  # drawn at twice the size, then scaled down: Pillow draws shapes without anti-aliasing
QUALITY = 85
LONG_SIDE = 1280
RATIOS: dict[str, tuple[int, int]] = {
    "4:5": (1024, 1280),
    "3:4": (960, 1280),
    "1:1": (1280, 1280),
    "16:9": (1280, 720),
    "3:2": (1280, 853),
    "2:3": (853, 1280),
}

RGB = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]
Fill = RGB | tuple[int, int, int, int] | int  # RGB, RGBA, or a mask's grey level

RED: RGB = (196, 36, 30)
DARK_RED: RGB = (128, 18, 16)
CREAM: RGB = (250, 244, 228)
STEM: RGB = (238, 228, 206)
INK: RGB = (34, 30, 28)


# ---- drawing tools ---------------------------------------------------------------------------


def mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def darker(c: RGB, t: float) -> RGB:
    return mix(c, (0, 0, 0), t)


def lighter(c: RGB, t: float) -> RGB:
    return mix(c, (255, 255, 255), t)


class Pen:
    """ImageDraw in the coordinates of the final picture (the image is ``k`` times larger)."""

    def __init__(self, image: Image.Image, k: float = SS, origin: Point = (0, 0)) -> None:
        self.draw = ImageDraw.Draw(image)
        self.k = k
        self.ox, self.oy = origin

    def p(self, x: float, y: float) -> tuple[float, float]:
        return ((x - self.ox) * self.k, (y - self.oy) * self.k)

    def box(self, b: Box) -> tuple[float, float, float, float]:
        x0, y0 = self.p(b[0], b[1])
        x1, y1 = self.p(b[2], b[3])
        return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def ellipse(self, b: Box, fill: Fill) -> None:
        self.draw.ellipse(self.box(b), fill=fill)

    def circle(self, x: float, y: float, r: float, fill: Fill) -> None:
        self.ellipse((x - r, y - r, x + r, y + r), fill)

    def rect(self, b: Box, fill: Fill) -> None:
        self.draw.rectangle(self.box(b), fill=fill)

    def rrect(self, b: Box, r: float, fill: Fill) -> None:
        self.draw.rounded_rectangle(self.box(b), radius=r * self.k, fill=fill)

    def polygon(self, pts: Sequence[Point], fill: Fill) -> None:
        self.draw.polygon([self.p(x, y) for x, y in pts], fill=fill)

    def line(self, pts: Sequence[Point], fill: Fill, width: float) -> None:
        self.draw.line(
            [self.p(x, y) for x, y in pts],
            fill=fill,
            width=max(1, round(width * self.k)),
            joint="curve",
        )

    def arc(self, b: Box, start: float, end: float, fill: Fill, width: float) -> None:
        self.draw.arc(self.box(b), start, end, fill=fill, width=max(1, round(width * self.k)))

    def chord(self, b: Box, start: float, end: float, fill: Fill) -> None:
        self.draw.chord(self.box(b), start, end, fill=fill)

    def pie(self, b: Box, start: float, end: float, fill: Fill) -> None:
        self.draw.pieslice(self.box(b), start, end, fill=fill)

    def capsule(self, a: Point, b: Point, width: float, fill: Fill) -> None:
        """A thick line with round ends."""
        self.line([a, b], fill, width)
        self.circle(*a, width / 2, fill)
        self.circle(*b, width / 2, fill)


def curve(a: Point, control: Point, b: Point, steps: int = 24) -> list[Point]:
    """A quadratic Bezier curve as points."""
    out = []
    for n in range(steps + 1):
        t = n / steps
        out.append(
            (
                (1 - t) ** 2 * a[0] + 2 * (1 - t) * t * control[0] + t * t * b[0],
                (1 - t) ** 2 * a[1] + 2 * (1 - t) * t * control[1] + t * t * b[1],
            )
        )
    return out


def strip(length: int, stops: Sequence[tuple[float, RGB]]) -> list[RGB]:
    """``length`` colours interpolated between ``(position 0..1, colour)`` stops."""
    out = []
    for n in range(length):
        t = n / max(1, length - 1)
        for (p0, c0), (p1, c1) in itertools.pairwise(stops):
            if t <= p1 or (p1, c1) == stops[-1]:
                out.append(mix(c0, c1, 0 if p1 == p0 else min(1, max(0, (t - p0) / (p1 - p0)))))
                break
    return out


def gradient(
    size: tuple[int, int], stops: Sequence[tuple[float, RGB]], *, vertical: bool = True
) -> Image.Image:
    steps = 512
    line = Image.new("RGB", (1, steps) if vertical else (steps, 1))
    line.putdata(strip(steps, stops))
    return line.resize(size, Image.Resampling.BILINEAR)


def shade_profile(size: tuple[int, int], stops: Sequence[tuple[float, float]]) -> Image.Image:
    """A horizontal brightness profile (1.0 = unchanged) to multiply a round object with."""
    grey: list[tuple[float, RGB]] = [(p, (round(v * 255),) * 3) for p, v in stops]
    return gradient(size, grey, vertical=False)


def soft(mask: Image.Image, radius: float) -> Image.Image:
    """A Gaussian blur of ``radius`` (image pixels), cheap for large radii: blurred small."""
    if radius <= 0:
        return mask
    f = max(1, int(radius // 6))
    small = mask.resize((max(1, mask.width // f), max(1, mask.height // f)), Image.Resampling.BOX)
    small = small.filter(ImageFilter.GaussianBlur(radius / f))
    return small.resize(mask.size, Image.Resampling.BILINEAR)


def scaled(mask: Image.Image, factor: float) -> Image.Image:
    return mask.point(lambda v: round(v * factor))


class Canvas:
    """One photo: drawn at ``SS`` times its size into ``image``; ``w``/``h`` are final pixels."""

    def __init__(self, ratio: str, seed: str) -> None:
        self.w, self.h = RATIOS[ratio]
        self.image = Image.new("RGB", (self.w * SS, self.h * SS), (255, 255, 255))
        self.rng = random.Random(seed)
        self.pen = Pen(self.image)

    @property
    def size(self) -> tuple[int, int]:
        return self.image.size

    def mask(self) -> tuple[Image.Image, Pen]:
        m = Image.new("L", self.size, 0)
        return m, Pen(m)

    def fill(self, mask: Image.Image, paint: RGB | Image.Image) -> None:
        self.image.paste(paint, (0, 0), mask)

    def shadow(
        self,
        mask: Image.Image,
        offset: Point,
        blur: float,
        strength: float,
        *,
        colour: RGB = (20, 16, 12),
    ) -> None:
        """The shape in ``mask`` as a soft shadow, moved by ``offset``, ``blur`` px soft."""
        shifted = Image.new("L", self.size, 0)
        shifted.paste(mask, (round(offset[0] * SS), round(offset[1] * SS)))
        self.fill(scaled(soft(shifted, blur * SS), strength), colour)

    def glow(self, box: Box, colour: RGB, strength: float) -> None:
        """A soft elliptical light (or dark) patch."""
        m, pen = self.mask()
        pen.ellipse(box, 255)
        radius = min(box[2] - box[0], box[3] - box[1]) / 3
        self.fill(scaled(soft(m, radius * SS), strength), colour)

    def backdrop(
        self, top: RGB, bottom: RGB, horizon: float | None = None, floor: RGB = CREAM
    ) -> None:
        """A photo studio's paper sweep: a wall gradient, optionally a table edge at ``horizon``."""
        if horizon is None:
            self.image.paste(gradient(self.size, [(0, top), (1, bottom)]))
            return
        split = round(horizon * SS)
        self.image.paste(gradient((self.size[0], split), [(0, top), (1, bottom)]))
        rest = (self.size[0], self.size[1] - split)
        self.image.paste(gradient(rest, [(0, floor), (1, darker(floor, 0.12))]), (0, split))
        m, pen = self.mask()
        pen.rect((0, horizon - 1.5, self.w, horizon + 1.5), 255)
        self.fill(scaled(soft(m, 3), 0.35), darker(floor, 0.5))

    def wood(self, box: Box, base: RGB, planks: int = 0) -> None:
        """A wooden surface: grain streaks, and plank joints if ``planks``."""
        x0, y0, x1, y1 = box
        layer = gradient(self.size, [(0, lighter(base, 0.08)), (1, darker(base, 0.1))])
        pen = Pen(layer)
        for _ in range(int((y1 - y0) / 3)):
            y = self.rng.uniform(y0, y1)
            tone = (
                darker(base, self.rng.uniform(0.04, 0.16))
                if self.rng.random() < 0.6
                else lighter(base, self.rng.uniform(0.03, 0.1))
            )
            xa = self.rng.uniform(x0 - 200, x1)
            pts = [(xa + i * 60, y + math.sin(i * 0.7 + y) * 1.5) for i in range(12)]
            pen.line(pts, tone, self.rng.uniform(0.8, 2.2))
        if planks:
            for n in range(1, planks):
                y = y0 + (y1 - y0) * n / planks
                pen.line([(x0, y), (x1, y)], darker(base, 0.35), 1.6)
        layer = layer.filter(ImageFilter.GaussianBlur(0.8 * SS))
        m, mpen = self.mask()
        mpen.rect(box, 255)
        self.fill(m, layer)

    def grain(self, amount: int = 5, scale: int = 3) -> None:
        """A little paper/sensor texture, so flat fills do not look like vector art."""
        small = (self.size[0] // (scale * SS), self.size[1] // (scale * SS))
        noise = Image.frombytes("L", small, self.rng.randbytes(small[0] * small[1]))
        noise = noise.resize(self.size, Image.Resampling.BICUBIC)
        noise = noise.point(lambda v: round(v * 2 * amount / 255))
        rgb = Image.merge("RGB", (noise, noise, noise))
        self.image = ImageChops.add(self.image, rgb, 1.0, -amount)
        self.pen = Pen(self.image)

    def vignette(self, strength: float = 0.18) -> None:
        m = Image.new("L", self.size, 255)
        pen = Pen(m)
        pen.ellipse((-self.w * 0.15, -self.h * 0.15, self.w * 1.15, self.h * 1.15), 0)
        self.fill(scaled(soft(m, min(self.w, self.h) * 0.25 * SS), strength), (0, 0, 0))

    def save(self, path: Path) -> None:
        final = self.image.resize((self.w, self.h), Image.Resampling.LANCZOS)
        final.save(path, "JPEG", quality=QUALITY, optimize=True, progressive=True)


# ---- things --------------------------------------------------------------------------------


def fly_agaric(
    pen: Pen,
    x: float,
    ground: float,
    size: float,
    *,
    cap: RGB = RED,
    tilt: float = 0,
    ring: bool = True,
    spots: bool = True,
    outline: RGB | None = None,
    line_art: bool = False,
) -> None:
    """A fly agaric standing on ``ground`` at ``x``; ``size`` is its height. ``outline`` rims
    every part; ``line_art`` draws it white with ink lines, as on a colouring page."""
    if line_art:
        cap, stem_colour, gill_colour, spot_colour = (
            (255, 255, 255),
            (255, 255, 255),
            (255, 255, 255),
            (255, 255, 255),
        )
        outline = outline or INK
    else:
        stem_colour, gill_colour, spot_colour = STEM, darker(STEM, 0.12), CREAM
    w = size * 0.9
    stem_w = size * 0.2
    cap_h = size * 0.45
    cap_bottom = ground - size * 0.55
    lean = tilt * size
    ow = size * (0.022 if line_art else 0.03)

    def grow(b: Box) -> Box:
        return (b[0] - ow, b[1] - ow, b[2] + ow, b[3] + ow)

    # Stem, widening to a bulb (volva) at the foot.
    stem = [
        (x - stem_w * 0.45 + lean * 0.6, cap_bottom),
        (x + stem_w * 0.45 + lean * 0.6, cap_bottom),
        (x + stem_w * 0.55, ground - size * 0.12),
        (x + stem_w * 0.8, ground - size * 0.03),
        (x - stem_w * 0.8, ground - size * 0.03),
        (x - stem_w * 0.55, ground - size * 0.12),
    ]
    volva = (x - stem_w * 0.9, ground - size * 0.1, x + stem_w * 0.9, ground + size * 0.02)
    if outline:
        pen.polygon(_grow(stem, ow), outline)
        pen.ellipse(grow(volva), outline)
    pen.polygon(stem, stem_colour)
    pen.ellipse(volva, stem_colour)
    if not line_art:
        pen.polygon(
            [
                (x + stem_w * 0.1 + lean * 0.5, cap_bottom),
                (x + stem_w * 0.45 + lean * 0.6, cap_bottom),
                (x + stem_w * 0.55, ground - size * 0.1),
                (x + stem_w * 0.25, ground - size * 0.1),
            ],
            darker(STEM, 0.08),
        )
    if ring:
        ry = cap_bottom + size * 0.09
        band = (
            x - stem_w * 0.8 + lean * 0.5,
            ry - size * 0.04,
            x + stem_w * 0.8 + lean * 0.5,
            ry + size * 0.05,
        )
        if outline:
            pen.ellipse(grow(band), outline)
        pen.ellipse(band, lighter(stem_colour, 0.3))
    # Cap: a dome, with gills showing as a pale band under it.
    cx = x + lean
    dome = (cx - w / 2, cap_bottom - cap_h, cx + w / 2, cap_bottom + cap_h)
    gills = (
        cx - w / 2 * 0.96,
        cap_bottom - cap_h * 0.14,
        cx + w / 2 * 0.96,
        cap_bottom + cap_h * 0.16,
    )
    if outline:
        pen.ellipse(grow(gills), outline)
        pen.chord(grow(dome), 180, 360, outline)
    pen.ellipse(gills, gill_colour)
    pen.chord(dome, 180, 360, cap)
    if not line_art:
        pen.chord(
            (cx - w * 0.42, cap_bottom - cap_h * 0.9, cx + w * 0.1, cap_bottom + cap_h * 0.9),
            200,
            290,
            lighter(cap, 0.12),
        )
    if spots:
        for sx, sy, r in (
            (-0.28, 0.35, 0.07),
            (-0.05, 0.72, 0.08),
            (0.22, 0.45, 0.07),
            (0.05, 0.3, 0.05),
            (-0.3, 0.12, 0.045),
            (0.36, 0.14, 0.05),
            (0.12, 0.6, 0.04),
            (-0.17, 0.55, 0.045),
        ):
            spot = (
                cx + sx * w - r * w,
                cap_bottom - sy * cap_h - r * w * 0.7,
                cx + sx * w + r * w,
                cap_bottom - sy * cap_h + r * w * 0.7,
            )
            if line_art:
                thin = ow * 0.6
                pen.ellipse(
                    (spot[0] - thin, spot[1] - thin, spot[2] + thin, spot[3] + thin), outline or INK
                )
            pen.ellipse(spot, spot_colour)


def _grow(points: Sequence[Point], by: float) -> list[Point]:
    """The polygon pushed out from its centre by ``by`` (good enough for an outline)."""
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    out = []
    for x, y in points:
        d = math.hypot(x - cx, y - cy) or 1
        out.append((x + (x - cx) / d * by, y + (y - cy) / d * by))
    return out


def grass(
    pen: Pen,
    x0: float,
    x1: float,
    ground: float,
    height: float,
    *,
    colour: RGB,
    rng: random.Random,
    count: int = 40,
) -> None:
    """Blades of grass along ``ground`` between ``x0`` and ``x1``."""
    for _ in range(count):
        x = rng.uniform(x0, x1)
        h = height * rng.uniform(0.4, 1)
        lean = rng.uniform(-0.4, 0.4) * h
        width = height * 0.05
        pen.polygon(
            [(x - width, ground), (x + width, ground), (x + lean, ground - h)],
            mix(colour, darker(colour, 0.4), rng.random()),
        )


@dataclass(frozen=True)
class Mug:
    body: RGB = (246, 243, 236)
    rim: RGB | None = None
    inside: RGB | None = None
    drink: RGB | None = (92, 52, 30)
    print_: str = "agaric"  # "agaric", "spots", "none"
    spots: RGB = RED
    foot: bool = False  # an enamel mug's dark band round the base
    handle_right: bool = True
    height: float = 1.0  # of the width
    handle: float = 1.0


def mug(  # noqa: PLR0915 - a drawing is a long list of strokes, read top to bottom
    c: Canvas, x: float, base: float, width: float, m: Mug, *, shadow: float = 0.45
) -> None:
    """A glazed mug standing on ``base`` (y of the bottom's front edge), centred on ``x``."""
    h = width * m.height
    eh = width * 0.24  # the ellipses of the rim and the foot (a camera a little above)
    x0, x1 = x - width / 2, x + width / 2
    top = base - h
    side = 1 if m.handle_right else -1
    inside = m.inside or darker(m.body, 0.18)
    # Contact shadow and a long soft one away from the light (top left).
    sm, sp = c.mask()
    sp.ellipse((x0 - width * 0.02, base - eh * 0.55, x1 + width * 0.3, base + eh * 0.45), 255)
    c.shadow(sm, (width * 0.06, 0), width * 0.06, shadow)
    sm, sp = c.mask()
    sp.ellipse((x0 + width * 0.05, base - eh * 0.35, x1 - width * 0.05, base + eh * 0.35), 255)
    c.shadow(sm, (0, 0), width * 0.015, 0.5)
    # Handle: a thick ring on one side, partly behind the body.
    hw = width * 0.36 * m.handle
    hb = (x1 - hw * 0.5, top + h * 0.14, x1 + hw * 0.95, base - h * 0.16 - eh * 0.2)
    if side < 0:
        hb = (2 * x - hb[2], hb[1], 2 * x - hb[0], hb[3])
    hm, hp = c.mask()
    hp.ellipse(hb, 255)
    t = width * 0.085
    hp.ellipse((hb[0] + t, hb[1] + t * 1.1, hb[2] - t, hb[3] - t * 1.1), 0)
    shade = Image.new("RGB", c.size, m.body)
    band = gradient(
        (round((hb[2] - hb[0]) * SS), c.size[1]),
        [
            (0, darker(m.body, 0.3)),
            (0.3, lighter(m.body, 0.05)),
            (0.6, darker(m.body, 0.12)),
            (0.85, darker(m.body, 0.38)),
            (1, darker(m.body, 0.5)),
        ],
        vertical=False,
    )
    shade.paste(band, (round(hb[0] * SS), 0))
    c.fill(hm, shade)
    # Body: the glaze, the print, then cylinder shading multiplied over both.
    bm, bp = c.mask()
    bp.rect((x0, top, x1, base), 255)
    bp.ellipse((x0, base - eh / 2, x1, base + eh / 2), 255)
    bp.ellipse((x0, top - eh / 2, x1, top + eh / 2), 255)
    layer = Image.new("RGB", c.size, m.body)
    lp = Pen(layer)
    if m.print_ == "agaric":
        fly_agaric(lp, x - side * width * 0.08, base - h * 0.2, h * 0.62, tilt=0.04)
        mx = x - side * width * 0.08
        grass(
            lp,
            mx - h * 0.16,
            mx + h * 0.16,
            base - h * 0.19,
            h * 0.08,
            colour=(88, 120, 60),
            rng=random.Random("mug"),
            count=30,
        )
    elif m.print_ == "spots":
        # Dots wrapped round the cylinder: closer and narrower towards its edges.
        rng = random.Random("spots")
        rows = 7
        for row in range(rows):
            for col in range(-5, 6):
                angle = (col + 0.5 * (row % 2)) * math.pi / 11
                if abs(angle) > math.pi / 2:
                    continue
                r = width * rng.uniform(0.04, 0.055)
                px = x + width / 2 * math.sin(angle)
                py = top + h * (row + 0.5) / rows + eh / 2 * math.cos(angle) * 0.6
                rx = r * math.cos(angle)
                lp.ellipse((px - rx, py - r * 0.95, px + rx, py + r * 0.95), m.spots)
    rim_band = width * 0.04
    if m.rim:
        front = _front_arc(x0, x1, top + rim_band, eh)
        lp.polygon([*front, (x0 - 2, top - eh), (x1 + 2, top - eh)], m.rim)
    if m.rim and m.foot:
        front = _front_arc(x0, x1, base - rim_band, eh)
        lp.polygon([*front, (x0 - 2, base + eh), (x1 + 2, base + eh)], m.rim)
    profile = shade_profile(
        c.size, [(0, 0.52), (0.1, 0.78), (0.3, 1.0), (0.5, 0.96), (0.78, 0.8), (1, 0.6)]
    )
    # The profile spans the body only: shifted so its 0..1 lies on x0..x1.
    body_profile = Image.new("RGB", c.size, (255, 255, 255))
    span = profile.resize((round(width * SS), c.size[1]))
    body_profile.paste(span, (round(x0 * SS), 0))
    layer = ImageChops.multiply(layer, body_profile)
    c.fill(bm, layer)
    # A glossy highlight: a soft vertical streak near the lit side.
    gm, gp = c.mask()
    gp.rrect(
        (x0 + width * 0.16, top + eh * 0.6, x0 + width * 0.22, base - eh * 0.3), width * 0.03, 255
    )
    c.fill(ImageChops.multiply(scaled(soft(gm, width * 0.02 * SS), 0.7), bm), (255, 255, 255))
    # Rim and the inside: the far inner wall lit, the near one in shade, a drink if any.
    rim_colour = m.rim or lighter(m.body, 0.3)
    c.pen.ellipse((x0, top - eh / 2, x1, top + eh / 2), rim_colour)
    r = width * 0.035
    im, ip = c.mask()
    ip.ellipse((x0 + r, top - eh / 2 + r * 0.6, x1 - r, top + eh / 2 - r * 0.6), 255)
    c.fill(
        im,
        gradient(c.size, [(0, darker(inside, 0.35)), (1, inside)], vertical=False)
        if side > 0
        else gradient(c.size, [(0, inside), (1, darker(inside, 0.35))], vertical=False),
    )
    if m.drink:
        dm, dp = c.mask()
        dp.ellipse(
            (x0 + r * 1.8, top - eh / 2 + eh * 0.22, x1 - r * 1.8, top + eh / 2 - r * 0.6), 255
        )
        c.fill(dm, m.drink)
        c.glow(
            (x - width * 0.2, top - eh * 0.05, x + width * 0.05, top + eh * 0.18),
            lighter(m.drink, 0.35),
            0.6,
        )


def badge(pen: Pen, x: float, y: float, r: float, *, ring: RGB) -> None:
    """The shop's round print: a fly agaric in the grass under a pale moon."""
    pen.circle(x, y, r, (34, 84, 56))
    pen.circle(x - r * 0.42, y - r * 0.45, r * 0.2, (236, 226, 180))
    pen.chord((x - r, y - r, x + r, y + r), 25, 155, (70, 118, 60))
    fly_agaric(pen, x + r * 0.05, y + r * 0.72, r * 1.2, tilt=0.04)
    grass(
        pen,
        x - r * 0.5,
        x + r * 0.5,
        y + r * 0.72,
        r * 0.16,
        colour=(70, 118, 60),
        rng=random.Random("badge"),
        count=30,
    )
    pen.arc((x - r, y - r, x + r, y + r), 0, 360, ring, r * 0.06)
    pen.arc((x - r * 1.04, y - r * 1.04, x + r * 1.04, y + r * 1.04), 0, 360, CREAM, r * 0.05)


def _front_arc(x0: float, x1: float, y: float, eh: float) -> list[Point]:
    """The near half of a horizontal ellipse centred on ``y``, from right to left."""
    cx, rx = (x0 + x1) / 2, (x1 - x0) / 2 + 1
    return [
        (cx + rx * math.cos(math.pi * n / 40), y + eh / 2 * math.sin(math.pi * n / 40))
        for n in range(41)
    ]


def steam(c: Canvas, x: float, y: float, height: float) -> None:
    m, pen = c.mask()
    for n, dx in enumerate((-0.18, 0.02, 0.2)):
        pts = [
            (
                x + dx * height + math.sin(t / 6 * math.pi * 2 + n) * height * 0.07,
                y - t / 12 * height,
            )
            for t in range(13)
        ]
        pen.line(pts, 110, height * 0.05)
    fade = gradient(
        c.size,
        [
            (0, (0, 0, 0)),
            (max(0, (y - height) / c.h), (0, 0, 0)),
            (min(1, y / c.h), (255, 255, 255)),
            (1, (255, 255, 255)),
        ],
    ).convert("L")
    c.fill(ImageChops.multiply(soft(m, height * 0.04 * SS), fade), (255, 255, 255))


# ---- scenes --------------------------------------------------------------------------------

Scene = Callable[[], Canvas]
PICTURES: dict[str, Scene] = {}


def picture(name: str) -> Callable[[Scene], Scene]:
    def register(scene: Scene) -> Scene:
        PICTURES[name] = scene
        return scene

    return register


@picture("fly-agaric-mug-1.jpg")
def _mug_front() -> Canvas:
    c = Canvas("4:5", "mug-1")
    c.backdrop((238, 233, 226), (214, 206, 196), horizon=c.h * 0.58, floor=(226, 218, 206))
    mug(c, c.w * 0.47, c.h * 0.75, c.w * 0.5, Mug())
    c.vignette(0.14)
    c.grain(3)
    return c


@picture("fly-agaric-mug-2.jpg")
def _mug_side() -> Canvas:
    c = Canvas("1:1", "mug-2")
    c.backdrop((214, 226, 222), (186, 202, 198), horizon=c.h * 0.6, floor=(236, 232, 224))
    mug(c, c.w * 0.66, c.h * 0.7, c.w * 0.27, Mug())
    mug(c, c.w * 0.4, c.h * 0.84, c.w * 0.34, Mug(handle_right=False, drink=None))
    c.vignette(0.12)
    c.grain(3)
    return c


@picture("fly-agaric-mug-3.jpg")
def _mug_table() -> Canvas:
    c = Canvas("16:9", "mug-3")
    c.image.paste(gradient(c.size, [(0, (120, 136, 110)), (1, (70, 84, 64))]))
    c.glow((c.w * 0.55, -c.h * 0.4, c.w * 1.3, c.h * 0.6), (214, 220, 190), 0.55)
    c.wood((0, c.h * 0.55, c.w, c.h), (150, 104, 66), planks=3)
    # A plate of biscuits beside the mug.
    pm, pp = c.mask()
    pp.ellipse((c.w * 0.56, c.h * 0.7, c.w * 0.86, c.h * 0.9), 255)
    c.shadow(pm, (8, 8), 14, 0.45)
    c.pen.ellipse((c.w * 0.56, c.h * 0.7, c.w * 0.86, c.h * 0.9), (240, 238, 232))
    c.pen.ellipse((c.w * 0.59, c.h * 0.72, c.w * 0.83, c.h * 0.88), (228, 225, 218))
    for bx, by in ((0.65, 0.77), (0.73, 0.81), (0.78, 0.76)):
        c.pen.ellipse((c.w * bx - 52, c.h * by - 20, c.w * bx + 52, c.h * by + 22), (180, 128, 72))
        c.pen.ellipse((c.w * bx - 50, c.h * by - 22, c.w * bx + 50, c.h * by + 14), (216, 170, 106))
        for n in range(5):
            c.pen.circle(c.w * bx - 30 + n * 15, c.h * by - 5 + (n % 2) * 6, 2.5, (170, 118, 64))
    mug(c, c.w * 0.36, c.h * 0.86, c.w * 0.22, Mug(), shadow=0.55)
    steam(c, c.w * 0.35, c.h * 0.4, c.h * 0.22)
    c.vignette(0.25)
    c.grain(3)
    return c


@picture("enamel-camp-mug-1.jpg")
def _enamel_studio() -> Canvas:
    c = Canvas("1:1", "enamel-1")
    c.backdrop((232, 228, 220), (206, 200, 190), horizon=c.h * 0.62, floor=(222, 214, 200))
    mug(
        c,
        c.w * 0.48,
        c.h * 0.8,
        c.w * 0.42,
        Mug(
            rim=(30, 40, 64),
            inside=(240, 238, 232),
            drink=None,
            print_="spots",
            height=0.82,
            foot=True,
            handle=0.9,
        ),
    )
    c.vignette(0.14)
    c.grain(3)
    return c


@picture("enamel-camp-mug-2.jpg")
def _enamel_outdoors() -> Canvas:
    c = Canvas("3:2", "enamel-2")
    c.image.paste(gradient(c.size, [(0, (58, 84, 52)), (0.6, (96, 120, 70)), (1, (60, 70, 40))]))
    # Out-of-focus forest: soft discs of light between the trees.
    for _ in range(46):
        x, y = c.rng.uniform(0, c.w), c.rng.uniform(0, c.h * 0.6)
        r = c.rng.uniform(14, 60)
        c.glow(
            (x - r, y - r, x + r, y + r),
            mix((214, 226, 150), (150, 190, 110), c.rng.random()),
            c.rng.uniform(0.25, 0.6),
        )
    for n in range(5):
        x = c.w * (0.08 + n * 0.22) + c.rng.uniform(-30, 30)
        m, pen = c.mask()
        pen.rect((x, 0, x + c.rng.uniform(30, 70), c.h * 0.62), 255)
        c.fill(scaled(soft(m, 12 * SS), 0.5), (40, 46, 30))
    c.wood((0, c.h * 0.58, c.w, c.h), (128, 106, 84), planks=2)
    mug(
        c,
        c.w * 0.42,
        c.h * 0.88,
        c.w * 0.26,
        Mug(
            rim=(30, 40, 64),
            inside=(240, 238, 232),
            drink=(70, 44, 28),
            print_="spots",
            height=0.82,
            foot=True,
            handle=0.9,
        ),
        shadow=0.6,
    )
    steam(c, c.w * 0.41, c.h * 0.5, c.h * 0.2)
    # A folded map and a pine cone beside the mug.
    m, pen = c.mask()
    pen.polygon(
        [
            (c.w * 0.62, c.h * 0.7),
            (c.w * 0.9, c.h * 0.66),
            (c.w * 0.95, c.h * 0.86),
            (c.w * 0.66, c.h * 0.92),
        ],
        255,
    )
    c.shadow(m, (6, 6), 8, 0.45)
    c.fill(m, gradient(c.size, [(0, (232, 224, 196)), (1, (210, 200, 170))], vertical=False))
    c.pen.line([(c.w * 0.78, c.h * 0.68), (c.w * 0.81, c.h * 0.89)], (190, 178, 146), 2)
    c.pen.line(
        [
            (c.w * 0.65, c.h * 0.78),
            (c.w * 0.79, c.h * 0.73),
            (c.w * 0.86, c.h * 0.8),
            (c.w * 0.92, c.h * 0.74),
        ],
        (180, 70, 50),
        3,
    )
    c.vignette(0.3)
    c.grain(3)
    return c


def _saucer(c: Canvas, x: float, base: float, width: float, colour: RGB) -> None:
    eh = width * 0.3
    m, pen = c.mask()
    pen.ellipse((x - width / 2, base - eh / 2, x + width / 2, base + eh / 2), 255)
    c.shadow(m, (width * 0.05, width * 0.03), width * 0.04, 0.45)
    c.pen.ellipse(
        (x - width / 2, base - eh / 2 + 4, x + width / 2, base + eh / 2 + 4), darker(colour, 0.25)
    )
    c.fill(
        m, gradient(c.size, [(0, lighter(colour, 0.2)), (1, darker(colour, 0.12))], vertical=False)
    )
    c.pen.ellipse(
        (x - width * 0.3, base - eh * 0.3, x + width * 0.3, base + eh * 0.3), darker(colour, 0.08)
    )


@picture("espresso-cups-1.jpg")
def _espresso_pair() -> Canvas:
    c = Canvas("16:9", "espresso-1")
    c.backdrop((226, 220, 212), (196, 188, 178), horizon=c.h * 0.5, floor=(236, 230, 220))
    for x, base, cup in (
        (
            0.31,
            0.8,
            Mug(
                body=RED, print_="spots", spots=CREAM, drink=(60, 34, 20), height=0.78, handle=0.75
            ),
        ),
        (0.69, 0.8, Mug(drink=(60, 34, 20), height=0.78, handle=0.75)),
    ):
        _saucer(c, c.w * x + 12, c.h * base + 8, c.w * 0.32, (244, 240, 232))
        mug(c, c.w * x, c.h * base - 4, c.w * 0.17, cup, shadow=0.3)
    c.vignette(0.18)
    c.grain(3)
    return c


@picture("espresso-cups-2.jpg")
def _espresso_close() -> Canvas:
    c = Canvas("4:5", "espresso-2")
    c.image.paste(gradient(c.size, [(0, (62, 48, 40)), (1, (40, 30, 26))]))
    c.glow((-c.w * 0.3, -c.h * 0.2, c.w * 0.7, c.h * 0.5), (120, 96, 76), 0.5)
    c.wood((0, c.h * 0.45, c.w, c.h), (94, 66, 44))
    _saucer(c, c.w * 0.5 + 16, c.h * 0.8, c.w * 0.84, (244, 240, 232))
    mug(
        c,
        c.w * 0.48,
        c.h * 0.78,
        c.w * 0.46,
        Mug(body=RED, print_="spots", spots=CREAM, drink=(52, 30, 18), height=0.78, handle=0.75),
        shadow=0.3,
    )
    c.vignette(0.3)
    c.grain(3)
    return c


def _ribs(pen: Pen, corners: tuple[Point, Point, Point, Point], colour: RGB, n: int) -> None:
    """Rib lines across a knitted band whose corners are a-b (top) and d-c2 (bottom)."""
    a, b, c2, d = corners
    for i in range(1, n):
        t = i / n
        top = (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
        bottom = (d[0] + (c2[0] - d[0]) * t, d[1] + (c2[1] - d[1]) * t)
        pen.line([top, bottom], colour, 1.6)


def _along(a: Point, b: Point, t: float) -> Point:
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def garment(  # noqa: PLR0912, PLR0915 - a drawing is a long list of strokes, read top to bottom
    c: Canvas, cx: float, top: float, width: float, colour: RGB, *, hoodie: bool
) -> None:
    """A hoodie or a T-shirt lying flat, seen from above; ``width`` is cuff to cuff."""

    def at(u: float, v: float) -> Point:
        return (cx + u * width, top + v * width)

    if hoodie:
        neck, shoulder = (0.1, 0.0), (0.27, 0.06)
        cuff_out, cuff_in, armpit, hem = (0.5, 0.7), (0.39, 0.75), (0.275, 0.29), (0.28, 0.8)
    else:
        neck, shoulder = (0.1, 0.0), (0.27, 0.05)
        cuff_out, cuff_in, armpit, hem = (0.46, 0.3), (0.37, 0.4), (0.255, 0.28), (0.265, 0.84)
    # A rounded shoulder point between the neck and the sleeve.
    bend = (shoulder[0] + 0.012, shoulder[1] + 0.025)
    half = [neck, shoulder, bend, cuff_out, cuff_in, armpit, hem]
    right = [at(u, v) for u, v in half]
    left = [at(-u, v) for u, v in reversed(half)]
    outline = [*right, *left]
    dark = darker(colour, 0.22)
    m, pen = c.mask()
    hood = (*at(-0.17, -0.17), *at(0.17, 0.12))
    if hoodie:
        pen.rrect(hood, width * 0.14, 255)  # the hood, lying flat behind the neck
    pen.polygon(outline, 255)
    pen.ellipse((*at(-0.1, -0.035), *at(0.1, 0.035)), 255)
    c.shadow(m, (4, 10), 16, 0.4)
    layer = Image.new("RGB", c.size, colour)
    lp = Pen(layer)
    if hoodie:
        lp.rrect(hood, width * 0.14, darker(colour, 0.08))
        lp.line([at(0, -0.17), at(0, -0.06)], darker(colour, 0.2), 1.4)  # the hood's seam
    lp.polygon(outline, colour)
    # Cuffs and hem: knitted bands a shade darker, with ribs.
    band = darker(colour, 0.1)
    rib = darker(colour, 0.2)
    for side in (1, -1):
        so, si = at(side * shoulder[0], shoulder[1]), at(side * armpit[0], armpit[1])
        co, ci = at(side * cuff_out[0], cuff_out[1]), at(side * cuff_in[0], cuff_in[1])
        t = 0.84 if hoodie else 0.9
        a, d = _along(so, co, t), _along(si, ci, t)
        lp.polygon([a, co, ci, d], band if hoodie else colour)
        if hoodie:
            _ribs(lp, (a, d, ci, co), rib, 12)
        else:
            lp.line([a, d], dark, 1.5)
        lp.line([si, _along(si, ci, 0.5)], darker(colour, 0.12), 1.4)  # sleeve seam fold
    hl, hr = at(-hem[0], hem[1]), at(hem[0], hem[1])
    if hoodie:
        bl, br = at(-hem[0] + 0.003, hem[1] - 0.07), at(hem[0] - 0.003, hem[1] - 0.07)
        lp.polygon([bl, br, hr, hl], band)
        _ribs(lp, (bl, br, hr, hl), rib, 40)
        # Kangaroo pocket: a patch with slanted openings.
        pocket = [
            at(-0.13, 0.47),
            at(0.13, 0.47),
            at(0.19, 0.58),
            at(0.19, 0.71),
            at(-0.19, 0.71),
            at(-0.19, 0.58),
        ]
        lp.polygon(pocket, darker(colour, 0.04))
        lp.line([*pocket, pocket[0]], dark, 1.6)
        for side in (1, -1):
            lp.line([at(side * 0.13, 0.475), at(side * 0.185, 0.575)], darker(colour, 0.4), 3)
        # The hood's opening round the neck and its drawstrings.
        lp.ellipse((*at(-0.11, -0.09), *at(0.11, 0.15)), lighter(colour, 0.04))
        lining = gradient(
            c.size, [(0, darker(colour, 0.6)), (0.5, darker(colour, 0.3)), (1, darker(colour, 0.2))]
        )
        om, op = c.mask()
        op.ellipse((*at(-0.08, -0.07), *at(0.08, 0.12)), 255)
        layer.paste(lining, (0, 0), om)
        lp.line(curve(at(-0.11, 0.03), at(0, 0.2), at(0.11, 0.03)), dark, 1.4)
        cord = lighter(colour, 0.55) if sum(colour) < 500 else darker(colour, 0.35)
        for side in (1, -1):
            a, b = at(side * 0.03, 0.12), at(side * 0.045, 0.36)
            lp.line(curve(a, at(side * 0.05, 0.26), b), cord, width * 0.007)
            lp.capsule(b, (b[0] + side * 1, b[1] + width * 0.03), width * 0.009, (200, 196, 186))
        # A small embroidered fly agaric on the chest.
        fly_agaric(
            lp,
            at(0.14, 0.0)[0],
            at(0, 0.26)[1],
            width * 0.075,
            outline=darker(colour, 0.5) if sum(colour) > 500 else lighter(colour, 0.5),
        )
    else:
        lp.line([at(-hem[0], hem[1] - 0.025), at(hem[0], hem[1] - 0.025)], dark, 1.5)
        lp.ellipse((*at(-0.1, -0.035), *at(0.1, 0.07)), darker(colour, 0.35))  # inside, back
        lp.arc((*at(-0.1, -0.05), *at(0.1, 0.07)), 0, 180, darker(colour, 0.12), width * 0.018)
        badge(lp, cx, at(0, 0.36)[1], width * 0.14, ring=colour)
    # Light: a broad soft highlight, darker towards the edges, and a few soft folds.
    inner = soft(m, width * 0.06 * SS)
    light = Image.merge("RGB", [inner.point(lambda v: 190 + v // 4)] * 3)
    layer = ImageChops.multiply(layer, light)
    # Folds: thin soft creases, each a shadow with a lit edge beside it.
    rng = random.Random(f"folds{colour}")
    creases = []
    for _ in range(6):
        u, v = rng.uniform(-0.2, 0.2), rng.uniform(0.12, 0.55)
        du, dv = rng.uniform(-0.06, 0.06), rng.uniform(0.12, 0.2)
        creases.append((at(u, v), at(u + du * 0.5 + 0.02, v + dv * 0.5), at(u + du, v + dv)))
    for side in (1, -1):
        v0, v1 = (0.28, 0.6) if hoodie else (0.1, 0.27)
        creases.append((at(side * 0.31, v0), at(side * 0.35, (v0 + v1) / 2), at(side * 0.4, v1)))
    for offset, tone, strength in (
        (0.0, darker(colour, 0.4), 0.45),
        (0.008, lighter(colour, 0.25), 0.3),
    ):
        fm, fp = c.mask()
        for a, b, d in creases:
            shift = width * offset
            fp.line(
                curve((a[0] + shift, a[1]), (b[0] + shift, b[1]), (d[0] + shift, d[1])),
                255,
                width * 0.006,
            )
        fold = scaled(soft(fm, width * 0.007 * SS), strength)
        layer.paste(tone, (0, 0), ImageChops.multiply(fold, m))
    c.fill(m, layer)


HOODIE_COLOURS: list[tuple[str, RGB]] = [
    ("oat", (222, 208, 182)),
    ("mustard", (214, 164, 44)),
    ("rust", (170, 78, 40)),
    ("fly-agaric red", (186, 30, 36)),
    ("plum", (104, 46, 84)),
    ("navy", (34, 44, 82)),
    ("sky", (128, 176, 214)),
    ("moss", (120, 138, 62)),
    ("forest", (34, 84, 56)),
    ("charcoal", (58, 58, 62)),
]


def _hoodie(n: int) -> Scene:
    name, colour = HOODIE_COLOURS[n]

    def scene() -> Canvas:
        c = Canvas("4:5", f"hoodie-{name}")
        backdrop = (236, 233, 228) if sum(colour) < 560 else (206, 210, 214)
        c.image.paste(gradient(c.size, [(0, lighter(backdrop, 0.2)), (1, darker(backdrop, 0.06))]))
        garment(c, c.w * 0.5, c.h * 0.24, c.w * 0.9, colour, hoodie=True)
        c.vignette(0.12)
        c.grain(3)
        return c

    return scene


for _n in range(len(HOODIE_COLOURS)):
    picture(f"forest-hoodie-{_n + 1}.jpg")(_hoodie(_n))


@picture("amanita-tee-1.jpg")
def _tee_white() -> Canvas:
    c = Canvas("4:5", "tee-1")
    c.image.paste(gradient(c.size, [(0, (200, 208, 200)), (1, (172, 182, 172))]))
    garment(c, c.w * 0.5, c.h * 0.18, c.w * 0.98, (244, 242, 236), hoodie=False)
    c.vignette(0.12)
    c.grain(3)
    return c


@picture("amanita-tee-2.jpg")
def _tee_black() -> Canvas:
    c = Canvas("4:5", "tee-2")
    c.image.paste(gradient(c.size, [(0, (232, 226, 216)), (1, (210, 202, 190))]))
    garment(c, c.w * 0.5, c.h * 0.18, c.w * 0.98, (40, 40, 44), hoodie=False)
    c.vignette(0.12)
    c.grain(3)
    return c


@picture("amanita-tee-3.jpg")
def _tee_detail() -> Canvas:
    c = Canvas("1:1", "tee-3")
    c.image.paste(gradient(c.size, [(0, (236, 232, 224)), (1, (214, 208, 198))]))
    garment(c, c.w * 0.55, -c.h * 0.42, c.w * 2.8, (244, 242, 236), hoodie=False)
    c.grain(4, 1)
    return c


def sock(
    c: Canvas,
    top: Point,
    length: float,
    foot: float,
    width: float,
    *,
    angle: float,
    colour: RGB,
    accent: RGB,
    dots: RGB,
    mirror: bool = False,
) -> None:
    """A sock lying flat: a leg ``length`` long from ``top`` (the cuff), turned at the heel
    into a foot ``foot`` long; ``angle`` tilts the whole sock (degrees)."""
    side = -1 if mirror else 1
    rot = math.radians(angle)

    def at(u: float, v: float) -> Point:
        # u across the leg (towards the toe), v down the leg, both in pixels.
        return (
            top[0] + (u * side) * math.cos(rot) - v * math.sin(rot),
            top[1] + (u * side) * math.sin(rot) + v * math.cos(rot),
        )

    half = width / 2
    heel, toe = at(0, length), at(foot, length + width * 0.1)
    m, pen = c.mask()
    pen.polygon([at(-half, 0), at(half, 0), at(half, length - half), at(-half, length)], 255)
    pen.line([at(0, length - half * 0.2), toe], 255, width)
    pen.circle(*heel, half, 255)
    pen.circle(*toe, half * 1.02, 255)
    c.shadow(m, (4, 8), 12, 0.4)
    layer = Image.new("RGB", c.size, colour)
    lp = Pen(layer)
    rng = random.Random(f"sock{colour}{mirror}")
    for _ in range(int(length * foot / (width * 6))):
        u = rng.uniform(-half, foot + half)
        v = rng.uniform(width * 0.4, length + half)
        lp.circle(*at(u, v), width * rng.uniform(0.035, 0.06), dots)
    # Heel and toe in the accent colour, the cuff knitted with ribs.
    lp.circle(*at(-half * 0.55, length + half * 0.5), half * 0.8, accent)
    tx, ty = at(foot + half * 0.45, length + width * 0.1)
    lp.ellipse((tx - half * 0.95, ty - half * 1.3, tx + half * 0.95, ty + half * 1.3), accent)
    lp.polygon([at(-half, 0), at(half, 0), at(half, width * 0.55), at(-half, width * 0.55)], accent)
    for n in range(1, 12):
        u = -half + width * n / 12
        lp.line([at(u, 0), at(u, width * 0.55)], darker(accent, 0.2), 1.4)
    light = Image.merge("RGB", [soft(m, width * 0.12 * SS).point(lambda v: 200 + v // 5)] * 3)
    c.fill(m, ImageChops.multiply(layer, light))


@picture("spore-socks-1.jpg")
def _socks_pair() -> Canvas:
    c = Canvas("1:1", "socks-1")
    c.wood((0, 0, c.w, c.h), (196, 160, 120), planks=4)
    c.glow((-c.w * 0.3, -c.h * 0.3, c.w * 0.8, c.h * 0.7), (240, 220, 190), 0.35)
    sock(
        c,
        (c.w * 0.39, c.h * 0.16),
        c.h * 0.5,
        c.w * 0.21,
        c.w * 0.17,
        angle=7,
        colour=(120, 138, 62),
        accent=RED,
        dots=CREAM,
        mirror=True,
    )
    sock(
        c,
        (c.w * 0.61, c.h * 0.18),
        c.h * 0.5,
        c.w * 0.21,
        c.w * 0.17,
        angle=-5,
        colour=(120, 138, 62),
        accent=RED,
        dots=CREAM,
    )
    c.vignette(0.2)
    c.grain(3)
    return c


@picture("spore-socks-2.jpg")
def _socks_colours() -> Canvas:
    c = Canvas("3:4", "socks-2")
    c.image.paste(gradient(c.size, [(0, (236, 230, 220)), (1, (212, 204, 192))]))
    for n, (x, colour, accent, dots) in enumerate(
        (
            (0.19, (120, 138, 62), RED, CREAM),
            (0.47, (214, 164, 44), (34, 44, 82), CREAM),
            (0.75, (58, 58, 62), (214, 164, 44), (236, 226, 180)),
        )
    ):
        sock(
            c,
            (c.w * x - 30, c.h * 0.16 + n * 16),
            c.h * 0.5,
            c.w * 0.14,
            c.w * 0.15,
            angle=4 - n * 3,
            colour=colour,
            accent=accent,
            dots=dots,
        )
    c.vignette(0.14)
    c.grain(3)
    return c


# ---- prints and the walls they hang on ------------------------------------------------------

PAPER: RGB = (246, 239, 222)


def bolete(pen: Pen, x: float, ground: float, size: float, cap: RGB = (120, 72, 40)) -> None:
    """A cep: a fat pale stem and a brown bun of a cap."""
    w = size * 0.9
    pen.polygon(
        [
            (x - size * 0.14, ground - size * 0.55),
            (x + size * 0.14, ground - size * 0.55),
            (x + size * 0.24, ground - size * 0.12),
            (x - size * 0.24, ground - size * 0.12),
        ],
        (232, 220, 190),
    )
    pen.ellipse(
        (x - size * 0.26, ground - size * 0.3, x + size * 0.26, ground + size * 0.02),
        (232, 220, 190),
    )
    pen.ellipse((x - w / 2, ground - size * 0.62, x + w / 2, ground - size * 0.5), (214, 196, 140))
    pen.chord((x - w / 2, ground - size * 1.0, x + w / 2, ground - size * 0.12), 180, 360, cap)
    pen.chord(
        (x - w * 0.36, ground - size * 0.95, x, ground - size * 0.3), 200, 290, lighter(cap, 0.15)
    )


def chanterelle(pen: Pen, x: float, ground: float, size: float) -> None:
    """A chanterelle: a golden funnel with a wavy rim."""
    gold = (226, 160, 40)
    rim = [
        (x - size * 0.45 + size * 0.9 * n / 12, ground - size * (0.86 + 0.05 * math.sin(n * 1.7)))
        for n in range(13)
    ]
    pen.polygon(
        [
            *rim,
            (x + size * 0.1, ground - size * 0.3),
            (x + size * 0.09, ground),
            (x - size * 0.09, ground),
            (x - size * 0.1, ground - size * 0.3),
        ],
        gold,
    )
    pen.ellipse(
        (x - size * 0.45, ground - size * 0.95, x + size * 0.45, ground - size * 0.78),
        lighter(gold, 0.2),
    )
    for n in range(7):
        t = -0.3 + n * 0.1
        pen.line(
            [(x + size * t, ground - size * 0.8), (x + size * t * 0.2, ground - size * 0.3)],
            darker(gold, 0.2),
            size * 0.012,
        )


def fern(pen: Pen, base: Point, tip: Point, colour: RGB, leaves: int = 14) -> None:
    pen.line(curve(base, ((base[0] + tip[0]) / 2 + 20, (base[1] + tip[1]) / 2), tip), colour, 3)
    for n in range(1, leaves):
        t = n / leaves
        x = base[0] + (tip[0] - base[0]) * t
        y = base[1] + (tip[1] - base[1]) * t
        length = (1 - t) * 60 + 10
        for side in (1, -1):
            pen.line([(x, y), (x + side * length, y - length * 0.35)], colour, 4 * (1 - t) + 1.5)


def text_lines(
    pen: Pen, x: float, y: float, widths: Sequence[float], height: float, *, colour: RGB
) -> None:
    """Grey bars where a printed label would be (no fonts, no words)."""
    for n, w in enumerate(widths):
        pen.rrect(
            (x - w / 2, y + n * height * 2, x + w / 2, y + n * height * 2 + height),
            height / 2,
            colour,
        )


def art(w: int, h: int, draw: Callable[[Pen, int, int], None], paper: RGB = PAPER) -> Image.Image:
    image = Image.new("RGB", (w * SS, h * SS), paper)
    draw(Pen(image), w, h)
    return image


def _art_amanita(pen: Pen, w: int, h: int) -> None:
    pen.circle(w * 0.64, h * 0.3, w * 0.2, (236, 170, 110))
    pen.rect((0, h * 0.72, w, h), (92, 124, 70))
    pen.chord((-w * 0.2, h * 0.62, w * 1.2, h * 0.9), 180, 360, (92, 124, 70))
    rng = random.Random("amanita-art")
    grass(pen, 0, w, h * 0.7, h * 0.05, colour=(62, 96, 52), rng=rng, count=120)
    fly_agaric(pen, w * 0.46, h * 0.74, h * 0.5, tilt=0.03, outline=(120, 100, 76))
    fly_agaric(pen, w * 0.78, h * 0.76, h * 0.16, tilt=-0.05)
    fly_agaric(pen, w * 0.2, h * 0.77, h * 0.1, tilt=0.08)
    pen.rect((0, h * 0.84, w, h), PAPER)
    text_lines(pen, w / 2, h * 0.885, [w * 0.46, w * 0.3], h * 0.016, colour=(90, 84, 76))


def _art_forest_floor(pen: Pen, w: int, h: int) -> None:
    for n, tone in enumerate(((40, 70, 62), (52, 88, 70), (70, 106, 76))):
        pen.rect((0, h * n / 3 * 0.7, w, h), tone)
    for n in range(9):
        x = w * (n + 0.3) / 9
        pen.rect((x, 0, x + w * 0.025, h * 0.7), (34, 52, 44))
    pen.rect((0, h * 0.7, w, h), (84, 108, 52))
    rng = random.Random("forest-floor")
    for _ in range(40):
        x, y = rng.uniform(0, w), rng.uniform(h * 0.72, h)
        pen.ellipse(
            (x - 9, y - 4, x + 9, y + 4),
            rng.choice([(196, 120, 48), (170, 80, 40), (210, 160, 60)]),
        )
    fern(pen, (w * 0.1, h * 0.95), (w * 0.22, h * 0.45), (60, 110, 58))
    fern(pen, (w * 0.9, h * 0.95), (w * 0.8, h * 0.5), (60, 110, 58))
    bolete(pen, w * 0.3, h * 0.86, h * 0.34)
    fly_agaric(pen, w * 0.52, h * 0.88, h * 0.5, tilt=0.02)
    fly_agaric(pen, w * 0.63, h * 0.9, h * 0.26, tilt=-0.06)
    chanterelle(pen, w * 0.74, h * 0.9, h * 0.18)
    bolete(pen, w * 0.42, h * 0.93, h * 0.16, cap=(140, 90, 50))
    grass(pen, 0, w, h * 0.97, h * 0.06, colour=(70, 110, 50), rng=rng, count=140)


def _art_species(kind: str) -> Callable[[Pen, int, int], None]:
    def draw(pen: Pen, w: int, h: int) -> None:
        pen.rect((w * 0.06, h * 0.05, w * 0.94, h * 0.95), (120, 110, 96))
        pen.rect((w * 0.065, h * 0.054, w * 0.935, h * 0.946), PAPER)
        ground = h * 0.7
        pen.ellipse((w * 0.2, ground - h * 0.02, w * 0.8, ground + h * 0.03), (214, 204, 180))
        if kind == "agaric":
            fly_agaric(pen, w * 0.5, ground, h * 0.5, outline=(150, 128, 100))
        elif kind == "cep":
            bolete(pen, w * 0.5, ground, h * 0.48)
        else:
            chanterelle(pen, w * 0.44, ground, h * 0.4)
            chanterelle(pen, w * 0.64, ground, h * 0.26)
        text_lines(
            pen, w / 2, h * 0.78, [w * 0.5, w * 0.34, w * 0.4], h * 0.014, colour=(110, 100, 88)
        )

    return draw


def wall(c: Canvas, colour: RGB) -> None:
    """A painted wall lit by a window on the left."""
    c.image.paste(
        gradient(c.size, [(0, lighter(colour, 0.12)), (1, darker(colour, 0.1))], vertical=False)
    )
    c.glow((-c.w * 0.4, -c.h * 0.5, c.w * 0.6, c.h * 0.9), lighter(colour, 0.35), 0.45)


def framed(c: Canvas, box: Box, picture_: Image.Image, frame: RGB, *, mat: float = 0.12) -> None:
    """A framed print hanging at ``box``: shadow, moulding, mat board, the print, glass glare."""
    x0, y0, x1, y1 = box
    border = (x1 - x0) * 0.035
    m, pen = c.mask()
    pen.rect(box, 255)
    c.shadow(m, (10, 14), 18, 0.45)
    c.pen.rect(box, frame)
    c.pen.polygon(
        [(x0, y0), (x1, y0), (x1 - border, y0 + border), (x0 + border, y0 + border)],
        lighter(frame, 0.2),
    )
    c.pen.polygon(
        [(x0, y1), (x1, y1), (x1 - border, y1 - border), (x0 + border, y1 - border)],
        darker(frame, 0.25),
    )
    ix0, iy0, ix1, iy1 = x0 + border, y0 + border, x1 - border, y1 - border
    c.pen.rect((ix0, iy0, ix1, iy1), (248, 246, 240))
    inset = (ix1 - ix0) * mat
    ax0, ay0, ax1, ay1 = ix0 + inset, iy0 + inset, ix1 - inset, iy1 - inset
    c.pen.rect((ax0 - 2, ay0 - 2, ax1 + 2, ay1 + 2), (214, 210, 200))
    fitted = picture_.resize(
        (round((ax1 - ax0) * SS), round((ay1 - ay0) * SS)), Image.Resampling.LANCZOS
    )
    c.image.paste(fitted, (round(ax0 * SS), round(ay0 * SS)))
    gm, gp = c.mask()
    gp.polygon([(ix0, iy0), (ix0 + (ix1 - ix0) * 0.45, iy0), (ix0, iy0 + (iy1 - iy0) * 0.6)], 255)
    c.fill(scaled(soft(gm, (ix1 - ix0) * 0.1 * SS), 0.18), (255, 255, 255))


def lying(c: Canvas, picture_: Image.Image, centre: Point, width: float, angle: float) -> None:
    """A print lying on a surface, turned by ``angle`` degrees, with a soft shadow."""
    ratio = picture_.height / picture_.width
    sized = picture_.resize(
        (round(width * SS), round(width * ratio * SS)), Image.Resampling.LANCZOS
    )
    mask = Image.new("L", sized.size, 255)
    sized = sized.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    mask = mask.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    at = (round(centre[0] * SS - sized.width / 2), round(centre[1] * SS - sized.height / 2))
    full = Image.new("L", c.size, 0)
    full.paste(mask, at)
    c.shadow(full, (6, 9), 10, 0.45)
    c.image.paste(sized, at, mask)


def tilted(
    c: Canvas, centre: Point, size: tuple[float, float], angle: float, *, colour: RGB, radius: float
) -> None:
    """A rounded rectangle turned by ``angle`` degrees (a cushion, a card), with a shadow."""
    w, h = size
    shape = Image.new("L", (round(w * SS), round(h * SS)), 0)
    Pen(shape).rrect((0, 0, w, h), radius, 255)
    shape = shape.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    full = Image.new("L", c.size, 0)
    full.paste(
        shape, (round(centre[0] * SS - shape.width / 2), round(centre[1] * SS - shape.height / 2))
    )
    c.shadow(full, (4, 8), 10, 0.35)
    c.fill(full, gradient(c.size, [(0, lighter(colour, 0.1)), (1, darker(colour, 0.15))]))


def sofa(c: Canvas, top: float, colour: RGB) -> None:
    """A sofa seen from the front: back, two arms, a seat and two cushions."""
    w, h = c.w, c.h
    m, pen = c.mask()
    pen.rrect((w * 0.1, top, w * 0.9, h * 1.1), 40, 255)
    c.shadow(m, (0, 10), 30, 0.35)
    c.pen.rrect((w * 0.15, top, w * 0.85, h * 0.95), 36, colour)
    c.pen.rrect((w * 0.16, top + h * 0.02, w * 0.84, top + h * 0.04), 10, lighter(colour, 0.08))
    for x in (0.1, 0.8):
        c.pen.rrect((w * x, top + h * 0.1, w * (x + 0.1), h * 1.05), 30, darker(colour, 0.1))
        c.pen.rrect(
            (w * x + 6, top + h * 0.1 + 4, w * (x + 0.1) - 6, top + h * 0.14),
            20,
            lighter(colour, 0.06),
        )
    tilted(c, (w * 0.27, top + h * 0.13), (w * 0.12, w * 0.11), 9, colour=(214, 164, 44), radius=18)
    tilted(c, (w * 0.73, top + h * 0.13), (w * 0.12, w * 0.11), -7, colour=(196, 36, 30), radius=18)
    c.pen.rrect((w * 0.19, top + h * 0.22, w * 0.81, h * 1.05), 24, lighter(colour, 0.06))
    c.pen.line([(w * 0.5, top + h * 0.23), (w * 0.5, h)], darker(colour, 0.15), 2)


def sideboard(c: Canvas, top: float) -> None:
    c.pen.rect((0, top, c.w, c.h), (150, 110, 74))
    c.pen.rect((0, top, c.w, top + 14), (176, 134, 94))
    m, pen = c.mask()
    pen.rect((0, top + 14, c.w, top + 40), 255)
    c.fill(scaled(soft(m, 10 * SS), 0.35), (40, 26, 16))


def plant(c: Canvas, x: float, base: float, size: float) -> None:
    rng = random.Random(f"plant{x}")
    for _ in range(14):
        a = rng.uniform(-2.6, -0.5)
        length = size * rng.uniform(0.5, 0.9)
        tip = (x + math.cos(a) * length, base - size * 0.45 + math.sin(a) * length)
        c.pen.line([(x, base - size * 0.4), tip], (60, 100, 50), 3)
        c.pen.ellipse(
            (
                tip[0] - size * 0.09,
                tip[1] - size * 0.05,
                tip[0] + size * 0.09,
                tip[1] + size * 0.05,
            ),
            mix((70, 126, 60), (40, 90, 44), rng.random()),
        )
    c.pen.polygon(
        [
            (x - size * 0.2, base - size * 0.42),
            (x + size * 0.2, base - size * 0.42),
            (x + size * 0.16, base),
            (x - size * 0.16, base),
        ],
        (190, 100, 64),
    )
    c.pen.rect(
        (x - size * 0.22, base - size * 0.46, x + size * 0.22, base - size * 0.38), (204, 114, 76)
    )


def books(c: Canvas, x: float, base: float, size: float) -> None:
    y = base
    for n, colour in enumerate(((52, 76, 96), (170, 62, 48), (222, 208, 176), (60, 92, 64))):
        h = size * (0.11 + 0.02 * (n % 2))
        dx = (n % 3 - 1) * size * 0.04
        c.pen.rect((x - size * 0.5 + dx, y - h, x + size * 0.5 + dx, y), colour)
        c.pen.rect((x + size * 0.44 + dx, y - h + 3, x + size * 0.5 + dx, y - 3), (240, 234, 220))
        y -= h


@picture("amanita-poster-1.jpg")
def _poster_wall() -> Canvas:
    c = Canvas("4:5", "poster-1")
    wall(c, (196, 204, 186))
    framed(
        c,
        (c.w * 0.25, c.h * 0.08, c.w * 0.75, c.h * 0.08 + c.w * 0.7),
        art(500, 700, _art_amanita),
        (36, 34, 32),
        mat=0.1,
    )
    sideboard(c, c.h * 0.76)
    plant(c, c.w * 0.16, c.h * 0.76, c.h * 0.3)
    books(c, c.w * 0.83, c.h * 0.76, c.w * 0.22)
    c.vignette(0.2)
    c.grain(3)
    return c


@picture("amanita-poster-2.jpg")
def _poster_detail() -> Canvas:
    c = Canvas("2:3", "poster-2")
    c.wood((0, 0, c.w, c.h), (170, 130, 92), planks=3)
    lying(c, art(500, 700, _art_amanita), (c.w * 0.5, c.h * 0.5), c.w * 0.8, 3)
    c.vignette(0.25)
    c.grain(3)
    return c


@picture("forest-floor-print-1.jpg")
def _forest_print_wall() -> Canvas:
    c = Canvas("16:9", "forest-1")
    wall(c, (226, 218, 204))
    framed(
        c,
        (c.w * 0.3, c.h * 0.1, c.w * 0.7, c.h * 0.1 + c.w * 0.4 * 0.72),
        art(420, 297, _art_forest_floor),
        (150, 112, 72),
        mat=0.08,
    )
    sofa(c, c.h * 0.66, (62, 96, 112))
    c.vignette(0.22)
    c.grain(3)
    return c


@picture("forest-floor-print-2.jpg")
def _forest_print_table() -> Canvas:
    c = Canvas("3:2", "forest-2")
    c.image.paste(gradient(c.size, [(0, (236, 234, 228)), (1, (216, 212, 204))]))
    lying(c, art(420, 297, _art_forest_floor), (c.w * 0.46, c.h * 0.5), c.w * 0.72, -4)
    # A pencil beside it.
    c.pen.capsule((c.w * 0.86, c.h * 0.2), (c.w * 0.92, c.h * 0.8), 16, (214, 164, 44))
    c.pen.polygon(
        [(c.w * 0.92 - 8, c.h * 0.8), (c.w * 0.92 + 8, c.h * 0.8), (c.w * 0.925, c.h * 0.86)],
        (230, 200, 160),
    )
    c.vignette(0.18)
    c.grain(3)
    return c


SPECIES = ("agaric", "cep", "chanterelle")


@picture("field-guide-prints-1.jpg")
def _guide_wall() -> Canvas:
    c = Canvas("16:9", "guide-1")
    wall(c, (238, 234, 226))
    for n, kind in enumerate(SPECIES):
        x = c.w * (0.22 + n * 0.28)
        framed(
            c,
            (x - c.w * 0.11, c.h * 0.12, x + c.w * 0.11, c.h * 0.12 + c.w * 0.22 * 4 / 3),
            art(300, 400, _art_species(kind)),
            (176, 140, 96),
            mat=0.1,
        )
    sideboard(c, c.h * 0.88)
    c.vignette(0.2)
    c.grain(3)
    return c


@picture("field-guide-prints-2.jpg")
def _guide_table() -> Canvas:
    c = Canvas("3:4", "guide-2")
    c.wood((0, 0, c.w, c.h), (120, 88, 60), planks=5)
    for (x, y, angle), kind in zip(
        ((0.34, 0.32, 8), (0.64, 0.42, -5), (0.42, 0.7, 3)), SPECIES, strict=True
    ):
        lying(c, art(300, 400, _art_species(kind)), (c.w * x, c.h * y), c.w * 0.5, angle)
    c.vignette(0.25)
    c.grain(3)
    return c


# ---- digital goods: the mascot's stickers, wallpapers, a colouring book ----------------------


def mascot(
    size: int, *, eyes: str = "open", mouth: str = "smile", squash: float = 1.0
) -> Image.Image:
    """The shop's mascot (a fly agaric with a face) as an RGBA image ``size`` px square."""
    image = Image.new("RGBA", (size * SS, size * SS), (0, 0, 0, 0))
    pen = Pen(image)
    s = size
    h = s * squash
    ground = s * 0.96
    cap_bottom = ground - h * 0.44
    # Body (the stem) with a face, then the cap over it.
    pen.rrect((s * 0.3 - 6, cap_bottom - 10 - 6, s * 0.7 + 6, ground + 6), s * 0.14, (*INK, 255))
    pen.rrect((s * 0.3, cap_bottom - 10, s * 0.7, ground), s * 0.13, (*STEM, 255))
    face_y = cap_bottom + h * 0.16
    for ex, kind in ((s * 0.42, eyes), (s * 0.58, "open" if eyes == "wink" else eyes)):
        if kind == "open":
            pen.ellipse(
                (ex - s * 0.03, face_y - s * 0.045, ex + s * 0.03, face_y + s * 0.045), (*INK, 255)
            )
            pen.circle(ex + s * 0.01, face_y - s * 0.018, s * 0.011, (255, 255, 255, 255))
        elif kind == "hearts":
            r = s * 0.022
            pen.circle(ex - r * 0.8, face_y - r * 0.4, r, (*RED, 255))
            pen.circle(ex + r * 0.8, face_y - r * 0.4, r, (*RED, 255))
            pen.polygon(
                [(ex - r * 1.75, face_y), (ex + r * 1.75, face_y), (ex, face_y + r * 2)],
                (*RED, 255),
            )
        else:  # closed or wink: a happy arc
            pen.arc(
                (ex - s * 0.035, face_y - s * 0.03, ex + s * 0.035, face_y + s * 0.03),
                200,
                340,
                (*INK, 255),
                s * 0.012,
            )
    for bx in (s * 0.37, s * 0.63):
        pen.ellipse(
            (bx - s * 0.03, face_y + s * 0.04, bx + s * 0.03, face_y + s * 0.065),
            (240, 150, 150, 255),
        )
    my = face_y + s * 0.07
    if mouth == "smile":
        pen.arc((s * 0.45, my - s * 0.04, s * 0.55, my + s * 0.03), 20, 160, (*INK, 255), s * 0.012)
    elif mouth == "o":
        pen.ellipse((s * 0.475, my - s * 0.005, s * 0.525, my + s * 0.05), (*INK, 255))
    else:  # grin
        pen.chord((s * 0.44, my - s * 0.03, s * 0.56, my + s * 0.05), 0, 180, (*INK, 255))
    w = s * 0.86
    dome = (s / 2 - w / 2, cap_bottom - h * 0.42, s / 2 + w / 2, cap_bottom + h * 0.42)
    pen.chord((dome[0] - 6, dome[1] - 6, dome[2] + 6, dome[3] + 6), 180, 360, (*INK, 255))
    pen.chord(dome, 180, 360, (*RED, 255))
    pen.chord(
        (s / 2 - w * 0.4, dome[1] + h * 0.04, s / 2 + w * 0.05, dome[3] - h * 0.04),
        200,
        290,
        (*lighter(RED, 0.15), 255),
    )
    pen.rect((s / 2 - w / 2 - 6, cap_bottom - 4, s / 2 + w / 2 + 6, cap_bottom + 4), (*INK, 255))
    for sx, sy, r in (
        (-0.25, 0.3, 0.06),
        (0.0, 0.65, 0.07),
        (0.24, 0.38, 0.06),
        (0.1, 0.2, 0.04),
        (-0.1, 0.15, 0.035),
    ):
        pen.ellipse(
            (
                s / 2 + sx * w - r * w,
                cap_bottom - sy * h * 0.42 - r * w * 0.7,
                s / 2 + sx * w + r * w,
                cap_bottom - sy * h * 0.42 + r * w * 0.7,
            ),
            (*CREAM, 255),
        )
    return image


def sticker(image: Image.Image, border: int = 7) -> Image.Image:
    """A die-cut sticker: the picture on a white outline (Telegram shows stickers bare)."""
    alpha = image.getchannel("A").filter(ImageFilter.MaxFilter(border * 2 * SS + 1))
    out = Image.new("RGBA", image.size, (255, 255, 255, 0))
    out.putalpha(alpha)
    out.alpha_composite(image)
    return out


def place(
    c: Canvas, image: Image.Image, centre: Point, *, angle: float = 0, shadow: float = 0.3
) -> None:
    """Paste an RGBA image (drawn at SS scale) centred at ``centre``, turned, with a shadow."""
    if angle:
        image = image.rotate(angle, Image.Resampling.BICUBIC, expand=True)
    at = (round(centre[0] * SS - image.width / 2), round(centre[1] * SS - image.height / 2))
    if shadow:
        full = Image.new("L", c.size, 0)
        full.paste(image.getchannel("A"), at)
        c.shadow(full, (3, 6), 8, shadow)
    c.image.paste(image, at, image)


POSES = [
    {"eyes": "open", "mouth": "smile"},
    {"eyes": "wink", "mouth": "grin"},
    {"eyes": "hearts", "mouth": "smile"},
    {"eyes": "open", "mouth": "o"},
    {"eyes": "closed", "mouth": "smile", "squash": 0.8},
    {"eyes": "closed", "mouth": "grin"},
]


@picture("mascot-sticker-1.jpg")
def _sticker_sheet() -> Canvas:
    c = Canvas("1:1", "stickers-1")
    c.image.paste(gradient(c.size, [(0, (250, 228, 214)), (1, (236, 206, 194))]))
    for n, pose in enumerate(POSES):
        x, y = c.w * (0.2 + (n % 3) * 0.3), c.h * (0.27 + (n // 3) * 0.46)
        face = mascot(370, **pose)  # type: ignore[arg-type]
        place(c, sticker(face), (x, y), angle=(n % 3 - 1) * 8 + (n // 3) * 4)
    c.grain(3)
    return c


def phone(c: Canvas, box: Box, screen: Image.Image, *, angle: float = 0) -> None:
    """A phone, ``box`` its outline, showing ``screen`` (an RGB image drawn at SS scale)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    body = Image.new("RGBA", (round(w * SS), round(h * SS)), (0, 0, 0, 0))
    pen = Pen(body)
    pen.rrect((0, 0, w, h), w * 0.13, (24, 24, 28, 255))
    pen.rrect((2, 2, w - 2, h - 2), w * 0.125, (58, 58, 64, 255))
    pen.rrect((w * 0.035, w * 0.035, w - w * 0.035, h - w * 0.035), w * 0.1, (8, 8, 10, 255))
    bezel = w * 0.045
    fitted = screen.resize(
        (round((w - 2 * bezel) * SS), round((h - 2 * bezel) * SS)), Image.Resampling.LANCZOS
    )
    mask = Image.new("L", fitted.size, 0)
    Pen(mask).rrect((0, 0, w - 2 * bezel, h - 2 * bezel), w * 0.09, 255)
    body.paste(fitted, (round(bezel * SS), round(bezel * SS)), mask)
    pen.rrect((w * 0.36, bezel + w * 0.03, w * 0.64, bezel + w * 0.09), w * 0.03, (8, 8, 10, 255))
    place(c, body, ((x0 + x1) / 2, (y0 + y1) / 2), angle=angle, shadow=0.45)


def chat_screen(w: int, h: int) -> Image.Image:
    """A Telegram-like chat: header, a few messages, stickers from the pack, the input bar."""
    image = gradient((w * SS, h * SS), [(0, (200, 220, 180)), (1, (170, 200, 160))])
    pen = Pen(image)
    rng = random.Random("chat")
    for _ in range(70):  # the wallpaper's doodles
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        pen.circle(x, y, rng.uniform(3, 7), (186, 208, 168))
    pen.rect((0, 0, w, h * 0.1), (250, 250, 250))
    pen.circle(w * 0.14, h * 0.06, h * 0.03, RED)
    text_lines(pen, w * 0.42, h * 0.045, [w * 0.34], h * 0.013, colour=(60, 60, 60))
    text_lines(pen, w * 0.36, h * 0.07, [w * 0.22], h * 0.01, colour=(150, 150, 150))
    pen.rrect((w * 0.05, h * 0.14, w * 0.62, h * 0.21), 18, (255, 255, 255))
    text_lines(pen, w * 0.3, h * 0.16, [w * 0.42, w * 0.3], h * 0.012, colour=(90, 90, 90))
    pen.rrect((w * 0.4, h * 0.24, w * 0.95, h * 0.29), 18, (220, 246, 200))
    text_lines(pen, w * 0.66, h * 0.258, [w * 0.4], h * 0.012, colour=(80, 110, 70))
    for (x, y, pose), size in zip(
        ((0.7, 0.43, 2), (0.3, 0.62, 1), (0.7, 0.8, 4)), (300, 260, 300), strict=True
    ):
        face = sticker(mascot(round(size), **POSES[pose]))  # type: ignore[arg-type]
        face = face.resize((round(w * 0.42 * SS), round(w * 0.42 * SS)), Image.Resampling.LANCZOS)
        image.paste(
            face, (round((w * x) * SS - face.width / 2), round(h * y * SS - face.height / 2)), face
        )
    pen.rect((0, h * 0.92, w, h), (250, 250, 250))
    pen.rrect((w * 0.06, h * 0.935, w * 0.8, h * 0.985), 30, (236, 236, 236))
    pen.circle(w * 0.9, h * 0.96, h * 0.025, (80, 150, 220))
    return image


@picture("mascot-sticker-2.jpg")
def _sticker_phone() -> Canvas:
    c = Canvas("4:5", "stickers-2")
    c.image.paste(gradient(c.size, [(0, (236, 228, 216)), (1, (214, 204, 190))]))
    c.glow((-c.w * 0.2, -c.h * 0.2, c.w * 0.7, c.h * 0.6), (250, 244, 232), 0.5)
    phone(
        c,
        (c.w * 0.27, c.h * 0.07, c.w * 0.73, c.h * 0.07 + c.w * 0.46 * 2.1),
        chat_screen(440, 924),
        angle=-5,
    )
    c.vignette(0.15)
    c.grain(3)
    return c


WALLPAPERS: dict[str, list[RGB]] = {
    # sky top, sky bottom, far hills, near hills, trees, light
    "night": [
        (18, 24, 58),
        (40, 80, 100),
        (30, 52, 70),
        (20, 36, 48),
        (12, 22, 30),
        (240, 232, 190),
    ],
    "dusk": [
        (84, 46, 96),
        (232, 140, 92),
        (120, 70, 90),
        (70, 44, 70),
        (40, 26, 44),
        (255, 214, 150),
    ],
    "day": [
        (130, 190, 230),
        (220, 238, 240),
        (130, 170, 120),
        (84, 130, 84),
        (40, 80, 50),
        (255, 250, 220),
    ],
}


def wallpaper(w: int, h: int, mood: str) -> Image.Image:
    sky_top, sky_bottom, far, near, trees, light = WALLPAPERS[mood]
    image = gradient((w * SS, h * SS), [(0, sky_top), (0.7, sky_bottom), (1, sky_bottom)])
    pen = Pen(image)
    rng = random.Random(f"wallpaper-{mood}")
    if mood == "night":
        for _ in range(120):
            pen.circle(
                rng.uniform(0, w), rng.uniform(0, h * 0.5), rng.uniform(0.6, 1.6), (230, 230, 210)
            )
    pen.circle(w * 0.7, h * 0.22, min(w, h) * 0.08, light)
    pen.ellipse((-w * 0.3, h * 0.55, w * 0.8, h * 1.2), far)
    pen.ellipse((w * 0.3, h * 0.6, w * 1.4, h * 1.2), far)
    for n in range(int(w / 26)):
        x = rng.uniform(-20, w + 20)
        base = h * rng.uniform(0.66, 0.74)
        tall = h * rng.uniform(0.12, 0.26)
        for tier in range(4):
            y = base - tall * tier / 4
            half = tall * (0.28 - tier * 0.055)
            pen.polygon([(x - half, y), (x + half, y), (x, y - tall * 0.4)], trees)
        del n
    pen.ellipse((-w * 0.2, h * 0.8, w * 1.2, h * 1.4), near)
    for x, size in ((0.2, 0.12), (0.3, 0.07), (0.78, 0.09)):
        fly_agaric(pen, w * x, h * 0.92, h * size)
    return image


def monitor(c: Canvas, box: Box, screen: Image.Image) -> None:
    x0, y0, x1, y1 = box
    cx = (x0 + x1) / 2
    c.pen.polygon(
        [(cx - 26, y1), (cx + 26, y1), (cx + 40, y1 + 90), (cx - 40, y1 + 90)], (170, 172, 176)
    )
    c.pen.ellipse((cx - 120, y1 + 80, cx + 120, y1 + 104), (150, 152, 156))
    m, pen = c.mask()
    pen.rrect(box, 14, 255)
    c.shadow(m, (6, 12), 18, 0.4)
    c.pen.rrect(box, 14, (30, 30, 34))
    inset = 12
    fitted = screen.resize(
        (round((x1 - x0 - 2 * inset) * SS), round((y1 - y0 - 2 * inset) * SS)),
        Image.Resampling.LANCZOS,
    )
    c.image.paste(fitted, (round((x0 + inset) * SS), round((y0 + inset) * SS)))


@picture("forest-wallpapers-1.jpg")
def _wallpapers_desk() -> Canvas:
    c = Canvas("16:9", "wallpapers-1")
    wall(c, (214, 218, 214))
    c.wood((0, c.h * 0.74, c.w, c.h), (168, 128, 88))
    monitor(
        c,
        (c.w * 0.2, c.h * 0.08, c.w * 0.72, c.h * 0.08 + c.w * 0.52 * 9 / 16),
        wallpaper(640, 360, "night"),
    )
    # A keyboard and the phone with the same wallpaper, portrait.
    c.pen.rrect((c.w * 0.27, c.h * 0.84, c.w * 0.63, c.h * 0.94), 10, (236, 236, 232))
    for row in range(3):
        for col in range(16):
            x = c.w * 0.285 + col * c.w * 0.0208
            y = c.h * 0.855 + row * c.h * 0.026
            c.pen.rrect((x, y, x + c.w * 0.017, y + c.h * 0.02), 3, (250, 250, 248))
    phone(
        c,
        (c.w * 0.78, c.h * 0.42, c.w * 0.78 + c.h * 0.26, c.h * 0.42 + c.h * 0.26 * 2.1),
        wallpaper(300, 640, "night"),
        angle=8,
    )
    mug(c, c.w * 0.1, c.h * 0.95, c.w * 0.08, Mug(), shadow=0.4)
    c.vignette(0.2)
    c.grain(3)
    return c


@picture("forest-wallpapers-2.jpg")
def _wallpapers_phones() -> Canvas:
    c = Canvas("3:2", "wallpapers-2")
    c.image.paste(gradient(c.size, [(0, (236, 232, 226)), (1, (206, 200, 192))]))
    for n, mood in enumerate(("day", "dusk", "night")):
        x = c.w * (0.24 + n * 0.26)
        w = c.w * 0.19
        phone(
            c,
            (x - w / 2, (c.h - w * 2.1) / 2, x + w / 2, (c.h + w * 2.1) / 2),
            wallpaper(300, 640, mood),
            angle=(n - 1) * -4,
        )
    c.vignette(0.15)
    c.grain(3)
    return c


def colouring_page(w: int, h: int, *, coloured: bool) -> Image.Image:
    image = Image.new("RGB", (w * SS, h * SS), (252, 252, 250))
    pen = Pen(image)
    rng = random.Random("colouring")
    pen.line([(w * 0.05, h * 0.78), (w * 0.95, h * 0.78)], INK, 2.5)
    for _ in range(24):
        x = rng.uniform(w * 0.06, w * 0.94)
        pen.line([(x, h * 0.78), (x + rng.uniform(-8, 8), h * 0.78 - rng.uniform(12, 30))], INK, 2)
    pen.arc((w * 0.62, h * 0.08, w * 0.86, h * 0.08 + w * 0.24), 0, 360, INK, 2.5)
    for n, (x, size) in enumerate(((0.42, 0.5), (0.74, 0.3), (0.18, 0.2))):
        if coloured and n != 1:
            fly_agaric(pen, w * x, h * 0.8, h * size, outline=INK)
        else:
            fly_agaric(pen, w * x, h * 0.8, h * size, line_art=True)
    if coloured:
        # Crayon strokes across the lower part of the sun, still being coloured in.
        r = w * 0.12
        sx, sy = w * 0.74, h * 0.08 + r
        for n in range(12):
            y = sy - r * 0.2 + n * r * 0.1
            half = math.sqrt(max(0.0, r * r - (y - sy) ** 2)) - 3
            if half > 0:
                pen.line([(sx - half, y), (sx + half, y)], (240, 176, 60), 4)
        pen.arc((w * 0.62, h * 0.08, w * 0.86, h * 0.08 + w * 0.24), 0, 360, INK, 2.5)
    return image


def crayon(c: Canvas, a: Point, b: Point, colour: RGB) -> None:
    m, pen = c.mask()
    pen.capsule(a, b, 22, 255)
    c.shadow(m, (4, 6), 6, 0.4)
    c.pen.capsule(a, b, 22, colour)
    dx, dy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(dx, dy)
    ux, uy = dx / length, dy / length
    tip = (b[0] + ux * 34, b[1] + uy * 34)
    c.pen.polygon(
        [(b[0] - uy * 11, b[1] + ux * 11), (b[0] + uy * 11, b[1] - ux * 11), tip],
        darker(colour, 0.1),
    )
    mid = (a[0] + dx * 0.3, a[1] + dy * 0.3)
    c.pen.capsule(mid, (mid[0] + ux * 60, mid[1] + uy * 60), 23, (240, 236, 226))


@picture("colouring-book-1.jpg")
def _colouring_table() -> Canvas:
    c = Canvas("3:4", "colouring-1")
    c.wood((0, 0, c.w, c.h), (186, 150, 110), planks=4)
    lying(c, colouring_page(595, 842, coloured=False), (c.w * 0.36, c.h * 0.4), c.w * 0.56, 6)
    lying(c, colouring_page(595, 842, coloured=True), (c.w * 0.58, c.h * 0.56), c.w * 0.56, -4)
    for n, colour in enumerate((RED, (214, 164, 44), (60, 120, 60), (40, 70, 140))):
        y = c.h * (0.82 + n * 0.035)
        crayon(c, (c.w * 0.08, y), (c.w * 0.36 + n * 12, y - 30), colour)
    c.vignette(0.22)
    c.grain(3)
    return c


@picture("colouring-book-2.jpg")
def _colouring_close() -> Canvas:
    c = Canvas("1:1", "colouring-2")
    c.wood((0, 0, c.w, c.h), (186, 150, 110), planks=3)
    lying(c, colouring_page(595, 842, coloured=True), (c.w * 0.46, c.h * 0.52), c.w * 0.62, 2)
    crayon(c, (c.w * 0.95, c.h * 0.9), (c.w * 0.78, c.h * 0.62), RED)
    crayon(c, (c.w * 0.98, c.h * 0.7), (c.w * 0.84, c.h * 0.45), (214, 164, 44))
    c.vignette(0.22)
    c.grain(3)
    return c


# ---- the script ----------------------------------------------------------------------------


def catalog_files() -> set[str]:
    catalog = json.loads((HERE / "demo.json").read_text(encoding="utf-8"))
    names = set()
    for product in catalog["products"]:
        for url in product["images"]:
            match = re.fullmatch(r"\{static\}images/(.+\.jpg)", url)
            if match:
                names.add(match.group(1))
    return names


def main(only: Sequence[str] = ()) -> int:
    wanted = set(PICTURES) if only else catalog_files()
    if wanted != set(PICTURES):
        sys.stderr.write(
            f"demo.json and this script disagree: not drawn {sorted(wanted - set(PICTURES))}, "
            f"not used {sorted(set(PICTURES) - wanted)}\n"
        )
        return 1
    OUT.mkdir(exist_ok=True)
    for name, scene in PICTURES.items():
        if only and not any(part in name for part in only):
            continue
        scene().save(OUT / name)
    if not only:
        for stale in {p.name for p in OUT.iterdir()} - set(PICTURES):
            (OUT / stale).unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
