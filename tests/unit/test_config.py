from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import _SECTIONS, SettingsError, load_settings


def test_defaults_need_no_environment() -> None:
    settings = load_settings(env_file=None)
    assert settings.bot.bot_token is None
    assert str(settings.bot.telegram_api_url) == "https://api.telegram.org/"
    assert settings.http.max_connections == 100
    assert settings.http.max_connections_per_host == 30
    assert settings.images.max_bytes == 10 * 1024 * 1024


def test_admin_ids_are_comma_separated_as_operators_write_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADMIN_IDS", "123, 456,789")
    assert load_settings(env_file=None).bot.admin_ids == {123, 456, 789}


def test_token_is_secret_and_never_printed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BOT_TOKEN", "42:secret-token")
    settings = load_settings(env_file=None)
    assert settings.bot.bot_token is not None
    assert settings.bot.bot_token.get_secret_value() == "42:secret-token"
    assert "secret-token" not in repr(settings)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMAGE_CACHE_TTL", "abc"),
        ("ADMIN_IDS", "12,bob"),
        ("HTTP_MAX_CONNECTIONS", "0"),
        ("TELEGRAM_API_URL", "not a url"),
        # Past the 256 KB batch a body is written by a thread whatever this says.
        ("IMAGE_WRITE_INLINE_MAX_BYTES", "262145"),
    ],
)
def test_bad_value_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=name):
        load_settings(env_file=None)


def test_env_file_is_read(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("IMAGE_CACHE_TTL=60\nADMIN_IDS=7\n")
    settings = load_settings(env_file=env)
    assert settings.images.cache_ttl == 60
    assert settings.bot.admin_ids == {7}


def test_env_example_lists_every_variable() -> None:
    example = (Path(__file__).parents[2] / ".env.example").read_text()
    # Every registered section, so a section added later cannot slip past this test.
    for section in _SECTIONS.values():
        prefix = str(section.model_config.get("env_prefix", ""))
        for field in section.model_fields:
            assert f"\n{(prefix + field).upper()}=" in example, f"{section.__name__}.{field}"


@pytest.mark.parametrize("token", ["12345", "abc:def", "123:", "123: def", ":abc"])
def test_a_malformed_bot_token_is_one_line_that_names_it_and_hides_it(
    monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.setenv("BOT_TOKEN", token)
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert message.splitlines() == [message]
    assert message.startswith("invalid setting BOT_TOKEN: not a bot token")
    assert message.endswith("(got hidden)")


def test_several_bad_values_are_listed_one_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IMAGE_CACHE_TTL", "abc")
    monkeypatch.setenv("HEALTH_PORT", "70000")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid settings:"
    assert [line.split(":")[0].strip() for line in lines[1:]] == ["IMAGE_CACHE_TTL", "HEALTH_PORT"]


def test_the_shop_s_time_zone_is_an_iana_name_checked_at_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert load_settings(env_file=None).bot.shop_timezone == ZoneInfo("UTC")
    monkeypatch.setenv("SHOP_TIMEZONE", "Europe/Moscow")
    assert load_settings(env_file=None).bot.shop_timezone == ZoneInfo("Europe/Moscow")
    monkeypatch.setenv("SHOP_TIMEZONE", "Moscow")
    with pytest.raises(SettingsError, match=r"^invalid setting SHOP_TIMEZONE: invalid timezone"):
        load_settings(env_file=None)


def test_an_empty_health_port_means_no_health_server_in_polling_mode(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEALTH_PORT", "")
    assert load_settings(env_file=None).health.port is None
    monkeypatch.delenv("HEALTH_PORT")
    assert load_settings(env_file=None).health.port == 8082
