#!/usr/bin/env bash
# Throwaway local PostgreSQL cluster: thin wrapper over zhongshu/localpg.py
#   deploy/postgres.sh {init,start,stop,url,status} [--data-dir var/postgres] [--port 15432]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m zhongshu.localpg "$@"
