"""Telegram's rules for animated stickers, reported as warnings.

Source: https://core.telegram.org/animated_stickers ("Technical Requirements"). Real stickers
in the wild break them (old 30 fps packs, 70 KB files, 4 s loops) and Telegram still shows
them, so a breach is something to tell the shop owner, not a reason to refuse the file.
Refusals are for files that are unsafe to process; those raise in :mod:`sticker_core.tgs`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sticker_core.tgs import Lottie

MAX_TGS_BYTES = 64 * 1024
CANVAS = 512
ALLOWED_FPS = (30.0, 60.0)
MAX_SECONDS = 3.0

# Layer "ty" codes and shape "ty" codes After Effects features map to in Lottie.
_LAYER_TYPES = {1: "solid layers", 2: "image layers", 5: "text layers"}
_SHAPE_TYPES = {"mm": "merge paths", "gs": "gradient strokes", "rp": "repeaters"}


@dataclass(frozen=True, slots=True)
class RuleWarning:
    code: str
    message: str


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    """Every object in the document, without recursion (orjson already bounds the depth)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _layers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield from doc["layers"]
    for asset in doc.get("assets") or ():
        if isinstance(asset, dict):
            yield from (lay for lay in asset.get("layers") or () if isinstance(lay, dict))


def _layer_features(layer: dict[str, Any]) -> Iterator[str]:
    kind = layer.get("ty")
    if isinstance(kind, int) and kind in _LAYER_TYPES:  # a hostile "ty" may be unhashable
        yield _LAYER_TYPES[kind]
    if layer.get("ddd") == 1:
        yield "3D layers"
    if layer.get("hasMask") or layer.get("masksProperties"):
        yield "masks"
    if layer.get("ef"):
        yield "layer effects"
    if "tm" in layer:
        yield "time remapping"
    if layer.get("sr", 1) != 1:
        yield "time stretching"
    if layer.get("ao") == 1:
        yield "auto-oriented layers"


def _forbidden_features(doc: dict[str, Any]) -> set[str]:
    found: set[str] = set()
    for layer in _layers(doc):
        found.update(_layer_features(layer))
    if doc.get("ddd") == 1:
        found.add("3D layers")
    for obj in _walk(doc["layers"]):
        kind = obj.get("ty")
        if isinstance(kind, str) and kind in _SHAPE_TYPES:
            found.add(_SHAPE_TYPES[kind])
        if kind == "sr" and obj.get("sy") == 1:
            found.add("star shapes")
        # An animatable property carries its expression as a string under "x".
        if isinstance(obj.get("x"), str) and "k" in obj:
            found.add("expressions")
    return found


def check_rules(lottie: Lottie, tgs_size: int | None = None) -> list[RuleWarning]:
    """The Telegram rules this sticker breaks (an empty list when it keeps them all)."""
    warnings: list[RuleWarning] = []
    header = lottie.header
    if tgs_size is not None and tgs_size > MAX_TGS_BYTES:
        warnings.append(
            RuleWarning("size", f"TGS is {tgs_size} bytes; Telegram allows {MAX_TGS_BYTES}")
        )
    if (header.width, header.height) != (CANVAS, CANVAS):
        warnings.append(
            RuleWarning(
                "canvas", f"canvas is {header.width}x{header.height}; Telegram wants 512x512"
            )
        )
    if header.fps not in ALLOWED_FPS:
        warnings.append(RuleWarning("fps", f"{header.fps:g} fps; Telegram wants 30 or 60"))
    if header.duration > MAX_SECONDS + 1e-9:
        warnings.append(
            RuleWarning(
                "duration", f"{header.duration:.2f} s long; Telegram allows {MAX_SECONDS:g} s"
            )
        )
    if "tgs" not in lottie.doc:
        warnings.append(RuleWarning("marker", 'no "tgs": 1 marker; Telegram refuses such files'))
    warnings.extend(
        RuleWarning("feature", f"uses {feature}, which Telegram stickers must not")
        for feature in sorted(_forbidden_features(lottie.doc))
    )
    return warnings
