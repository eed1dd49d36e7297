"""Draw the demo shop's animated mascot sticker: ``python catalog/make_demo_sticker.py``.

Writes ``catalog/stickers/mascot.tgs``: a fly agaric that bounces, squashes and wobbles,
made of a few Lottie shapes. It keeps Telegram's rules for animated stickers
(https://core.telegram.org/animated_stickers): 512x512 canvas, 60 fps, 2 s, a few KB, no
forbidden features; the script checks them with sticker_core and refuses to write otherwise.
The output is committed; rerun after changing the drawing.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))  # run as a script from anywhere in the checkout

from sticker_core import check_rules, lottie_to_tgs  # noqa: E402
from sticker_core.tgs import load_tgs  # noqa: E402

FPS = 60
FRAMES = 120  # 2 s: two bounces
OUT = HERE / "stickers" / "mascot.tgs"
EASE = {"i": {"x": [0.45], "y": [1]}, "o": {"x": [0.55], "y": [0]}}


def static(value: Any) -> dict[str, Any]:
    return {"a": 0, "k": value}


def animated(keys: list[tuple[int, Any]]) -> dict[str, Any]:
    frames: list[dict[str, Any]] = []
    for n, (t, value) in enumerate(keys):
        key: dict[str, Any] = {"t": t, "s": value if isinstance(value, list) else [value]}
        if n < len(keys) - 1:
            key |= EASE
        frames.append(key)
    return {"a": 1, "k": frames}


def fill(rgb: tuple[int, int, int]) -> dict[str, Any]:
    return {"ty": "fl", "c": static([c / 255 for c in rgb] + [1]), "o": static(100), "r": 1}


def transform() -> dict[str, Any]:
    return {
        "ty": "tr",
        "p": static([0, 0]),
        "a": static([0, 0]),
        "s": static([100, 100]),
        "r": static(0),
        "o": static(100),
        "sk": static(0),
        "sa": static(0),
    }


def group(shapes: list[dict[str, Any]], rgb: tuple[int, int, int]) -> dict[str, Any]:
    return {"ty": "gr", "it": [*shapes, fill(rgb), transform()]}


def ellipse(x: float, y: float, w: float, h: float) -> dict[str, Any]:
    return {"ty": "el", "d": 1, "p": static([x, y]), "s": static([w, h])}


def cap() -> dict[str, Any]:
    """The dome of the cap: a closed Bezier path (tangents are relative to their vertex)."""
    return {
        "ty": "sh",
        "ks": static(
            {
                "c": True,
                "v": [[96, 285], [256, 110], [416, 285], [256, 305]],
                "i": [[40, 15], [-95, 0], [0, -95], [90, 0]],
                "o": [[0, -95], [95, 0], [-40, 15], [-90, 0]],
            }
        ),
    }


def mascot() -> dict[str, Any]:
    spots = [(180, 200, 50, 40), (256, 152, 44, 34), (332, 205, 52, 40), (215, 262, 36, 26)]
    shapes = [
        # Drawn top first: eyes and spots over the cap, the cap over the stem.
        group([ellipse(236, 350, 14, 22), ellipse(276, 350, 14, 22)], (40, 30, 30)),
        group([ellipse(*spot) for spot in spots] + [ellipse(300, 264, 36, 26)], (255, 255, 255)),
        group([cap()], (205, 30, 35)),
        group(
            [
                {
                    "ty": "rc",
                    "d": 1,
                    "p": static([256, 362]),
                    "s": static([112, 170]),
                    "r": static(42),
                }
            ],
            (245, 238, 220),
        ),
    ]
    layer = {
        "ddd": 0,
        "ind": 1,
        "ty": 4,
        "nm": "mascot",
        "sr": 1,
        "ks": {
            "o": static(100),
            # Rock around the foot of the stem, bounce up and squash on landing.
            "a": static([256, 447, 0]),
            "r": animated([(0, -4), (60, 4), (120, -4)]),
            "p": animated(
                [
                    (0, [256, 447, 0]),
                    (30, [256, 400, 0]),
                    (60, [256, 447, 0]),
                    (90, [256, 400, 0]),
                    (120, [256, 447, 0]),
                ]
            ),
            "s": animated(
                [
                    (0, [108, 92, 100]),
                    (30, [96, 105, 100]),
                    (60, [108, 92, 100]),
                    (90, [96, 105, 100]),
                    (120, [108, 92, 100]),
                ]
            ),
        },
        "ao": 0,
        "shapes": shapes,
        "ip": 0,
        "op": FRAMES,
        "st": 0,
        "bm": 0,
    }
    return {
        "tgs": 1,
        "v": "5.5.2",
        "fr": FPS,
        "ip": 0,
        "op": FRAMES,
        "w": 512,
        "h": 512,
        "nm": "Amanita mascot",
        "ddd": 0,
        "assets": [],
        "layers": [layer],
    }


def main() -> None:
    import orjson  # noqa: PLC0415 - only needed when run

    tgs = lottie_to_tgs(orjson.dumps(mascot()))
    broken = check_rules(load_tgs(tgs), len(tgs))
    if broken:
        raise SystemExit(
            "the mascot breaks Telegram's rules: " + "; ".join(w.message for w in broken)
        )
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_bytes(tgs)
    print(f"{OUT}: {len(tgs)} bytes")  # noqa: T201 - a script's report


if __name__ == "__main__":
    main()
