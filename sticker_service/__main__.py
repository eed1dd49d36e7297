"""``python -m sticker_service``: one process, for development (``./run.sh sticker``).

Production runs several workers under gunicorn (``./run.sh prod``, gunicorn_conf.py).

The imports live inside main(): render-pool workers start by importing the parent's main
module (multiprocessing's forkserver and spawn do that), and they need none of aiohttp,
Redis or the settings, so this module must cost them nothing.
"""

from __future__ import annotations


def main() -> None:
    import logging  # noqa: PLC0415

    from aiohttp import web  # noqa: PLC0415

    from sticker_service.app import create_app  # noqa: PLC0415
    from sticker_service.config import load_settings  # noqa: PLC0415

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    web.run_app(create_app(settings), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()
