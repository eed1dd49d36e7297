#!/usr/bin/env bash
# One entry point for people and CI.
#   ./run.sh dev            set up .venv and run the bot (the local sandbox when BOT_TOKEN is unset)
#   ./run.sh test [ARGS]    set up .venv, then ruff, mypy and the whole pytest suite (ARGS go to pytest)
#   ./run.sh bench [NAME]   run one benchmark (downloads, ...) or all; figures land in bench/results/
#   ./run.sh lock           re-resolve requirements/lock.txt from pyproject.toml
set -euo pipefail
cd "$(dirname "$0")"

PYTHON=${PYTHON:-python3}
VENV=.venv
LOCK=requirements/lock.txt

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo ">> creating $VENV" >&2
        "$PYTHON" -m venv "$VENV"
    fi
    # Reinstall only when the lock changed: a second ./run.sh is instant.
    local stamp="$VENV/.lock.sha256"
    local want
    want=$(sha256sum "$LOCK" | cut -d' ' -f1)
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo ">> installing $LOCK into $VENV" >&2
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$LOCK"
        echo "$want" > "$stamp"
    fi
}

cmd=${1:-dev}
shift || true
case "$cmd" in
    dev)
        setup
        exec "$VENV/bin/python" main.py "$@"
        ;;
    test)
        setup
        echo ">> ruff" >&2
        "$VENV/bin/ruff" check .
        "$VENV/bin/ruff" format --check .
        echo ">> mypy" >&2
        "$VENV/bin/mypy" .
        echo ">> pytest" >&2
        exec "$VENV/bin/python" -m pytest "$@"
        ;;
    bench)
        setup
        exec "$VENV/bin/python" -m bench "$@"
        ;;
    lock)
        setup
        "$VENV/bin/python" -m pip install --quiet uv
        "$VENV/bin/uv" pip compile pyproject.toml --extra dev --python-version 3.11 \
            --no-header --output-file "$LOCK"
        ;;
    *)
        echo "usage: $0 {dev|test|bench [NAME]|lock}" >&2
        exit 2
        ;;
esac
