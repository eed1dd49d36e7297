"""Bot commands in a bot's own text become bot_command entities, as Telegram makes them:
this is what makes "/help" in an answer tappable."""

from __future__ import annotations

import pytest

from sandbox.limits import find_bot_commands, format_text


def _commands(text: str, parse_mode: str | None = None) -> list[str]:
    plain, entities = format_text(text, parse_mode, None)
    return [
        plain[e["offset"] : e["offset"] + e["length"]]
        for e in entities
        if e["type"] == "bot_command"
    ]


@pytest.mark.parametrize(
    ("text", "commands"),
    [
        ("Send /start to see the catalog, or /help.", ["/start", "/help"]),
        ("/start", ["/start"]),
        ("(/cache_stats)", ["/cache_stats"]),
        ("/start@amanita_bot please", ["/start@amanita_bot"]),
        ("and/or, 1/2, http://x.org/path", []),  # a word or a slash right before
        ("/start/now /a<b", []),  # a slash or a bracket right after
        ("/start@ab", []),  # a bot name is 3-32 characters
        ("/" + "x" * 65, []),  # a command is 1-64 characters
        ("/ alone", []),
        ("Ответ: /help — справка", ["/help"]),  # next to Cyrillic words and spaces
        ("/help—", ["/help"]),  # a dash is no word character
        ("/helpы", []),  # a Cyrillic letter is
    ],
)
def test_plain_text_commands_are_found_as_telegram_finds_them(text, commands):
    assert _commands(text) == commands


def test_offsets_are_utf16_units_and_entities_come_in_order():
    plain, entities = format_text("🍄 <b>Shop</b>: /help", "HTML", None)
    assert plain == "🍄 Shop: /help"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 4},
        {"type": "bot_command", "offset": 9, "length": 5},
    ]


def test_commands_inside_bold_count_but_not_inside_code_or_links():
    assert _commands("<b>Send /start</b>", "HTML") == ["/start"]
    assert _commands("<code>/start</code>", "HTML") == []
    assert _commands('<a href="https://x.org">/start</a>', "HTML") == []


def test_no_commands_no_change():
    assert find_bot_commands("no commands here", []) == []
    assert format_text("<b>pong</b>", "HTML", None)[1] == [
        {"type": "bold", "offset": 0, "length": 4}
    ]
