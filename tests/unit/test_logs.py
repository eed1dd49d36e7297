from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.telegram.logs import chat_id_var, setup_logging, update_id_var

TOKEN = "123456789:AAHk-secret-token-of-the-real-bot_xyz"


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


def _fail_with_token() -> None:
    raise RuntimeError(f"Cannot connect to /bot{TOKEN}/sendPhoto")


def test_the_bot_token_never_reaches_a_log_line(restore_root: None) -> None:
    out = io.StringIO()
    setup_logging("INFO", "text", secrets=[TOKEN], stream=out)
    log = logging.getLogger("aiohttp.client")
    log.info("POST https://api.telegram.org/bot%s/sendMessage", TOKEN)
    log.warning("request to %s failed", f"/bot{TOKEN}/getMe")
    try:
        _fail_with_token()
    except RuntimeError:
        log.exception("send failed")
    # A token the process was not given, shaped like one, is hidden too.
    log.error("other bot 987654321:ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ")
    text = out.getvalue()
    assert TOKEN not in text
    assert "AAHk-secret" not in text
    assert "ZZZZZZZZZZZZZZZZZZZZ" not in text
    assert text.count("<redacted>") == 4
    assert "RuntimeError" in text  # the exception is still logged, only the token is gone


def test_json_lines_carry_the_update_and_chat_ids(restore_root: None) -> None:
    out = io.StringIO()
    setup_logging("INFO", "json", secrets=[TOKEN], stream=out)
    update_id_var.set(42)
    chat_id_var.set(501)
    try:
        logging.getLogger("bot.telegram.handlers").warning("card for %s failed", TOKEN)
    finally:
        update_id_var.set(None)
        chat_id_var.set(None)
    line = json.loads(out.getvalue().strip())
    assert line["update_id"] == 42
    assert line["chat_id"] == 501
    assert line["level"] == "WARNING"
    assert line["message"] == "card for <redacted> failed"
