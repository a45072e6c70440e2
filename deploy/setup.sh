#!/usr/bin/env bash
# zhongshu one-step setup for a development machine or CI (Debian/Ubuntu).
#
#   bash deploy/setup.sh
#
# Unattended and idempotent. It installs what the local runtime needs and is missing:
#   - a Java 17+ runtime and Maven (the local Apache Kafka broker comes from Maven Central),
#   - PostgreSQL server binaries (/usr/lib/postgresql/*/bin: throwaway test clusters),
# then installs this project with its dev extra (`pip install -e '.[dev]'`) and resolves
# the Kafka broker's jars into deploy/kafka/lib/.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

say() { printf '[setup] %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    fi
fi

PY="${PYTHON:-python3}"

# ---------------------------------------------------------------- system packages
java_major() {
    # prints the major version of `java` on PATH, or 0
    command -v java >/dev/null 2>&1 || { echo 0; return; }
    java -version 2>&1 | awk -F'"' '/version/ {print $2; exit}' \
        | awk -F. '{ if ($1 == "1") print $2; else print $1 }' | tr -cd '0-9' || true
}

APT_UPDATED=0
apt_update_once() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        say "apt-get update"
        $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -q
        APT_UPDATED=1
    fi
}

apt_has() { apt-cache show "$1" >/dev/null 2>&1; }

want_pkgs=()

jm="$(java_major)"; jm="${jm:-0}"
if [ "$jm" -lt 17 ]; then
    say "need a Java 17+ runtime (found: ${jm})"
    apt_update_once
    if apt_has openjdk-17-jre-headless; then
        want_pkgs+=(openjdk-17-jre-headless)
    else
        want_pkgs+=(default-jre-headless)   # newer Debian: 21+, also fine for Kafka 3.9
    fi
fi

if ! command -v mvn >/dev/null 2>&1; then
    say "need maven"
    want_pkgs+=(maven)
fi

if ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    say "need PostgreSQL server binaries"
    want_pkgs+=(postgresql)
    # We run our own throwaway clusters (zhongshu/localpg.py); do not let the Debian
    # package create and start a system cluster on port 5432.
    $SUDO mkdir -p /etc/postgresql-common/createcluster.d
    echo "create_main_cluster = false" \
        | $SUDO tee /etc/postgresql-common/createcluster.d/zhongshu.conf >/dev/null
fi

if ! command -v runuser >/dev/null 2>&1; then
    want_pkgs+=(util-linux)
fi

if ! "$PY" -m pip --version >/dev/null 2>&1; then
    say "need pip for $PY"
    want_pkgs+=(python3-pip)
fi

if [ "${#want_pkgs[@]}" -gt 0 ]; then
    apt_update_once
    say "apt-get install ${want_pkgs[*]}"
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -q --no-install-recommends "${want_pkgs[@]}"
else
    say "system packages present: java $(java_major), $(mvn -v 2>/dev/null | head -1 | sed 's/\x1b\[[0-9;]*m//g'), $(ls -d /usr/lib/postgresql/*/bin | tr '\n' ' ')"
fi

# ---------------------------------------------------------------- python package
if [ ! -f pyproject.toml ]; then
    echo "[setup] error: $REPO/pyproject.toml is missing" >&2
    exit 1
fi
pip_extra=()
# Debian's own python3 refuses system-wide installs (PEP 668); this is a throwaway dev box.
if "$PY" -c 'import sys,sysconfig,os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_path("stdlib"),"EXTERNALLY-MANAGED")) else 1)'; then
    pip_extra+=(--break-system-packages)
fi
say "$PY -m pip install -e '.[dev]'"
"$PY" -m pip install --disable-pip-version-check -q ${pip_extra[@]+"${pip_extra[@]}"} -e '.[dev]'
command -v pyenv >/dev/null && pyenv rehash || true

# ---------------------------------------------------------------- Kafka broker jars
say "resolving Apache Kafka jars (deploy/kafka/pom.xml -> deploy/kafka/lib/)"
"$PY" -c 'from zhongshu.localkafka import ensure_kafka_jars; ensure_kafka_jars(quiet=False)'
"$PY" -c 'from zhongshu.localpg import pg_bin_dir; print("[setup] PostgreSQL binaries:", pg_bin_dir())'

# ---------------------------------------------------------------- browser tests (Debian's Chromium)
PYTHON="$PY" bash "$REPO/deploy/browser-deps.sh"

if command -v zhongshu >/dev/null 2>&1; then
    say "done. Next: run \`zhongshu up\` (starts the local Kafka broker, workers and the API)."
else
    say "done. Next: run \`zhongshu up\` (if \`zhongshu\` is not found, add $("$PY" -c 'import sysconfig; print(sysconfig.get_path("scripts"))') to PATH)."
fi
