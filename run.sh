#!/usr/bin/env bash
# One entry point for people and CI.
#   ./run.sh dev            set up .venv and run the bot (the local sandbox when BOT_TOKEN is unset)
#   ./run.sh test [ARGS]    set up .venv, then ruff, mypy and the whole pytest suite (ARGS go to pytest)
#   ./run.sh bench [NAME]   run one benchmark (downloads, ...) or all; figures land in bench/results/
#   ./run.sh lock           re-resolve requirements/lock.txt from pyproject.toml
#   ./run.sh sandbox [ARGS] the local Telegram Bot API server alone (see sandbox/README.md)
#   ./run.sh sticker        the sticker service, one process, for development
#   ./run.sh prod           the sticker service under gunicorn: WORKERS aiohttp workers
# test and bench first apt-get install the Debian packages they need (scripts/system-packages.sh lists
# them) when run as root; anyone else is told which ones and how, and the command stops there.
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
LOCK=requirements/lock.txt
# shellcheck source=scripts/system-packages.sh
source scripts/system-packages.sh

# The system packages a command needs (nothing but python3-venv for most), or exit 1.
need_packages() {
    system_packages_ensure "$1" || exit 1
}

# Every step checks its own failure: setup also runs under with_progress, where "set -e" is
# off. A failed install leaves no stamp (the next run tries again); a failed venv, no .venv.
setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        need_packages setup
        echo ">> creating $VENV" >&2
        "$PYTHON" -m venv "$VENV" || { rm -rf "$VENV"; return 1; }
    fi
    # Reinstall only when the lock changed: a second ./run.sh is instant.
    local stamp="$VENV/.lock.sha256"
    local want
    want=$(sha256sum "$LOCK" | cut -d' ' -f1) || return 1
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo ">> installing $LOCK into $VENV" >&2
        rm -f "$stamp"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$LOCK" \
            || return 1
        echo "$want" > "$stamp"
    fi
}

# Runs "$@" and says every few seconds that it is still at it: a first install is half a
# minute that would otherwise be silent. The ticker goes with the command, however it ends
# (an exit inside it, Ctrl+C: a background job of a script ignores SIGINT by itself).
_TICKER=
_stop_ticker() {
    if [ -n "$_TICKER" ]; then
        kill "$_TICKER" 2>/dev/null || true
        wait "$_TICKER" 2>/dev/null || true
        _TICKER=
    fi
}
with_progress() {
    local what=$1
    shift
    (
        # The sleep runs in the background so that the TERM below ends it too.
        trap 'kill "$nap" 2>/dev/null; exit 0' TERM
        waited=0
        while true; do
            sleep 5 &
            nap=$!
            wait "$nap"
            waited=$((waited + 5))
            echo ">> still $what (${waited}s)" >&2
        done
    ) &
    _TICKER=$!
    trap _stop_ticker EXIT
    trap '_stop_ticker; exit 130' INT TERM
    local status=0
    "$@" || status=$?
    _stop_ticker
    trap - EXIT INT TERM
    return "$status"
}

cmd=${1:-dev}
shift || true
case "$cmd" in
    dev)
        with_progress "installing packages" setup || exit 1
        # main.py goes on saying what it does (loading aiogram takes seconds on a cold start).
        echo ">> starting the bot" >&2
        exec "$VENV/bin/python" main.py "$@"
        ;;
    test)
        need_packages test
        setup
        echo ">> ruff" >&2
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        echo ">> mypy" >&2
        "$VENV/bin/mypy" .
        echo ">> pytest" >&2
        "$VENV/bin/python" -m pytest "$@"
        if [ $# -eq 0 ]; then
            # The whole suite ran on SQLite, the default; the bot's end-to-end tests run again
            # with the shop in PostgreSQL (the scale-out engine), started by the test session.
            echo ">> pytest tests/e2e on PostgreSQL" >&2
            "$VENV/bin/python" -m pytest tests/e2e --e2e-database postgres -q
        fi
        ;;
    bench)
        need_packages bench
        setup
        exec "$VENV/bin/python" -m bench "$@"
        ;;
    sandbox)
        setup
        # The local Telegram Bot API server alone: ./run.sh sandbox --port 8081 [--token T ...]
        exec "$VENV/bin/python" -m sandbox "$@"
        ;;
    sticker)
        setup
        exec "$VENV/bin/python" -m sticker_service "$@"
        ;;
    prod)
        setup
        # Settings (PORT, WORKERS, ...) come from the environment and .env; see gunicorn_conf.py.
        exec "$VENV/bin/gunicorn" -c sticker_service/gunicorn_conf.py "$@" \
            sticker_service.app:app_factory
        ;;
    lock)
        setup
        "$VENV/bin/python" -m pip install --quiet uv
        "$VENV/bin/uv" pip compile pyproject.toml --extra dev --python-version 3.11 \
            --no-header --output-file "$LOCK"
        ;;
    *)
        echo "usage: $0 {dev|test|bench [NAME]|lock|sandbox|sticker|prod}" >&2
        exit 2
        ;;
esac
