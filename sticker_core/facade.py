"""``StickerRenderer``: the async face of the core for the bot and the service.

Every method runs its work in the :class:`RenderPool`, so the caller's event loop never
gunzips, parses or renders.
"""

from __future__ import annotations

from dataclasses import dataclass

from sticker_core import render
from sticker_core.convert import Converted, convert
from sticker_core.detect import Format, detect_format
from sticker_core.pool import WORKER_MAX_MB, RenderPool
from sticker_core.rules import RuleWarning, check_rules
from sticker_core.tgs import load_animation, lottie_to_tgs, tgs_to_lottie


@dataclass(frozen=True, slots=True)
class StickerInfo:
    format: str
    width: int
    height: int
    fps: float
    frames: float
    duration: float
    warnings: tuple[RuleWarning, ...]


def inspect_sticker(data: bytes) -> StickerInfo:
    """Header and Telegram-rule warnings of a TGS or Lottie file (runs in a worker)."""
    source = detect_format(data)
    lottie = load_animation(data)
    header = lottie.header
    size = len(data) if source is Format.TGS else None
    return StickerInfo(
        format=str(source),
        width=header.width,
        height=header.height,
        fps=header.fps,
        frames=header.frames,
        duration=header.duration,
        warnings=tuple(check_rules(lottie, size)),
    )


class StickerRenderer:
    """Owns a RenderPool; ``async with StickerRenderer() as r: png = await r.png_poster(tgs)``."""

    def __init__(
        self,
        workers: int = 2,
        timeout: float = 10.0,
        *,
        worker_max_mb: int | None = WORKER_MAX_MB,
        pool: RenderPool | None = None,
    ) -> None:
        self.pool = (
            pool if pool is not None else RenderPool(workers, timeout, worker_max_mb=worker_max_mb)
        )

    async def start(self) -> None:
        await self.pool.start()

    async def close(self) -> None:
        await self.pool.close()

    def health(self) -> str | None:
        """None when the render pool takes jobs, else why not (for /health; runs no job)."""
        return self.pool.health()

    async def __aenter__(self) -> StickerRenderer:
        await self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def convert(
        self, data: bytes, fmt: str, size: int | None = None, frame: int = 0
    ) -> Converted:
        return await self.pool.run(convert, data, fmt, size, frame)

    async def tgs_to_lottie(self, tgs: bytes) -> bytes:
        return await self.pool.run(tgs_to_lottie, tgs)

    async def lottie_to_tgs(self, lottie_json: bytes) -> bytes:
        return await self.pool.run(lottie_to_tgs, lottie_json)

    async def png_poster(self, tgs: bytes, size: int = render.PNG_SIZE, frame: int = 0) -> bytes:
        return await self.pool.run(render.render_png, tgs, size, frame)

    async def webp_preview(
        self, tgs: bytes, size: int = render.ANIM_SIZE, fps: int | None = None
    ) -> bytes:
        return await self.pool.run(render.render_webp, tgs, size, fps)

    async def gif_preview(
        self, tgs: bytes, size: int = render.ANIM_SIZE, fps: int | None = None
    ) -> bytes:
        return await self.pool.run(render.render_gif, tgs, size, fps)

    async def inspect(self, data: bytes) -> StickerInfo:
        return await self.pool.run(inspect_sticker, data)
