#!/usr/bin/env bash
# What `make install` / `make test` need from the machine beyond make itself:
#   build: Python >= 3.11 with venv, Node.js >= 18 and npm (the JupyterLab extension)
#   test:  the above, and Debian's chromium for the browser tests (unless UI_TESTS=0)
# What is missing is installed with apt-get when we are root on a Debian-like machine;
# otherwise this stops at once with the exact command to run.
set -euo pipefail

what="${1:-build}"
python="${PYTHON:-python3}"
chromium="${CHROMIUM_PATH:-/usr/bin/chromium}"

missing=()  # Debian packages
problems=() # what apt-get cannot fix, one line each

if ! command -v "$python" >/dev/null; then
    missing+=(python3 python3-venv)
elif ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
    problems+=("$python is Python $("$python" -c 'import platform; print(platform.python_version())'); \
jupyter_scripting needs Python 3.11 or newer: run make with PYTHON=/path/to/python3.11")
elif ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
    missing+=(python3-venv)
fi

if ! command -v node >/dev/null; then
    missing+=(nodejs)
elif ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) < 18 ? 1 : 0)'; then
    problems+=("Node.js $(node --version) is too old to build the JupyterLab extension: install Node.js 18 or newer")
fi
command -v npm >/dev/null || missing+=(npm)

if [ "$what" = test ] && [ "${UI_TESTS:-1}" = 1 ] && [ ! -x "$chromium" ]; then
    if [ "$chromium" = /usr/bin/chromium ]; then
        missing+=(chromium)
    else
        problems+=("CHROMIUM_PATH=$chromium is not an executable (unset it to use Debian's chromium)")
    fi
fi

if [ ${#problems[@]} -gt 0 ]; then
    printf '%s\n' "${problems[@]}" >&2
    exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

command_line="apt-get update && apt-get install -y ${missing[*]}"
if ! command -v apt-get >/dev/null; then
    echo "Missing: ${missing[*]} (Debian package names). Install them with your system's" \
        "package manager, then run make again." >&2
    exit 1
fi
if [ "$(id -u)" != 0 ]; then
    echo "Missing: ${missing[*]}. Install them, then run make again:" >&2
    echo "    sudo sh -c '$command_line'" >&2
    exit 1
fi
echo "Installing what this machine lacks: ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
