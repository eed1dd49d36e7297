"""The compose files as `docker-compose config` resolves them, with no engine.

Debian's docker-compose 1.29 validates a file without a `version:` key against the compose
specification (it carries compose_spec.json) and prints the result with every ${VAR}
interpolated and env_file merged, which is what these tests read. The operator's .env here is
a copy of .env.example with the required values filled in: a fresh checkout's path.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy.engine import URL

from bot.storage.db import database_url, default_database_url
from tests.docker.dockerfile import REPO, parse

SECRET = "s3cret_Token-1"
# What `openssl rand -hex 24` gives, as .env.example suggests.
DB_PASSWORD = "5f0c2e9a1b7d44c3a8e6f1029b3d7c5e4a6f8b0c1d2e3f40"
# What a container's server must listen on to be reached from the network (not a bind here).
EVERY_INTERFACE = "0.0.0.0"  # noqa: S104
REQUIRED = {
    "BOT_TOKEN": "123456:TEST-token",
    "WEBHOOK_URL": "https://shop.example.com/webhook",
    "WEBHOOK_SECRET": SECRET,
    "POSTGRES_PASSWORD": DB_PASSWORD,
}
# What an operator's .env says when it was written for running the bot outside a container.
LOCAL_DATABASE = {"DATABASE_URL": "sqlite+aiosqlite:///data/shop.sqlite3"}


@dataclass(frozen=True)
class Resolved:
    returncode: int
    stdout: str
    stderr: str

    def config(self) -> dict[str, Any]:
        assert self.returncode == 0, self.stderr
        data = yaml.safe_load(self.stdout)
        assert isinstance(data, dict)
        return data


def env_file(values: dict[str, str]) -> str:
    """.env.example with ``values`` put in place of its own (added at the end when it has no
    such line)."""
    lines = []
    for line in (REPO / ".env.example").read_text(encoding="utf-8").splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values[name]}" if name in values else line)
    listed = {line.split("=", 1)[0] for line in lines}
    lines += [f"{name}={value}" for name, value in values.items() if name not in listed]
    return "\n".join(lines) + "\n"


def without(*names: str) -> dict[str, str]:
    return {k: v for k, v in REQUIRED.items() if k not in names}


@pytest.fixture(scope="module")
def resolved(docker_compose: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Resolved]:
    """Every `config` run the tests read, started at once (each takes a second or more)."""
    runs: dict[str, tuple[Path, str]] = {
        "webhook": (REPO / "docker" / "docker-compose.yml", env_file(REQUIRED)),
        # No POSTGRES_PASSWORD: the polling file has no PostgreSQL to ask one for.
        "polling": (
            REPO / "docker" / "docker-compose.polling.yml",
            env_file(without("POSTGRES_PASSWORD")),
        ),
        # .env.example's own empty `WEBHOOK_SECRET=`: what an operator who forgot it has.
        "no-secret": (REPO / "docker" / "docker-compose.yml", env_file(without("WEBHOOK_SECRET"))),
        "no-db-password": (
            REPO / "docker" / "docker-compose.yml",
            env_file(without("POSTGRES_PASSWORD")),
        ),
        "polling-no-token": (
            REPO / "docker" / "docker-compose.polling.yml",
            env_file({**REQUIRED, "BOT_TOKEN": ""}),
        ),
        "webhook-local-db": (
            REPO / "docker" / "docker-compose.yml",
            env_file({**REQUIRED, **LOCAL_DATABASE}),
        ),
        "polling-local-db": (
            REPO / "docker" / "docker-compose.polling.yml",
            env_file({**REQUIRED, **LOCAL_DATABASE}),
        ),
    }
    procs = {}
    for name, (compose, env) in runs.items():
        # A repo-shaped tree: the compose file's ../.env is this run's .env, not a developer's.
        root = tmp_path_factory.mktemp(name)
        shutil.copytree(REPO / "docker", root / "docker")
        (root / ".env").write_text(env, encoding="utf-8")
        procs[name] = subprocess.Popen(  # noqa: S603 - our own argv, no shell
            [docker_compose, "--env-file", ".env", "-f", f"docker/{compose.name}", "config"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            # No daemon is asked; a DOCKER_HOST in the environment must not matter.
            env={"PATH": "/usr/bin:/bin", "HOME": str(root)},
        )
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = Resolved(proc.returncode, out, err)
    return results


@pytest.fixture(scope="module")
def webhook(resolved: dict[str, Resolved]) -> dict[str, Any]:
    return resolved["webhook"].config()


@pytest.fixture(scope="module")
def polling(resolved: dict[str, Resolved]) -> dict[str, Any]:
    return resolved["polling"].config()


def shutdown_grace_s() -> float:
    """bot/app/factory.py's SHUTDOWN_GRACE_S, read from the source: importing the bot (aiogram and
    all) for one constant costs more than all of these tests."""
    source = (REPO / "bot" / "app" / "factory.py").read_text(encoding="utf-8")
    found = re.search(r"^SHUTDOWN_GRACE_S(?:\s*:\s*\w+)?\s*=\s*([\d.]+)\s*$", source, re.MULTILINE)
    assert found is not None, "bot/app/factory.py has no SHUTDOWN_GRACE_S"
    return float(found.group(1))


def redis_flags(service: dict[str, Any]) -> dict[str, str]:
    command = service["command"]
    assert command[0] == "redis-server"
    args = command[1:]
    assert len(args) % 2 == 0, args
    assert all(a.startswith("--") for a in args[::2]), args
    return {
        name.removeprefix("--"): value for name, value in zip(args[::2], args[1::2], strict=True)
    }


def test_webhook_stack_has_bot_stickers_postgres_two_redis_and_nginx(
    webhook: dict[str, Any],
) -> None:
    assert set(webhook["services"]) == {
        "bot",
        "stickers",
        "postgres",
        "redis",
        "redis-cache",
        "nginx",
    }


@pytest.mark.parametrize("name", ["bot", "stickers"])
def test_app_services_can_be_scaled(webhook: dict[str, Any], name: str) -> None:
    service = webhook["services"][name]
    # `--scale bot=3` needs containers without a fixed name and without a fixed host port.
    assert "container_name" not in service
    assert "ports" not in service


def test_only_nginx_publishes_ports(webhook: dict[str, Any]) -> None:
    published = {name for name, s in webhook["services"].items() if s.get("ports")}
    assert published == {"nginx"}
    targets = {p["target"] for p in webhook["services"]["nginx"]["ports"]}
    assert targets == {80, 443}


def redis_service(services: dict[str, Any], url: str) -> dict[str, Any]:
    """The compose service a redis:// URL names (by its host)."""
    host = re.fullmatch(r"redis://([\w-]+):6379/\d+", url)
    assert host is not None, url
    return dict(services[host.group(1)])


@pytest.mark.parametrize("variant", ["webhook", "polling"])
def test_state_redis_never_evicts_and_keeps_an_aof(
    resolved: dict[str, Resolved], variant: str
) -> None:
    redis = resolved[variant].config()["services"]["redis"]
    assert redis["image"].startswith("redis:7")
    flags = redis_flags(redis)
    assert flags["maxmemory"] == "256mb"
    assert flags["maxmemory-policy"] == "noeviction"
    assert flags["appendonly"] == "yes"
    assert any(
        v["target"] == "/data" if isinstance(v, dict) else v.startswith("redis-data:/data")
        for v in redis["volumes"]
    ), "the AOF must live on a volume"


def test_sticker_cache_redis_evicts_lru_and_persists_nothing(webhook: dict[str, Any]) -> None:
    cache = webhook["services"]["redis-cache"]
    assert cache["image"].startswith("redis:7")
    flags = redis_flags(cache)
    assert flags["maxmemory"] == "512mb"
    assert flags["maxmemory-policy"] == "allkeys-lru"
    assert (flags["appendonly"], flags["save"]) == ("no", "")
    assert not cache.get("volumes")


@pytest.mark.parametrize("variant", ["webhook", "polling"])
def test_state_never_shares_a_redis_with_the_sticker_cache(
    resolved: dict[str, Resolved], variant: str
) -> None:
    """Multi-MB stickers filling an LRU Redis would evict file_ids, languages, FSM state and
    rate-limit counters: everything but the cache goes to the Redis that does not evict."""
    services = resolved[variant].config()["services"]
    state_urls = [services["bot"]["environment"]["REDIS_URL"]]
    if "stickers" in services:
        stickers = services["stickers"]["environment"]
        state_urls.append(stickers["REDIS_URL"])  # its rate-limit counters
        cache = redis_service(services, stickers["STICKER_CACHE_REDIS_URL"])
        assert redis_flags(cache)["maxmemory-policy"] == "allkeys-lru"
    for url in state_urls:
        assert redis_flags(redis_service(services, url))["maxmemory-policy"] == "noeviction"


def test_missing_webhook_secret_stops_config_with_a_clear_message(
    resolved: dict[str, Resolved],
) -> None:
    run = resolved["no-secret"]
    assert run.returncode != 0
    assert "set WEBHOOK_SECRET in .env" in run.stderr
    assert run.stdout.strip() == "", "nothing may be printed as if the file were fine"


def test_polling_variant_needs_a_bot_token(resolved: dict[str, Resolved]) -> None:
    run = resolved["polling-no-token"]
    assert run.returncode != 0
    assert "set BOT_TOKEN in .env" in run.stderr


def test_bot_runs_in_webhook_mode_with_the_operators_values(webhook: dict[str, Any]) -> None:
    env = webhook["services"]["bot"]["environment"]
    assert env["MODE"] == "webhook"
    assert env["WEBHOOK_SECRET"] == SECRET
    assert env["WEBHOOK_URL"] == REQUIRED["WEBHOOK_URL"]
    assert env["BOT_TOKEN"] == REQUIRED["BOT_TOKEN"]


def test_container_settings_beat_a_copied_env_example(webhook: dict[str, Any]) -> None:
    """.env.example says WEB_SERVER_HOST=127.0.0.1, DATA_DIR=data, REDIS_URL= (empty): in a
    container those would make the bot unreachable, stateless and alone."""
    image_env = parse()[-1].env()
    bot = webhook["services"]["bot"]["environment"]
    assert bot["WEB_SERVER_HOST"] == EVERY_INTERFACE
    assert bot["REDIS_URL"].startswith("redis://redis:")
    # The image's volumes are where the data goes.
    assert bot["DATA_DIR"] == image_env["DATA_DIR"]
    assert bot["IMAGE_CACHE_DIR"] == image_env["IMAGE_CACHE_DIR"]
    stickers = webhook["services"]["stickers"]["environment"]
    assert stickers["HOST"] == EVERY_INTERFACE
    assert stickers["REDIS_URL"].startswith("redis://redis:")
    assert stickers["STICKER_CACHE_REDIS_URL"].startswith("redis://redis-cache:")


def test_sticker_service_runs_under_gunicorn_as_run_sh_prod(webhook: dict[str, Any]) -> None:
    command = webhook["services"]["stickers"]["command"]
    run_sh = (REPO / "run.sh").read_text(encoding="utf-8")
    assert command[:3] == ["gunicorn", "-c", "sticker_service/gunicorn_conf.py"]
    assert command[3] == "sticker_service.app:app_factory"
    assert "-c sticker_service/gunicorn_conf.py" in run_sh
    assert "sticker_service.app:app_factory" in run_sh


def test_healthchecks_ask_the_port_each_service_listens_on(webhook: dict[str, Any]) -> None:
    services = webhook["services"]
    bot, stickers = services["bot"]["environment"], services["stickers"]["environment"]
    assert bot["HEALTHCHECK_URL"] == f"http://127.0.0.1:{bot['WEB_SERVER_PORT']}/health"
    assert stickers["HEALTHCHECK_URL"] == f"http://127.0.0.1:{stickers['PORT']}/health"
    # The image's HEALTHCHECK command is used as is (compose only changes its URL).
    assert "healthcheck" not in services["bot"]
    assert "healthcheck" not in services["stickers"]
    assert services["redis"]["healthcheck"]["test"]
    assert services["nginx"]["healthcheck"]["test"]
    assert services["postgres"]["healthcheck"]["test"]


def test_polling_bot_is_health_checked_on_its_status_port(polling: dict[str, Any]) -> None:
    env = polling["services"]["bot"]["environment"]
    # bot/app/status.py serves /health on HEALTH_HOST:HEALTH_PORT in polling mode; the image's
    # HEALTHCHECK runs inside the container, so loopback reaches it and nothing is published.
    assert env["HEALTHCHECK_URL"] == f"http://{env['HEALTH_HOST']}:{env['HEALTH_PORT']}/health"
    assert env["HEALTH_HOST"] == "127.0.0.1"
    assert env["HEALTH_PORT"] == "8082"
    # The image's HEALTHCHECK command, not switched off (docker-compose 1.29 prints a
    # `disable: true` as test: [NONE]) and not replaced.
    assert "healthcheck" not in polling["services"]["bot"]


def test_apps_start_after_redis_is_healthy_and_nginx_after_the_bot(
    webhook: dict[str, Any],
) -> None:
    services = webhook["services"]
    for name in ("bot", "stickers"):
        assert services[name]["depends_on"]["redis"]["condition"] == "service_healthy"
    assert services["stickers"]["depends_on"]["redis-cache"]["condition"] == "service_healthy"
    assert services["nginx"]["depends_on"]["bot"]["condition"] == "service_healthy"


@pytest.mark.parametrize("variant", ["webhook", "polling"])
def test_every_service_has_limits_and_a_restart_policy(
    resolved: dict[str, Resolved], variant: str
) -> None:
    for name, service in resolved[variant].config()["services"].items():
        limits = service["deploy"]["resources"]["limits"]
        assert float(limits["cpus"]) > 0, name
        assert re.fullmatch(r"\d+[MG]", limits["memory"]), name
        assert service["restart"] == "unless-stopped", name


@pytest.mark.parametrize("variant", ["webhook", "polling"])
def test_bot_gets_time_to_finish_updates_on_stop(
    resolved: dict[str, Resolved], variant: str
) -> None:
    grace_s = shutdown_grace_s()
    grace = resolved[variant].config()["services"]["bot"]["stop_grace_period"]
    seconds = int(re.fullmatch(r"(\d+)s", grace).group(1))  # type: ignore[union-attr]
    assert seconds > grace_s


def test_sticker_service_trusts_only_the_proxy_network(webhook: dict[str, Any]) -> None:
    services, networks = webhook["services"], webhook["networks"]
    subnets = [c["subnet"] for c in networks["edge"]["ipam"]["config"]]
    assert services["stickers"]["environment"]["TRUSTED_PROXIES"] == subnets[0]
    assert set(services["nginx"]["networks"]) == {"edge"}
    # Redis has no route out and only the app services reach it.
    assert networks["backend"]["internal"] is True
    assert set(services["redis"]["networks"]) == {"backend"}
    assert set(services["redis-cache"]["networks"]) == {"backend"}


def test_nginx_gets_every_variable_its_template_uses(webhook: dict[str, Any]) -> None:
    template = (REPO / "docker/nginx/templates/default.conf.template").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)\}", template))
    services = webhook["services"]
    env = services["nginx"]["environment"]
    assert used <= set(env), f"unset in nginx's environment: {used - set(env)}"
    assert env["WEBHOOK_PATH"] == services["bot"]["environment"]["WEBHOOK_PATH"]
    # Upstreams are the compose services on the ports they listen on.
    assert env["BOT_UPSTREAM"] == f"bot:{services['bot']['environment']['WEB_SERVER_PORT']}"
    assert env["STICKER_UPSTREAM"] == f"stickers:{services['stickers']['environment']['PORT']}"
    assert env["NGINX_RESOLVER"] == "127.0.0.11", "Docker's embedded DNS"
    mounts = {v.split(":")[1] for v in services["nginx"]["volumes"]}
    assert mounts == {"/etc/nginx/templates", "/etc/nginx/certs"}


def test_polling_variant_is_one_bot_and_redis_without_a_proxy(polling: dict[str, Any]) -> None:
    services = polling["services"]
    assert set(services) == {"bot", "redis"}
    bot = services["bot"]
    assert bot["environment"]["MODE"] == "polling"
    assert bot["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert not any(s.get("ports") for s in services.values())
    image_env = parse()[-1].env()
    targets = {v.split(":")[1] for v in bot["volumes"]}
    assert targets == {image_env["DATA_DIR"], image_env["IMAGE_CACHE_DIR"]}


# ---- the shop's database -------------------------------------------------------------------


def bot_database(config: dict[str, Any]) -> URL:
    """The bot's DATABASE_URL as the bot reads it (bot/storage/db.py refuses a driver it does
    not run on)."""
    return database_url(config["services"]["bot"]["environment"]["DATABASE_URL"])


def option(argv: list[str], flag: str) -> str:
    assert argv.count(flag) == 1, (flag, argv)
    return argv[argv.index(flag) + 1]


def test_every_bot_replica_uses_the_one_postgres_service(webhook: dict[str, Any]) -> None:
    """Each replica's own SQLite file (the default, in its own volume) would give each a shop
    of its own: an import or an order made through one, invisible to the others."""
    url = bot_database(webhook)
    pg = webhook["services"]["postgres"]["environment"]
    assert url.drivername == "postgresql+asyncpg"
    assert (url.host, url.port) == ("postgres", 5432)
    assert url.username == pg["POSTGRES_USER"]
    assert url.database == pg["POSTGRES_DB"]
    # The operator's password, reaching both sides intact (it goes into the URL as is).
    assert url.password == pg["POSTGRES_PASSWORD"] == DB_PASSWORD


def test_the_bot_starts_once_postgres_is_healthy(webhook: dict[str, Any]) -> None:
    # A bot migrates the database first thing; a server still initialising would refuse it.
    depends = webhook["services"]["bot"]["depends_on"]
    assert depends["postgres"]["condition"] == "service_healthy"


def test_postgres_healthcheck_asks_the_server_over_tcp(webhook: dict[str, Any]) -> None:
    postgres = webhook["services"]["postgres"]
    test = postgres["healthcheck"]["test"]
    assert test[0] in {"CMD", "CMD-SHELL"}
    argv = test[1:] if test[0] == "CMD" else shlex.split(test[1])
    assert argv[0] == "pg_isready"
    # The image's first start runs a temporary server on the Unix socket only (initdb, then
    # the init scripts): a socket check would call the database healthy before it is.
    assert option(argv, "-h") == "127.0.0.1"
    env = postgres["environment"]
    assert option(argv, "-U") == env["POSTGRES_USER"]
    assert option(argv, "-d") == env["POSTGRES_DB"]
    # Room for initdb on the first start before failures count.
    assert "start_period" in postgres["healthcheck"]


def test_postgres_is_reachable_only_on_the_internal_network(webhook: dict[str, Any]) -> None:
    services, networks = webhook["services"], webhook["networks"]
    postgres = services["postgres"]
    assert not postgres.get("ports")
    assert not postgres.get("expose")
    assert set(postgres["networks"]) == {"backend"}
    assert networks["backend"]["internal"] is True
    # The bots reach it there; nginx (the one service with published ports) cannot.
    assert "backend" in services["bot"]["networks"]
    assert "backend" not in services["nginx"]["networks"]


def test_postgres_keeps_its_data_in_a_named_volume_of_a_pinned_major(
    webhook: dict[str, Any],
) -> None:
    postgres = webhook["services"]["postgres"]
    # A data folder is opened only by the major version that wrote it: `postgres:latest`
    # would refuse the volume on the day a new major came out.
    assert re.fullmatch(r"postgres:\d+(\.\d+)?-[a-z]+", postgres["image"]), postgres["image"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in postgres["volumes"]}
    volume = mounts["/var/lib/postgresql/data"]
    # Named (declared at the top level): it outlives `down` and a re-created container.
    assert volume in webhook["volumes"]


def test_postgres_does_not_get_the_bots_settings(webhook: dict[str, Any]) -> None:
    """No env_file: the database server never holds the bot token or the webhook secret."""
    env = webhook["services"]["postgres"]["environment"]
    assert "BOT_TOKEN" not in env
    assert "WEBHOOK_SECRET" not in env
    assert REQUIRED["BOT_TOKEN"] not in env.values()


def test_missing_postgres_password_stops_config_with_a_clear_message(
    resolved: dict[str, Resolved],
) -> None:
    # .env.example's own empty `POSTGRES_PASSWORD=`, as a fresh copy has it.
    assert "\nPOSTGRES_PASSWORD=\n" in (REPO / ".env.example").read_text(encoding="utf-8")
    run = resolved["no-db-password"]
    assert run.returncode != 0
    assert "set POSTGRES_PASSWORD in .env" in run.stderr
    assert run.stdout.strip() == ""


def test_polling_keeps_the_shop_in_sqlite_in_its_named_volume(polling: dict[str, Any]) -> None:
    """One instance: the bot's own default database file, in DATA_DIR's named volume, so it
    outlives a re-created container and needs nothing installed."""
    bot = polling["services"]["bot"]
    data_dir = bot["environment"]["DATA_DIR"]
    assert bot["environment"]["DATABASE_URL"] == default_database_url(Path(data_dir))
    assert bot_database(polling).drivername == "sqlite+aiosqlite"
    mounts = {v.split(":")[1]: v.split(":")[0] for v in bot["volumes"]}
    assert mounts[data_dir] in polling["volumes"]
    assert "postgres" not in polling["services"]


@pytest.mark.parametrize(
    ("variant", "local"), [("webhook", "webhook-local-db"), ("polling", "polling-local-db")]
)
def test_a_database_url_written_for_outside_docker_is_overridden(
    resolved: dict[str, Resolved], variant: str, local: str
) -> None:
    """`sqlite+aiosqlite:///data/...` in .env names a folder the container does not have (and
    in webhook mode, a shop per replica)."""
    config = resolved[local].config()
    env = config["services"]["bot"]["environment"]
    assert env["DATABASE_URL"] != LOCAL_DATABASE["DATABASE_URL"]
    assert bot_database(config) == bot_database(resolved[variant].config())


def test_the_readme_database_commands_name_the_compose_files_database(
    webhook: dict[str, Any], polling: dict[str, Any]
) -> None:
    """docker/README.md's backup, restore and password lines are copied as they are: a user,
    database or file renamed in a compose file and not there would back up nothing."""
    readme = (REPO / "docker" / "README.md").read_text(encoding="utf-8")
    env = webhook["services"]["postgres"]["environment"]
    lines = [line for line in readme.splitlines() if re.match(r"dc exec (-T )?postgres ", line)]
    tools = set()
    for line in lines:
        # The command in the container: what follows the service's name, up to a redirection.
        argv = shlex.split(re.split(r" [<>] ", line)[0])
        argv = argv[argv.index("postgres") + 1 :]
        tools.add(argv[0])
        assert option(argv, "-U") == env["POSTGRES_USER"], line
        assert option(argv, "-d") == env["POSTGRES_DB"], line
    sqlite_file = bot_database(polling).database
    assert sqlite_file is not None
    backups = [line for line in readme.splitlines() if "sqlite3.connect(" in line]
    assert backups, "docker/README.md shows how to back up the SQLite file"
    assert all(f"'{sqlite_file}'" in line for line in backups), backups
    assert tools == {"pg_dump", "pg_restore", "psql"}, lines
