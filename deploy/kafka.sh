#!/usr/bin/env bash
# Local single-node Apache Kafka (KRaft) broker: thin wrapper over zhongshu/localkafka.py
#   deploy/kafka.sh {format,start,stop,status,jars} [--data-dir var/kafka] [--port 19092]
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
exec "${PYTHON:-python3}" -m zhongshu.localkafka "$@"
