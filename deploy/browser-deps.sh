#!/usr/bin/env bash
# Browser-test dependencies (tests/browser): Debian's Chromium, CJK fonts for the Chinese console,
# and the Python `playwright` package driving that Chromium (no Playwright browser download:
# the tests launch /usr/bin/chromium with executable_path).
#
#   bash deploy/browser-deps.sh
#
# Unattended and idempotent; deploy/setup.sh calls it. Installs only what is missing.
set -euo pipefail

say() { printf '[browser-deps] %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi
PY="${PYTHON:-python3}"

want=()
[ -x /usr/bin/chromium ] || want+=(chromium)
# Without a CJK font the console's Chinese text renders as boxes in screenshots.
if ! fc-list 2>/dev/null | grep -qi 'CJK'; then
    want+=(fonts-noto-cjk)
fi
if [ "${#want[@]}" -gt 0 ]; then
    say "apt-get install ${want[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${want[@]}"
else
    say "chromium and a CJK font present: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
fi

if ! "$PY" -c 'import playwright' >/dev/null 2>&1; then
    pip_extra=()
    if "$PY" -c 'import sys,sysconfig,os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"),"EXTERNALLY-MANAGED")) else 1)'; then
        pip_extra+=(--break-system-packages)
    fi
    say "$PY -m pip install playwright"
    "$PY" -m pip install --disable-pip-version-check -q ${pip_extra[@]+"${pip_extra[@]}"} playwright
else
    say "playwright present: $("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
fi
# Deliberately no `playwright install`: it downloads a browser build, which this project never needs.
