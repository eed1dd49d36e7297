"""The sticker conversion core: pure functions plus a crash-proof process pool.

No aiogram and no aiohttp here: the bot and the sticker service both build on it.
"""

from sticker_core.convert import CONTENT_TYPES, OUTPUT_FORMATS, Converted, convert
from sticker_core.detect import Format, detect_format
from sticker_core.errors import StickerError
from sticker_core.facade import StickerInfo, StickerRenderer, inspect_sticker
from sticker_core.pool import Lane, RenderPool
from sticker_core.rules import RuleWarning, check_rules
from sticker_core.tgs import Lottie, LottieHeader, load_animation, lottie_to_tgs, tgs_to_lottie

__all__ = [
    "CONTENT_TYPES",
    "OUTPUT_FORMATS",
    "Converted",
    "Format",
    "Lane",
    "Lottie",
    "LottieHeader",
    "RenderPool",
    "RuleWarning",
    "StickerError",
    "StickerInfo",
    "StickerRenderer",
    "check_rules",
    "convert",
    "detect_format",
    "inspect_sticker",
    "load_animation",
    "lottie_to_tgs",
    "tgs_to_lottie",
]
