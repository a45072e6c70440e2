"""The parts a benchmark runs on: a broker, a PostgreSQL server, child processes, log positions.

Every benchmark starts its own Apache Kafka (zhongshu/localkafka.py) and PostgreSQL
(zhongshu/localpg.py) in a temporary directory on free ports, unless given --broker /
--database-url, and stops them — and every child process group it started — on the way out,
including on Ctrl-C and SIGTERM.
"""
from __future__ import annotations

import atexit
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# the code under test: this checkout, or another one (a scratch worktree with a proposed patch)
CODE = Path(os.environ.get("ZHONGSHU_BENCH_CODE") or REPO).resolve()
if CODE != REPO:
    sys.path.insert(0, str(CODE))


# ---------------------------------------------------------------- machine

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_port_pair() -> int:
    """A port p with p+1 free as well (Kafka's controller listener)."""
    for _ in range(50):
        p = free_port()
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", p + 1))
            return p
        except OSError:
            continue
    raise RuntimeError("no free port pair")


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict:
    mem = 0
    with open("/proc/meminfo") as fh:
        for line in fh:
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    model = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "mem_gib": round(mem / 2**30, 1), "cpu": model,
            "python": platform.python_version(), "load": [round(x, 2) for x in loadavg()]}


def rss_bytes(pid: int) -> int:
    """Resident set size of one process (VmRSS), 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int, reaped: bool = False) -> float:
    """User + system CPU seconds of one process so far; with `reaped`, plus those of the
    children it has waited for (cutime + cstime: a PostgreSQL backend that exited still counts)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12]) + ((int(fields[13]) + int(fields[14])) if reaped else 0)
        return ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def du(path: Path) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


# ---------------------------------------------------------------- child processes

_LIVE: dict[int, "Proc"] = {}


def _stop_all(*_):
    for proc in list(_LIVE.values()):
        proc.stop(timeout=10)


def _on_signal(signum, frame):
    _stop_all()
    raise SystemExit(128 + signum)


atexit.register(_stop_all)


def install_signal_handlers() -> None:
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_signal)


class Proc:
    """A child in its own process group (stopped as a group), output to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict, cwd: Path, log_dir: Path, profiled: bool = False):
        self.name, self.argv, self.env, self.cwd = name, argv, env, cwd
        self.profiled = profiled
        self.log_path = log_dir / f"{name}.log"
        log = open(self.log_path, "ab")
        self.started = time.monotonic()
        self.popen = subprocess.Popen(argv, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        log.close()
        _LIVE[self.popen.pid] = self

    @property
    def pid(self) -> int:
        """The process doing the work (under py-spy: its child, once started)."""
        if self.profiled:
            for _ in range(100):
                kids = _children(self.popen.pid)
                if kids:
                    return kids[0]
                time.sleep(0.05)
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def stop(self, timeout: float = 30) -> int | None:
        if self.profiled and self.alive():  # stop the target only: py-spy then writes its profile and exits
            for kid in _children(self.popen.pid):
                try:
                    os.kill(kid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
            try:
                self.popen.wait(timeout + 60)
            except subprocess.TimeoutExpired:
                pass
        try:
            if self.alive():
                try:
                    os.killpg(self.popen.pid, signal.SIGTERM)
                    self.popen.wait(timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                    self.popen.wait(10)
                except ProcessLookupError:
                    pass
            else:  # the leader is gone; its group may not be
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        finally:
            _LIVE.pop(self.popen.pid, None)
        return self.popen.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def child_env(code: Path | str | None = None, **zhongshu) -> dict:
    """The environment of a zhongshu child: ours minus any ZHONGSHU_* of the caller, plus `zhongshu`;
    `code`: run that checkout's code (default: the code under test, CODE)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZHONGSHU_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in dict.fromkeys([str(code or CODE), str(REPO),
                                                                  env.get("PYTHONPATH", "")]) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env.update({f"ZHONGSHU_{k.upper()}": str(v) for k, v in zhongshu.items()})
    return env


# ---------------------------------------------------------------- broker + database

class Infra:
    """A broker and a PostgreSQL server for one benchmark run: started here, or given."""

    def __init__(self, broker: str | None = None, database_url: str | None = None, workdir: str | None = None,
                 kafka_heap: str = "1g", keep: bool = False):
        self.given_broker, self.given_db = broker, database_url
        self.dir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="zhongshu-bench-"))
        self.dir.mkdir(parents=True, exist_ok=True)
        self.logs = self.dir / "logs"
        self.logs.mkdir(exist_ok=True)
        self.kafka_heap = kafka_heap
        self.keep = keep
        self.kafka = None
        self.pg = None
        self.bootstrap = broker or ""
        self._db_base = database_url or ""

    def __enter__(self) -> "Infra":
        install_signal_handlers()
        try:
            if not self.given_broker:
                from zhongshu.localkafka import LocalKafka, ensure_kafka_jars

                ensure_kafka_jars()
                self.kafka = LocalKafka(self.dir / "kafka", port=free_port_pair(), heap=self.kafka_heap)
                self.kafka.format()
                self.kafka.start()
                self.bootstrap = self.kafka.bootstrap
            if not self.given_db:
                from zhongshu.localpg import LocalPostgres

                # the PostgreSQL OS user must traverse the path: keep it short and under /tmp
                self.pg = LocalPostgres(Path(tempfile.mkdtemp(prefix="zs-bench-pg-")), port=free_port())
                self.pg.init()
                self.pg.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        _stop_all()
        if self.kafka is not None:
            try:
                self.kafka.stop()
            finally:
                self.kafka = None
        if self.pg is not None:
            try:
                self.pg.stop()
            finally:
                shutil.rmtree(self.pg.data_dir, ignore_errors=True)
                self.pg = None
        if not self.keep:  # the logs stay for a look afterwards
            shutil.rmtree(self.dir / "kafka", ignore_errors=True)
            shutil.rmtree(self.dir / "homes", ignore_errors=True)

    def new_database(self, prefix: str = "bench") -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        if self.pg is not None:
            return self.pg.create_database(name)
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = make_url(self._db_base)
        engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            engine.dispose()
        return url.set(database=name).render_as_string(hide_password=False)

    def create_topics(self, partitions: int) -> None:
        from streams.topics import create_topics

        create_topics(self.bootstrap, partitions)

    def home(self, name: str) -> Path:
        """A fresh ZHONGSHU_HOME (Faust data dir, secret) for one child."""
        p = self.dir / "homes" / f"{name}-{uuid.uuid4().hex[:6]}"
        p.mkdir(parents=True)
        return p

    def spawn(self, name: str, args: list[str], env: dict, cwd: Path | None = None,
              profile: Path | None = None) -> Proc:
        """`zhongshu <args>`; with `profile`, under `py-spy record` writing collapsed stacks there."""
        argv = [sys.executable, "-m", "zhongshu.cli", *args]
        if profile:
            extra = os.environ.get("ZHONGSHU_BENCH_PYSPY", "").split()  # e.g. --gil: only the thread holding the GIL
            argv = ["py-spy", "record", "--nonblocking", "-r", "97", "-f", "raw", *extra, "-o", str(profile), "--"] + argv
        return Proc(name, argv, env, cwd or self.dir, self.logs, profiled=bool(profile))

    def spawn_module(self, name: str, module: str, args: list[str], env: dict | None = None) -> Proc:
        return Proc(name, [sys.executable, "-m", module, *args], env or child_env(), REPO, self.logs)

    def describe(self) -> str:
        return f"code {CODE}" + (" (ZHONGSHU_BENCH_CODE)" if CODE != REPO else "")


# ---------------------------------------------------------------- log positions (kafka-python, blocking)

class Positions:
    """End offsets of topics, committed offsets of consumer groups (what /api/v1/sync compares)."""

    def __init__(self, bootstrap: str):
        from kafka import KafkaAdminClient, KafkaConsumer

        self.consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
        self.admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="zhongshu-bench")

    def close(self) -> None:
        self.consumer.close()
        self.admin.close()

    def partitions(self, topics) -> list:
        from kafka import TopicPartition

        out = []
        for t in topics:
            parts = self.consumer.partitions_for_topic(t)
            if not parts:
                self.consumer.topics()  # refresh metadata
                parts = self.consumer.partitions_for_topic(t) or set()
            out.extend(TopicPartition(t, p) for p in sorted(parts))
        return out

    def ends(self, topics) -> dict:
        tps = self.partitions(topics)
        return dict(self.consumer.end_offsets(tps)) if tps else {}

    def beginnings(self, tps) -> dict:
        return dict(self.consumer.beginning_offsets(list(tps))) if tps else {}

    def committed(self, group: str) -> dict:
        from kafka.errors import KafkaError

        try:
            if hasattr(self.admin, "list_group_offsets"):  # kafka-python ≥ 3
                got = self.admin.list_group_offsets(group).get(group, {})
            else:
                got = self.admin.list_consumer_group_offsets(group)
        except KafkaError:  # e.g. the group coordinator is not there yet right after the broker started
            return {}
        return {tp: meta.offset for tp, meta in got.items() if meta is not None and meta.offset >= 0}

    def total(self, topics) -> int:
        return sum(self.ends(topics).values())

    def truncate(self, topics) -> int:
        """Delete every record now in `topics` (the log start moves to the end): a later stream
        run on the same broker must not read an earlier run's case-fact forwards or leads."""
        ends = {tp: end for tp, end in self.ends(topics).items() if end > 0}
        begins = self.beginnings(ends.keys())
        todo = {tp: end for tp, end in ends.items() if begins.get(tp, 0) < end}
        if todo:
            self.admin.delete_records(todo)
        return sum(end - begins.get(tp, 0) for tp, end in todo.items())


def worker_topics() -> tuple[str, ...]:
    from streams.topics import INGRESS_TOPICS, INTERNAL_TOPICS, REFERENCE_TOPICS

    return (*INGRESS_TOPICS, *REFERENCE_TOPICS, "hub.clock", *INTERNAL_TOPICS)


def wait_group_caught_up(pos: Positions, group: str, topics, *, internal=(), timeout: float = 3600,
                         poll: float = 0.25, alive=lambda: True, on_poll=None) -> float:
    """Block until `group` has committed the log ends of `topics` as of the call, chasing the
    `internal` topics the group itself appends to meanwhile (the case worker's forwards), as
    /api/v1/sync does. Returns the monotonic time it was first seen caught up."""
    deadline = time.monotonic() + timeout
    ends = pos.ends(topics)
    begins = pos.beginnings(ends.keys())
    while True:
        committed = pos.committed(group)
        have = {tp: committed.get(tp, begins.get(tp, 0)) for tp in ends}
        if on_poll:
            on_poll(have, ends)
        if all(have[tp] >= end for tp, end in ends.items() if end > 0):
            again = pos.ends(internal) if internal else {}
            if all(again[tp] <= ends.get(tp, 0) for tp in again):
                return time.monotonic()
            ends.update(again)
            begins.update(pos.beginnings(again.keys()))
            continue
        if time.monotonic() > deadline:
            lag = {f"{tp.topic}/{tp.partition}": end - have[tp] for tp, end in ends.items() if have[tp] < end}
            raise TimeoutError(f"group {group} not caught up after {timeout}s; lag {lag}")
        if not alive():
            raise RuntimeError(f"a process of group {group} died before catching up")
        time.sleep(poll)


def wait_projector(pos: Positions, db_url: str, *, timeout: float = 3600, poll: float = 0.25,
                   alive=lambda: True) -> float:
    """Block until the projector's stored offsets (in its database) reach the projected topics'
    ends as of the call; returns the monotonic time it did."""
    from sqlalchemy import create_engine, text

    from projections.projector import PROJECTED_TOPICS

    ends = pos.ends(PROJECTED_TOPICS)
    engine = create_engine(db_url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    stored = {(t, p): n for t, p, n in conn.execute(text(
                        'SELECT topic, "partition", next_offset FROM projector_offsets'))}
            except Exception:  # the table is not there until the projector migrated
                stored = {}
            if all(stored.get((tp.topic, tp.partition), 0) >= end for tp, end in ends.items() if end > 0):
                return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"projector not caught up after {timeout}s")
            if not alive():
                raise RuntimeError("the projector died before catching up")
            time.sleep(poll)
    finally:
        engine.dispose()


def median(xs):
    xs = sorted(x for x in xs if x is not None)
    if not xs:
        return None
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def fmt_bytes(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n < 2**30 else f"{n / 2**30:.2f} GiB"


def sanitize(text: str) -> str:
    return re.sub(r"://[^@/]*@", "://…@", text)
