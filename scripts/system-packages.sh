#!/usr/bin/env bash
# The Debian packages each ./run.sh command needs beyond Python, and the one place that checks
# and installs them. run.sh sources this file; tests and benchmarks run it for the install line
# of a tool they lack:
#   scripts/system-packages.sh ensure COMMAND   install what COMMAND lacks (as root, with apt-get)
#                                               or print one line saying how, and exit 1
#   scripts/system-packages.sh missing COMMAND  the packages COMMAND lacks, one a line
#   scripts/system-packages.sh hint TOOL...     the line that says how to install these tools
#
# As root on a machine with apt-get the missing packages are installed and the command goes on;
# anyone else gets the packages and the apt-get line, never a quiet skip.

# package                 needed by    present when: a command (PATH, /usr/sbin, /sbin),
#                                      an absolute path (a glob), or python:MODULE
SYSTEM_PACKAGES=(
    # python3 -m venv: Debian splits ensurepip off into python3-venv.
    "python3-venv           setup        python:ensurepip"
    # Real servers the tests and benchmarks start on free ports (tests/conftest.py, bench/).
    "redis-server           test,bench   redis-server"
    # Every storage test (and the catalog benchmark) also runs on a PostgreSQL server the
    # session starts itself (tests/postgres_server.py); Debian keeps initdb off PATH.
    "postgresql             test,bench   /usr/lib/postgresql/*/bin/initdb"
    # A C compiler for a dependency pip has to build from source (another Python or CPU than
    # the wheels in requirements/lock.txt are built for).
    "gcc                    test         gcc"
    # The web chat's browser tests (tests/webchat) drive Debian's Chromium; the emoji font
    # makes the buttons' emoji render as in Telegram.
    "chromium               test         chromium"
    "fonts-noto-color-emoji test         /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
    # fc-list: how ./run.sh dev finds out whether emoji will render (webchat/fonts.py).
    "fontconfig             test         fc-list"
    # tests/docker: docker-compose 1.29 validates the compose files with no engine; nginx runs
    # the shipped config (and balances two bot instances in bench/webhook.py); openssl runs
    # docker/README.md's certificate line.
    "nginx                  test,bench   nginx"
    "docker-compose         test         docker-compose"
    "openssl                test         openssl"
    # The load generator of bench/stickers.py; without it there are no figures.
    "wrk                    bench        wrk"
)

_syspkg_present() {
    local check=$1
    case "$check" in
        python:*) "${PYTHON:-python3}" -c "import ${check#python:}" >/dev/null 2>&1 ;;
        /*) compgen -G "$check" >/dev/null ;;
        # /usr/sbin is not on every user's PATH (nginx lives there).
        *) PATH="$PATH:/usr/sbin:/sbin" command -v "$check" >/dev/null ;;
    esac
}

# The packages a command needs (every command needs the "setup" ones), one a line.
system_packages_for() {
    local want=$1 row package needed_by check
    for row in "${SYSTEM_PACKAGES[@]}"; do
        read -r package needed_by check <<<"$row"
        case ",$needed_by," in
            *",$want,"* | *",setup,"*) echo "$package $check" ;;
        esac
    done
}

system_packages_missing() {
    local package check
    while read -r package check; do
        _syspkg_present "$check" || echo "$package"
    done < <(system_packages_for "$1")
}

# The command that installs these packages, for the person reading the message.
_syspkg_install_command() {
    if ! command -v apt-get >/dev/null; then
        echo "your package manager (Debian names): $*"
    elif [ "${SYSTEM_PACKAGES_UID:-$(id -u)}" = 0 ]; then
        echo "apt-get install -y --no-install-recommends $*"
    else
        echo "sudo apt-get install -y --no-install-recommends $*"
    fi
}

# Install what a command lacks, or say how and fail. SYSTEM_PACKAGES_UID stands in for the
# user id (the tests use it to take both paths on any machine).
system_packages_ensure() {
    local command=$1
    local -a need
    mapfile -t need < <(system_packages_missing "$command")
    [ ${#need[@]} -eq 0 ] && return 0
    if [ "${SYSTEM_PACKAGES_UID:-$(id -u)}" != 0 ] || ! command -v apt-get >/dev/null; then
        local who="./run.sh $command"
        [ "$command" = setup ] && who="./run.sh (to create .venv)"
        echo "$who needs system packages that are not installed: ${need[*]}." \
            "Install them with: $(_syspkg_install_command "${need[@]}")" >&2
        return 1
    fi
    echo ">> apt-get install ${need[*]}" >&2
    # The redis-server, postgresql and nginx packages start system services on a machine
    # with systemd; nothing here uses them (tests and benchmarks start their own on free
    # ports).
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >&2 \
        || return 1
    mapfile -t need < <(system_packages_missing "$command")
    if [ ${#need[@]} -gt 0 ]; then
        echo "apt-get installed, but these are still missing: ${need[*]}" >&2
        return 1
    fi
}

# One line for a test or benchmark that lacks tools (command names or paths as in the table):
# their packages, which ./run.sh command installs them, and the apt-get line.
system_packages_hint() {
    local tool row package needed_by check found
    local -a packages=() commands=()
    for tool in "$@"; do
        found=$tool
        for row in "${SYSTEM_PACKAGES[@]}"; do
            read -r package needed_by check <<<"$row"
            # A tool is named by its check, its package, or (a program off PATH) the last
            # part of its path: initdb for /usr/lib/postgresql/*/bin/initdb.
            if [ "$check" = "$tool" ] || [ "$package" = "$tool" ] \
                || { [ "${check#/}" != "$check" ] && [ "${check##*/}" = "$tool" ]; }; then
                found=$package
                commands+=("./run.sh ${needed_by%%,*}")
                break
            fi
        done
        packages+=("$found")
    done
    local by="./run.sh test"
    [ ${#commands[@]} -gt 0 ] && by=${commands[0]}
    local it=it
    [ ${#packages[@]} -gt 1 ] && it=them
    echo "not installed: ${packages[*]}. $by installs $it when run as root;" \
        "or: $(_syspkg_install_command "${packages[@]}")"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    case "${1:-}" in
        ensure) system_packages_ensure "${2:?which command: test, bench, ...}" ;;
        missing) system_packages_missing "${2:?which command: test, bench, ...}" ;;
        hint)
            shift
            system_packages_hint "${@:?which tools}"
            ;;
        *)
            echo "usage: $0 {ensure|missing COMMAND | hint TOOL...}" >&2
            exit 2
            ;;
    esac
fi
