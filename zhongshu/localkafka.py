"""A real single-node Apache Kafka broker (KRaft) for development and tests.

Docker does not run on the development machines, so the broker comes from Maven
Central: ``deploy/kafka/pom.xml`` resolves ``org.apache.kafka:kafka_2.13`` and its
runtime jars into ``deploy/kafka/lib/``; this module formats KRaft storage and runs
``java -cp 'lib/*' kafka.Kafka server.properties`` with Java 17.

Stdlib only, so it works before the project's dependencies are installed.

CLI::

    python -m zhongshu.localkafka format --data-dir var/kafka --port 19092
    python -m zhongshu.localkafka start  --data-dir var/kafka --port 19092
    python -m zhongshu.localkafka status --data-dir var/kafka
    python -m zhongshu.localkafka stop   --data-dir var/kafka
"""

from __future__ import annotations

import argparse
import base64
import fcntl
import os
import re
import shlex
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
KAFKA_DIR = REPO / "deploy" / "kafka"
POM = KAFKA_DIR / "pom.xml"
LOG4J_CONFIG = KAFKA_DIR / "log4j.properties"

DEFAULT_PORT = 19092
DEFAULT_DATA_DIR = REPO / "var" / "kafka"


# --------------------------------------------------------------------------- jars


def kafka_lib_dir() -> Path:
    """Directory holding the broker's jars: ``$ZHONGSHU_KAFKA_LIB`` or deploy/kafka/lib."""
    env = os.environ.get("ZHONGSHU_KAFKA_LIB")
    if env:
        return Path(env).expanduser().resolve()
    return KAFKA_DIR / "lib"


def _pom_kafka_version() -> str | None:
    try:
        m = re.search(r"<kafka\.version>\s*([^<\s]+)\s*</kafka\.version>", POM.read_text())
    except OSError:
        return None
    return m.group(1) if m else None


def _jars_present(lib: Path) -> bool:
    if not lib.is_dir():
        return False
    jars = [p.name for p in lib.glob("*.jar")]
    if not jars:
        return False
    if os.environ.get("ZHONGSHU_KAFKA_LIB"):
        # a directory chosen by the user (e.g. a Kafka distribution's libs/): trust it
        return True
    version = _pom_kafka_version()
    want = f"kafka_2.13-{version}.jar" if version else None
    if want and want not in jars:
        return False  # pom moved to another Kafka version: resolve again
    return any(j.startswith("slf4j-reload4j-") for j in jars)


def ensure_kafka_jars(quiet: bool = True) -> Path:
    """Resolve the broker's jars with Maven unless they are already in place.

    Runs ``mvn -f deploy/kafka/pom.xml dependency:copy-dependencies
    -DoutputDirectory=lib -DincludeScope=runtime`` (into a temporary directory that
    is renamed into place, so an interrupted download never looks complete).
    """
    lib = kafka_lib_dir()
    if _jars_present(lib):
        return lib
    lib.parent.mkdir(parents=True, exist_ok=True)
    # one resolver at a time (parallel test workers, `zhongshu up` racing setup.sh)
    with open(lib.parent / f".{lib.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _jars_present(lib):
            return lib
        return _resolve_jars(lib, quiet)


def _resolve_jars(lib: Path, quiet: bool) -> Path:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise RuntimeError(
            "Apache Kafka jars are missing from %s and Maven ('mvn') is not installed; "
            "run `bash deploy/setup.sh` from the repository root (it installs maven and "
            "a Java 17 runtime and resolves the jars)." % lib
        )
    if not POM.is_file():
        raise RuntimeError(f"{POM} is missing; cannot resolve the Kafka jars")
    tmp = lib.parent / f".{lib.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    cmd = [
        mvn,
        "-B",
        "-q",
        "-Dstyle.color=never",
        "-f",
        str(POM),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={tmp}",
        "-DincludeScope=runtime",
    ]
    if not quiet:
        print("resolving Apache Kafka jars:", " ".join(cmd), flush=True)
    proc = subprocess.run(
        cmd, cwd=str(KAFKA_DIR), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    out = re.sub(r"\x1b\[[0-9;]*m", "", proc.stdout or "").strip()
    if proc.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(
            f"`{' '.join(cmd)}` failed with exit code {proc.returncode}"
            + (f":\n{out[-4000:]}" if out else "")
        )
    if out and not quiet:
        print(out, flush=True)
    if not any(tmp.glob("*.jar")):
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"maven ran but put no jars in {tmp}")
    if lib.exists():
        old = lib.parent / f".{lib.name}.old-{os.getpid()}"
        lib.rename(old)
        tmp.rename(lib)
        shutil.rmtree(old, ignore_errors=True)
    else:
        tmp.rename(lib)
    if not quiet:
        print(f"{len(list(lib.glob('*.jar')))} jars in {lib}", flush=True)
    return lib


# ------------------------------------------------------------------ wire probe


def _metadata_broker_count(host: str, port: int, timeout: float = 2.0) -> int:
    """Send a Kafka Metadata v4 request (no topics) and return the number of live brokers.

    v4 is non-flexible and still supported by Kafka 4.x (KIP-896 removed only v0-v3).
    In KRaft mode the metadata cache lists only unfenced brokers, so a count >= 1
    means the broker is really serving. Raises OSError/ValueError if not answering.
    """
    client_id = b"zhongshu-localkafka"
    corr = 7
    header = struct.pack(">hhih", 3, 4, corr, len(client_id)) + client_id
    body = struct.pack(">i?", 0, False)  # topics: empty array, allow_auto_topic_creation
    payload = header + body
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(struct.pack(">i", len(payload)) + payload)
        size = struct.unpack(">i", _recv_exact(s, 4))[0]
        if size < 12 or size > 64 * 1024 * 1024:
            raise ValueError(f"bad response size {size}")
        resp = _recv_exact(s, size)
    got_corr, _throttle, n_brokers = struct.unpack_from(">iii", resp, 0)
    if got_corr != corr:
        raise ValueError("correlation id mismatch")
    return n_brokers


def _recv_exact(s: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed by broker")
        buf += chunk
    return bytes(buf)


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


# ----------------------------------------------------------------- processes


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not running
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return True


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def _tail(path: Path, lines: int = 40) -> str:
    """The last lines of kafka.out written by the latest start (not the runs before it)."""
    try:
        data = path.read_bytes()[-40000:].decode(errors="replace")
    except OSError:
        return f"(no log at {path})"
    marker = data.rfind("\n==== ")
    if marker >= 0:
        data = data[marker + 1 :]
    return "\n".join(data.splitlines()[-lines:])


def _initial_heap(heap: str) -> str:
    """-Xms: 64m, or the max heap itself when that is smaller (the JVM refuses Xms > Xmx)."""
    m = re.fullmatch(r"(\d+)([kKmMgG]?)", heap.strip())
    if not m:
        return heap
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}[m.group(2).lower()]
    return heap if int(m.group(1)) * scale <= 64 << 20 else "64m"


def _new_cluster_id() -> str:
    """A Kafka ``Uuid`` in its base64url form, as ``kafka-storage random-uuid`` prints it."""
    while True:
        raw = uuid.uuid4().bytes
        cid = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        # Kafka's Uuid.randomUuid() never returns ids starting with '-' (CLI-unfriendly)
        if not cid.startswith("-"):
            return cid


class LocalKafka:
    """One Apache Kafka 3.9 broker in KRaft combined mode (broker+controller), node 1.

    Everything lives under ``data_dir``: server.properties, cluster.id, the KRaft
    log dirs (``kraft-logs/``), the log4j logs (``logs/``), kafka.out and kafka.pid.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int = DEFAULT_PORT,
        controller_port: int | None = None,
        heap: str = "512m",
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.port = int(port)
        self.controller_port = int(controller_port) if controller_port else self.port + 1
        self.heap = heap
        self.host = "127.0.0.1"
        self._proc: subprocess.Popen | None = None

    # paths ------------------------------------------------------------------
    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_dirs(self) -> Path:
        return self.data_dir / "kraft-logs"

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def out_file(self) -> Path:
        return self.data_dir / "kafka.out"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    @property
    def cluster_id_file(self) -> Path:
        return self.data_dir / "cluster.id"

    def __repr__(self) -> str:
        return f"LocalKafka(data_dir={str(self.data_dir)!r}, bootstrap={self.bootstrap!r})"

    def __enter__(self) -> "LocalKafka":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # config -----------------------------------------------------------------
    def server_properties(self) -> str:
        h, p, c = self.host, self.port, self.controller_port
        return "\n".join(
            [
                "# written by zhongshu/localkafka.py -- rewritten on every format()/start()",
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{h}:{c}",
                f"listeners=PLAINTEXT://{h}:{p},CONTROLLER://{h}:{c}",
                f"advertised.listeners=PLAINTEXT://{h}:{p}",
                "inter.broker.listener.name=PLAINTEXT",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={self.log_dirs}",
                "num.partitions=1",
                "auto.create.topics.enable=true",
                "delete.topic.enable=true",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                "offsets.topic.replication.factor=1",
                # fewer internal partitions than the default 50: faster first group join
                "offsets.topic.num.partitions=8",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "transaction.state.log.num.partitions=8",
                "group.initial.rebalance.delay.ms=0",
                # the event log is the source of truth: a dev broker must not age it out
                "log.retention.ms=-1",
                "num.network.threads=2",
                "num.io.threads=4",
                "num.recovery.threads.per.data.dir=1",
                "",
            ]
        )

    def _write_properties(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        text = self.server_properties()
        try:
            if self.properties_file.read_text() == text:
                return
        except OSError:
            pass
        tmp = self.properties_file.with_suffix(".tmp")
        tmp.write_text(text)
        tmp.replace(self.properties_file)

    def _cluster_id(self) -> str:
        try:
            cid = self.cluster_id_file.read_text().strip()
            if cid:
                return cid
        except OSError:
            pass
        cid = _new_cluster_id()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.cluster_id_file.write_text(cid + "\n")
        return cid

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError(
                "no `java` on PATH: Apache Kafka needs a Java 17 runtime; "
                "run `bash deploy/setup.sh` (installs openjdk-17-jre-headless)"
            )
        return java

    def _java_cmd(self, main: str, *args: str, heap: str | None = None) -> list[str]:
        lib = ensure_kafka_jars()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        cmd = [self._java()]
        if heap:
            cmd += [f"-Xmx{heap}", f"-Xms{_initial_heap(heap)}"]
        cmd += [
            "-server",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:InitiatingHeapOccupancyPercent=35",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j.configuration={LOG4J_CONFIG.as_uri()}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            *shlex.split(os.environ.get("ZHONGSHU_KAFKA_JAVA_OPTS", "")),
            "-cp",
            str(lib / "*"),
            main,
            *args,
        ]
        return cmd

    def is_formatted(self) -> bool:
        return (self.log_dirs / "meta.properties").is_file()

    def format(self) -> None:
        """Write server.properties and format KRaft storage once (idempotent)."""
        self._write_properties()
        if self.is_formatted():
            return
        cmd = self._java_cmd(
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            self._cluster_id(),
            "--config",
            str(self.properties_file),
            "--ignore-formatted",
            heap="256m",
        )
        proc = subprocess.run(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
        )
        if proc.returncode != 0 or not self.is_formatted():
            raise RuntimeError(
                f"formatting KRaft storage in {self.log_dirs} failed "
                f"(exit {proc.returncode}):\n{proc.stdout[-4000:]}"
            )

    # process ----------------------------------------------------------------
    def _read_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None

    def _is_our_broker(self, pid: int) -> bool:
        if not _pid_alive(pid):
            return False
        args = _cmdline(pid)
        if not args:  # cannot tell (no /proc): trust the pid file
            return True
        return "kafka.Kafka" in args and str(self.properties_file) in args

    def pid(self) -> int | None:
        """Pid of the running broker for this data_dir, if any."""
        if self._proc is not None and self._proc.poll() is None:
            # a JVM that is tearing down shows as a zombie before waitpid can reap it
            return self._proc.pid if _pid_alive(self._proc.pid) else None
        pid = self._read_pid()
        if pid is not None and self._is_our_broker(pid):
            return pid
        return None

    def is_running(self) -> bool:
        return self.pid() is not None

    def is_ready(self) -> bool:
        try:
            return _metadata_broker_count(self.host, self.port) >= 1
        except (OSError, ValueError, struct.error):
            return False

    def start(self, wait: float = 60) -> None:
        """Start the broker detached (own process group) and wait until it serves."""
        if self.is_running():
            self._wait_ready(wait)
            return
        self.format()
        for p, what in ((self.port, "broker"), (self.controller_port, "controller")):
            if _port_open(self.host, p):
                raise RuntimeError(
                    f"cannot start Kafka {what} on {self.host}:{p}: the port is already in "
                    f"use (another broker? `python -m zhongshu.localkafka status "
                    f"--data-dir ...`)"
                )
        cmd = self._java_cmd("kafka.Kafka", str(self.properties_file), heap=self.heap)
        with open(self.out_file, "ab") as out:
            out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {' '.join(cmd)}\n".encode())
            out.flush()
            self._proc = subprocess.Popen(
                cmd,
                cwd=str(self.data_dir),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own session + process group, survives our exit
                close_fds=True,
            )
        self.pid_file.write_text(f"{self._proc.pid}\n")
        try:
            self._wait_ready(wait)
        except BaseException:
            self.stop(timeout=10)
            raise

    def _wait_ready(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        delay = 0.1
        while True:
            pid = self.pid()
            if pid is None:
                code = self._proc.poll() if self._proc is not None else None
                raise RuntimeError(
                    f"Kafka broker in {self.data_dir} exited during startup"
                    f"{f' (exit {code})' if code is not None else ''}; "
                    f"tail of {self.out_file}:\n{_tail(self.out_file)}"
                )
            if self.is_ready():
                return
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"Kafka broker on {self.bootstrap} not ready after {wait:.0f}s; "
                    f"tail of {self.out_file}:\n{_tail(self.out_file)}"
                )
            time.sleep(delay)
            delay = min(delay * 1.5, 0.5)

    def stop(self, timeout: float = 30) -> None:
        """SIGTERM the broker's process group, SIGKILL after ``timeout``. Idempotent."""
        pid = self.pid()
        if pid is None:
            self._reap()
            self._remove_pid_file()
            return
        self._signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._alive_or_reap(pid):
                break
            time.sleep(0.1)
        else:
            self._signal(pid, signal.SIGKILL)
            kill_deadline = time.monotonic() + 10
            while self._alive_or_reap(pid) and time.monotonic() < kill_deadline:
                time.sleep(0.1)
        self._reap()
        self._remove_pid_file()
        # the listening sockets go away with the last thread: wait for that, so a
        # start() right after stop() does not find the ports still taken
        port_deadline = time.monotonic() + 10
        while time.monotonic() < port_deadline and (
            _port_open(self.host, self.port) or _port_open(self.host, self.controller_port)
        ):
            time.sleep(0.1)

    def _signal(self, pid: int, sig: int) -> None:
        try:
            os.killpg(pid, sig)  # start_new_session=True: pgid == pid
        except ProcessLookupError:
            pass
        except PermissionError:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _alive_or_reap(self, pid: int) -> bool:
        if self._proc is not None and self._proc.pid == pid:
            return self._proc.poll() is None
        return _pid_alive(pid)

    def _reap(self) -> None:
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            else:
                self._proc = None

    def _remove_pid_file(self) -> None:
        try:
            self.pid_file.unlink()
        except FileNotFoundError:
            pass


# ----------------------------------------------------------------------- CLI


def _port_from_properties(data_dir: Path) -> int | None:
    try:
        text = (Path(data_dir) / "server.properties").read_text()
    except OSError:
        return None
    m = re.search(r"^listeners=.*PLAINTEXT://[^:,]+:(\d+)", text, re.M)
    return int(m.group(1)) if m else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m zhongshu.localkafka",
        description="Run a local single-node Apache Kafka (KRaft) broker.",
    )
    ap.add_argument("command", choices=["format", "start", "stop", "status", "jars"])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                    help=f"broker state directory (default {DEFAULT_DATA_DIR})")
    ap.add_argument("--port", type=int, default=None,
                    help=f"PLAINTEXT port (default: the one in DATA_DIR/server.properties, "
                         f"else {DEFAULT_PORT})")
    ap.add_argument("--controller-port", type=int, default=None,
                    help="KRaft CONTROLLER port (default PORT+1)")
    ap.add_argument("--heap", default="512m", help="JVM max heap (default 512m)")
    ap.add_argument("--wait", type=float, default=60, help="seconds to wait for readiness")
    ns = ap.parse_args(argv)

    if ns.command == "jars":
        print(ensure_kafka_jars(quiet=False))
        return 0
    port = ns.port or _port_from_properties(ns.data_dir) or DEFAULT_PORT
    k = LocalKafka(ns.data_dir, port=port, controller_port=ns.controller_port, heap=ns.heap)
    try:
        if ns.command == "format":
            k.format()
            print(f"formatted {k.log_dirs} (cluster id {k._cluster_id()})")
        elif ns.command == "start":
            t0 = time.monotonic()
            already = k.is_running()
            k.start(wait=ns.wait)
            how = "already running" if already else f"started in {time.monotonic() - t0:.1f}s"
            print(f"kafka {how}: bootstrap={k.bootstrap} pid={k.pid()} data={k.data_dir}")
        elif ns.command == "stop":
            was = k.pid()
            k.stop()
            print(f"kafka stopped (pid {was})" if was else "kafka not running")
        elif ns.command == "status":
            pid = k.pid()
            if pid is None:
                print(f"kafka not running (data={k.data_dir})")
                return 3
            state = "ready" if k.is_ready() else "starting/not answering"
            print(f"kafka running: bootstrap={k.bootstrap} pid={pid} {state}")
            return 0 if state == "ready" else 1
    except (RuntimeError, TimeoutError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
