"""Stickers built in code: for tests, benchmarks and the demo catalog.

No binary fixtures in the repository: a sticker here is a few lines of Lottie whose every
pixel is known, e.g. an orange square at 80 % opacity in the middle of a 512 px canvas.
"""

from __future__ import annotations

import math
import random
import zlib
from typing import Any

import orjson

ORANGE = (255, 140, 25)


def _static(value: Any) -> dict[str, Any]:
    return {"a": 0, "k": value}


def _transform(x: float = 0, y: float = 0) -> dict[str, Any]:
    return {
        "ty": "tr",
        "p": _static([x, y]),
        "a": _static([0, 0]),
        "s": _static([100, 100]),
        "r": _static(0),
        "o": _static(100),
        "sk": _static(0),
        "sa": _static(0),
    }


def _fill(rgb: tuple[int, int, int], opacity: float) -> dict[str, Any]:
    return {"ty": "fl", "c": _static([c / 255 for c in rgb] + [1]), "o": _static(opacity), "r": 1}


def shape_layer(
    shapes: list[dict[str, Any]], *, ind: int = 1, op: float = 60, position: Any = None
) -> dict[str, Any]:
    return {
        "ddd": 0,
        "ind": ind,
        "ty": 4,
        "nm": f"layer {ind}",
        "sr": 1,
        "ks": {
            "o": _static(100),
            "r": _static(0),
            "p": position if position is not None else _static([0, 0, 0]),
            "a": _static([0, 0, 0]),
            "s": _static([100, 100, 100]),
        },
        "ao": 0,
        "shapes": shapes,
        "ip": 0,
        "op": op,
        "st": 0,
        "bm": 0,
    }


def square_doc(
    *,
    width: int = 512,
    height: int = 512,
    fps: float = 60,
    frames: float = 60,
    rgb: tuple[int, int, int] = ORANGE,
    opacity: float = 80,
    moving: bool = False,
) -> dict[str, Any]:
    """A square of half the canvas in its middle, ``rgb`` at ``opacity`` percent.

    With ``moving`` it slides from the left edge to the centre over the animation, so frames
    differ (the centre pixel is covered from the middle of the animation on).
    """
    side = [width / 2, height / 2]
    rect = {"ty": "rc", "d": 1, "s": _static(side), "p": _static([0, 0]), "r": _static(0)}
    group = {"ty": "gr", "it": [rect, _fill(rgb, opacity), _transform()]}
    position: Any = _static([width / 2, height / 2, 0])
    if moving:
        position = {
            "a": 1,
            "k": [
                {"t": 0, "s": [0, height / 2, 0], "i": {"x": 1, "y": 1}, "o": {"x": 0, "y": 0}},
                {"t": frames, "s": [width, height / 2, 0]},
            ],
        }
    return {
        "tgs": 1,
        "v": "5.5.2",
        "fr": fps,
        "ip": 0,
        "op": frames,
        "w": width,
        "h": height,
        "nm": "square",
        "ddd": 0,
        "assets": [],
        "layers": [shape_layer([group], op=frames, position=position)],
    }


def busy_doc(target_gzip_bytes: int = 20_000, seed: int = 7) -> dict[str, Any]:
    """A 3 s, 60 fps sticker of many animated blobs whose TGS is about ``target_gzip_bytes``.

    Random keyframes do not compress away, so the size is like a real artist's sticker.
    """
    rng = random.Random(seed)
    doc = square_doc(frames=180)
    layers: list[dict[str, Any]] = []
    while len(gzip_json(doc | {"layers": layers})) < target_gzip_bytes:
        points = 8
        verts = []
        for i in range(points):
            angle = 2 * math.pi * i / points
            radius = rng.uniform(20, 60)
            verts.append([round(radius * math.cos(angle), 2), round(radius * math.sin(angle), 2)])
        path = {
            "ty": "sh",
            "ks": _static({"c": True, "v": verts, "i": [[0, 0]] * points, "o": [[0, 0]] * points}),
        }
        rgb = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        keys: list[dict[str, Any]] = [
            {"t": t, "s": [rng.uniform(60, 452), rng.uniform(60, 452), 0]} for t in (0, 60, 120)
        ]
        for key in keys[:-1]:
            key |= {"i": {"x": 0.5, "y": 0.5}, "o": {"x": 0.5, "y": 0.5}}
        group = {"ty": "gr", "it": [path, _fill(rgb, rng.uniform(50, 100)), _transform()]}
        layers.append(
            shape_layer([group], ind=len(layers) + 1, op=180, position={"a": 1, "k": keys})
        )
    doc["layers"] = layers
    return doc


def to_json(doc: Any) -> bytes:
    return orjson.dumps(doc)


def gzip_json(doc: Any) -> bytes:
    """``doc`` as a TGS file (gzip of its JSON)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return packer.compress(orjson.dumps(doc)) + packer.flush()
