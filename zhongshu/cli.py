"""`zhongshu` command line: up, topics, keys, clock, worker, projector, api."""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .config import Settings, load_settings

RUNTIME_FILE = "runtime.json"

# Modules that add subcommands: each has `register(subparsers, settings_loader)`, and may have
# UP_CHILDREN = [(name, [zhongshu args…])] for processes `zhongshu up` supervises.
PLUGINS = ("projections.cli", "connectors.cli", "connectors.webhooks", "zhongshu.demo")


def _plugins():
    import importlib

    for name in PLUGINS:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def _settings(args) -> Settings:
    overrides = {}
    for name in ("broker", "database_url", "api_port", "kafka_port", "clock"):
        if getattr(args, name, None) is not None:
            overrides[name] = getattr(args, name)
    settings = load_settings(getattr(args, "config", None), **overrides)
    # commands run beside a running `zhongshu up` use the ports it chose
    runtime = settings.home / RUNTIME_FILE
    if runtime.exists() and not os.environ.get("ZHONGSHU_BROKER") and "broker" not in overrides:
        info = json.loads(runtime.read_text())
        if info.get("broker") and not settings.broker:
            settings.broker = info["broker"]
        if info.get("api_port") and "api_port" not in overrides and not os.environ.get("ZHONGSHU_API_PORT"):
            settings.api_port = info["api_port"]
    return settings


# ---------------------------------------------------------------- small commands

def cmd_topics_create(args) -> int:
    from streams.topics import CATALOG, create_topics

    s = _settings(args)
    created = create_topics(s.bootstrap, s.partitions, s.kafka_client_kwargs())
    print(f"{len(created)} topic(s) created, {len(CATALOG) - len(created)} already existed")
    return 0


def cmd_keys_create(args) -> int:
    from sqlalchemy.orm import Session

    from projections.auth import create_key
    from projections.db import make_engine
    from projections.schema import ensure_schema

    s = _settings(args)
    engine = make_engine(s.db_url)
    ensure_schema(engine)
    with Session(engine) as session, session.begin():
        try:
            key = create_key(session, args.role, args.region, args.label)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    print(key)
    return 0


def cmd_clock_tick(args) -> int:
    from schemas.codec import Codec
    from streams.clock import send_tick

    s = _settings(args)
    try:
        n = send_tick(s.bootstrap, Codec(), args.at, s.kafka_client_kwargs())
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"tick {args.at} appended to {n} partition(s) of hub.clock")
    return 0


def _importable(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def _loop(s) -> str:
    """The event loop of the API and the worker: "uvloop" (setting event_loop, the default) where
    uvloop is installed, else "asyncio". A value other than these two is an error."""
    if s.event_loop not in ("uvloop", "asyncio"):
        raise SystemExit(f"error: event_loop = {s.event_loop!r}: expected \"uvloop\" or \"asyncio\"")
    return "uvloop" if s.event_loop == "uvloop" and _importable("uvloop") else "asyncio"


def cmd_worker(args) -> int:
    s = _settings(args)
    # Faust creates only the last level of its datadir (<home>/faust): a worker on a fresh machine needs <home>
    s.home.mkdir(parents=True, exist_ok=True)
    loop = _loop(s)
    if loop == "uvloop":
        # Faust picks its loop when `faust` is first imported (from --loop in argv or FAUST_LOOP);
        # set the policy here, before anything creates a loop
        import mode.loop

        mode.loop.use("uvloop")
    from streams.app import app

    print(f"worker event loop: {loop}", flush=True)
    # Faust's worker command turns its own web server back on unless told not to
    sys.argv = ["zhongshu-worker", "worker", "-l", args.loglevel, "--without-web"]
    app.main()
    return 0


def cmd_projector(args) -> int:
    from projections.projector import main

    main(_settings(args))
    return 0


# An idle keep-alive connection is closed by the server after this long. Longer than clients keep
# idle connections (httpx 5 s, the common proxies 60 s): with uvicorn's 5 s, equal to httpx's, a
# client could send a request on a connection the server was closing that instant and get no
# answer (the latency benchmark saw one such ReadError in 2,000 requests at 100/s).
KEEP_ALIVE_SECONDS = 75


def cmd_api(args) -> int:
    import uvicorn

    from projections.api import create_app

    s = _settings(args)
    loop = _loop(s)
    print(f"api event loop: {loop}", flush=True)
    uvicorn.run(create_app(s), host=args.host or s.api_host, port=args.port or s.api_port,
                log_level=s.log_level.lower(), access_log=False, timeout_keep_alive=KEEP_ALIVE_SECONDS,
                loop=loop, http="httptools" if loop == "uvloop" and _importable("httptools") else "h11")
    return 0


# ---------------------------------------------------------------- up

class Child:
    def __init__(self, name: str, argv: list[str], env: dict, log_dir: Path):
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None
        self.restarts = 0

    def start(self):
        self.started_at = time.monotonic()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20):
        if not self.alive():
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        except ProcessLookupError:
            pass


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def cmd_up(args) -> int:
    from projections.db import make_engine
    from projections.schema import ensure_schema
    from streams.topics import create_topics

    s = _settings(args)
    if getattr(args, "config", None):  # the children and the plugins' UP_CHILDREN read the same file
        os.environ["ZHONGSHU_CONFIG"] = str(Path(args.config).resolve())
    s.home.mkdir(parents=True, exist_ok=True)
    (s.home / RUNTIME_FILE).unlink(missing_ok=True)
    log_dir = s.home / "logs"
    log_dir.mkdir(exist_ok=True)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())

    kafka = None
    children: list[Child] = []
    try:
        if s.embedded_kafka:
            from .localkafka import LocalKafka, ensure_kafka_jars

            ensure_kafka_jars()
            kafka = LocalKafka(s.home / "kafka", port=s.kafka_port)
            kafka.format()
            print(f"starting Kafka on {kafka.bootstrap} (data in {s.home / 'kafka'}) …", flush=True)
            kafka.start()
        create_topics(s.bootstrap, s.partitions, s.kafka_client_kwargs())
        ensure_schema(make_engine(s.db_url))
        s.secret_bytes()  # create the token secret once, before the children race for it
        env = {**os.environ, **s.to_env(), "PYTHONUNBUFFERED": "1"}
        exe = [sys.executable, "-m", "zhongshu.cli"]
        children = [
            Child("worker", exe + ["worker"], env, log_dir),
            Child("projector", exe + ["projector"], env, log_dir),
            Child("api", exe + ["api", "--port", str(s.api_port)], env, log_dir),
        ]
        for plugin in _plugins():
            for name, argv in getattr(plugin, "UP_CHILDREN", ()):
                children.append(Child(name, exe + list(argv), env, log_dir))
        for child in children:
            child.start()
        url = f"http://{s.api_host}:{s.api_port}"
        deadline = time.monotonic() + 120
        while not _healthy(url):
            if stop.is_set() or time.monotonic() > deadline or not children[2].alive():
                print(f"error: the API did not become healthy; see {children[2].log_path}", file=sys.stderr)
                return 1
            time.sleep(0.3)
        (s.home / RUNTIME_FILE).write_text(json.dumps({"broker": s.bootstrap, "api_port": s.api_port,
                                                       "pid": os.getpid(), "clock": s.clock}))
        print(f"zhongshu is up (clock: {s.clock}; logs in {log_dir}); Ctrl-C stops it", flush=True)
        print(url, flush=True)
        ticker = _start_wall_ticker(s, stop) if s.clock == "wall" else None
        last_check = time.monotonic()
        while not stop.wait(1.0):
            for child in children:
                if not child.alive():
                    child.restarts += 1
                    print(f"{child.name} exited ({child.proc.returncode}); restarting (#{child.restarts})",
                          file=sys.stderr, flush=True)
                    child.start()
            if time.monotonic() - last_check >= 10:
                last_check = time.monotonic()
                # a restarted worker needs the old member's session to expire and a rebalance before it
                # moves: give it that long before judging it again
                _restart_stalled(url, {c.name: c for c in children}, max(2 * s.stall_seconds, 90))
        if ticker:
            ticker.join(5)
        return 0
    finally:
        print("stopping …", file=sys.stderr, flush=True)
        for child in reversed(children):
            child.stop()
        if kafka is not None:
            kafka.stop()
        (s.home / RUNTIME_FILE).unlink(missing_ok=True)
        print("stopped", file=sys.stderr, flush=True)


def _restart_stalled(url: str, children: dict, cooldown: float) -> None:
    """Faust workers can stop consuming without exiting; /readyz names stalled partitions per
    stage, and the stalled stage's process is restarted (its work resumes from committed offsets)."""
    try:
        with urllib.request.urlopen(url + "/readyz", timeout=10) as r:
            body = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        body = json.loads(exc.read() or b"{}")
    except (OSError, ValueError):
        return
    for stage, parts in ((body.get("checks") or {}).get("stalled") or {}).items():
        child = children.get(stage)
        if parts and child is not None and time.monotonic() - child.started_at > cooldown:
            child.restarts += 1
            print(f"{stage} stalled on {', '.join(parts[:3])}; restarting (#{child.restarts})", file=sys.stderr, flush=True)
            child.stop(timeout=10)
            child.start()


def _start_wall_ticker(s: Settings, stop: threading.Event) -> threading.Thread:
    """`--clock wall`: wall time is recorded as ticks, so a replay still sees the same times."""
    from schemas.codec import Codec
    from streams.clock import send_tick

    codec = Codec()
    china = timezone(timedelta(hours=8))

    def run():
        while not stop.is_set():
            try:
                send_tick(s.bootstrap, codec, datetime.now(china).isoformat(timespec="seconds"), s.kafka_client_kwargs())
            except Exception as exc:  # a missed tick is made good by the next one
                print(f"ticker: {exc}", file=sys.stderr, flush=True)
            stop.wait(s.tick_interval)

    t = threading.Thread(target=run, name="wall-ticker", daemon=True)
    t.start()
    return t


# ---------------------------------------------------------------- parser

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="zhongshu", description="执法监督数据中枢 — supervision hub")
    p.add_argument("--config", help="config file (default ./zhongshu.toml or $ZHONGSHU_CONFIG)")
    sub = p.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start Kafka (embedded), topics, worker, projector and API")
    up.add_argument("--clock", choices=("manual", "wall"))
    up.add_argument("--api-port", type=int)
    up.add_argument("--kafka-port", type=int)
    up.add_argument("--broker", help="use this Kafka instead of the embedded one")
    up.add_argument("--database-url")
    up.set_defaults(func=cmd_up)

    topics = sub.add_parser("topics", help="topic catalog").add_subparsers(dest="sub", required=True)
    tc = topics.add_parser("create", help="create every topic idempotently")
    tc.set_defaults(func=cmd_topics_create)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="sub", required=True)
    kc = keys.add_parser("create", help="create a key and print it (shown once)")
    kc.add_argument("--role", required=True, choices=("hotline", "credit", "enforcement", "justice", "supervisor", "admin"))
    kc.add_argument("--region", help="6-digit region code the key is limited to")
    kc.add_argument("--label")
    kc.set_defaults(func=cmd_keys_create)

    clock = sub.add_parser("clock", help="hub clock").add_subparsers(dest="sub", required=True)
    ct = clock.add_parser("tick", help="append a tick")
    ct.add_argument("--at", required=True, help="RFC 3339 time with offset, e.g. 2026-10-15T00:00:00+08:00")
    ct.set_defaults(func=cmd_clock_tick)

    w = sub.add_parser("worker", help="run one Faust stream worker")
    w.add_argument("--loglevel", default="info")
    w.set_defaults(func=cmd_worker)
    sub.add_parser("projector", help="run the projector").set_defaults(func=cmd_projector)
    a = sub.add_parser("api", help="run the HTTP API")
    a.add_argument("--host")
    a.add_argument("--port", type=int)
    a.set_defaults(func=cmd_api)
    for plugin in _plugins():
        plugin.register(sub, _settings)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
