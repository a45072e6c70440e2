"""A throwaway PostgreSQL cluster for development and tests (stdlib only).

Uses the server binaries of Debian's ``postgresql`` package
(``/usr/lib/postgresql/<version>/bin``; ``deploy/setup.sh`` installs them). The whole
cluster lives under ``data_dir``: the cluster files in ``pgdata/``, the unix socket and
``postgres.log`` beside them, so it never conflicts with a system cluster. Durability is
switched off (fsync, synchronous_commit, full_page_writes): never keep real data here.

``initdb`` refuses to run as root, so as root the binaries run as the ``postgres`` OS
user (created if missing) via ``runuser -u postgres --``, ``data_dir`` is chowned to it,
and every parent directory of ``data_dir`` gets ``o+x`` if the postgres user could not
otherwise traverse it (pytest's ``/tmp/pytest-of-root`` is 0700).

CLI::

    python -m zhongshu.localpg init  --data-dir var/postgres --port 15432
    python -m zhongshu.localpg start --data-dir var/postgres --port 15432
    python -m zhongshu.localpg url   --data-dir var/postgres --port 15432
    python -m zhongshu.localpg stop  --data-dir var/postgres
"""

from __future__ import annotations

import argparse
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA_DIR = REPO / "var" / "postgres"
DEFAULT_PORT = 15432
PG_OS_USER = "postgres"

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def pg_bin_dir() -> Path:
    """``$ZHONGSHU_PG_BIN``, else the newest ``/usr/lib/postgresql/*/bin`` with initdb."""
    env = os.environ.get("ZHONGSHU_PG_BIN")
    if env:
        p = Path(env).expanduser()
        if not (p / "initdb").is_file():
            raise RuntimeError(f"ZHONGSHU_PG_BIN={env} has no initdb")
        return p
    found = []
    for initdb in Path("/usr/lib/postgresql").glob("*/bin/initdb"):
        ver = initdb.parent.parent.name
        try:
            key = tuple(int(x) for x in ver.split("."))
        except ValueError:
            continue
        found.append((key, initdb.parent))
    if not found:
        raise RuntimeError(
            "no PostgreSQL server binaries found (looked for /usr/lib/postgresql/*/bin/initdb; "
            "set ZHONGSHU_PG_BIN to override): run `bash deploy/setup.sh` from the "
            "repository root (it installs Debian's postgresql package)"
        )
    return max(found)[1]


def _is_root() -> bool:
    return os.geteuid() == 0


def _ensure_pg_os_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_OS_USER)
    except KeyError:
        pass
    subprocess.run(
        ["useradd", "--system", "--user-group", "--no-create-home",
         "--home-dir", "/var/lib/postgresql", "--shell", "/usr/sbin/nologin", PG_OS_USER],
        check=True,
    )
    return pwd.getpwnam(PG_OS_USER)


def _make_traversable(path: Path, uid: int, gid: int) -> None:
    """chmod o+x every ancestor of ``path`` that user uid/gid cannot traverse."""
    for parent in reversed(path.parents):
        st = parent.stat()
        mode = st.st_mode
        if st.st_uid == uid:
            ok = mode & stat.S_IXUSR
        elif st.st_gid == gid:
            ok = mode & stat.S_IXGRP
        else:
            ok = mode & stat.S_IXOTH
        if not ok:
            os.chmod(parent, stat.S_IMODE(mode) | stat.S_IXOTH)


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no log at {path})"


class LocalPostgres:
    """One throwaway PostgreSQL cluster on 127.0.0.1:``port`` kept in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        port: int = DEFAULT_PORT,
        user: str = "zhongshu",
        password: str = "zhongshu",
        dbname: str = "zhongshu",
    ) -> None:
        for what, v in (("user", user), ("dbname", dbname)):
            if not _IDENT.match(v):
                raise ValueError(f"{what} must be a plain SQL identifier, got {v!r}")
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.port = int(port)
        self.user = user
        self.password = password
        self.dbname = dbname
        self.host = "127.0.0.1"

    # paths / urls -------------------------------------------------------------
    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir

    @property
    def _marker(self) -> Path:
        return self.data_dir / ".initialized"

    def url_for(self, dbname: str, driver: str = "postgresql+psycopg") -> str:
        return (
            f"{driver}://{quote(self.user, safe='')}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{dbname}"
        )

    @property
    def url(self) -> str:
        """SQLAlchemy URL: postgresql+psycopg://user:pw@127.0.0.1:PORT/dbname"""
        return self.url_for(self.dbname)

    @property
    def dsn(self) -> str:
        """libpq URL (for psycopg.connect): postgresql://user:pw@127.0.0.1:PORT/dbname"""
        return self.url_for(self.dbname, driver="postgresql")

    def __repr__(self) -> str:
        return f"LocalPostgres(data_dir={str(self.data_dir)!r}, port={self.port})"

    def __enter__(self) -> "LocalPostgres":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # running binaries ---------------------------------------------------------
    def _bin(self, name: str) -> str:
        p = pg_bin_dir() / name
        if not p.is_file():
            raise RuntimeError(f"{p} is missing: run `bash deploy/setup.sh`")
        return str(p)

    def _run(self, args: list[str], *, input: str | None = None, check: bool = True,
             timeout: float = 120) -> subprocess.CompletedProcess:
        cmd = list(args)
        if _is_root():
            cmd = ["runuser", "-u", PG_OS_USER, "--"] + cmd
        env = dict(os.environ)
        env.pop("PGDATA", None)
        env.setdefault("LC_ALL", "C")
        proc = subprocess.run(
            cmd,
            cwd=str(self.data_dir),
            input=input,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise RuntimeError(
                f"`{' '.join(cmd)}` failed (exit {proc.returncode}):\n{proc.stdout[-4000:]}"
            )
        return proc

    def _prepare_dir(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _is_root():
            pw = _ensure_pg_os_user()
            _make_traversable(self.data_dir, pw.pw_uid, pw.pw_gid)
            os.chown(self.data_dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.data_dir, 0o700)

    def _write_owned(self, path: Path, text: str, mode: int = 0o600) -> None:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        os.chmod(tmp, mode)
        if _is_root():
            pw = pwd.getpwnam(PG_OS_USER)
            os.chown(tmp, pw.pw_uid, pw.pw_gid)
        tmp.replace(path)

    def _write_config(self) -> None:
        conf = "\n".join(
            [
                "# written by zhongshu/localpg.py on every init()/start(): throwaway cluster",
                "listen_addresses = '127.0.0.1'",
                f"port = {self.port}",
                f"unix_socket_directories = '{self.socket_dir}'",
                "max_connections = 200",
                "fsync = off",
                "synchronous_commit = off",
                "full_page_writes = off",
                "password_encryption = 'scram-sha-256'",
                "logging_collector = off",
                "log_min_messages = warning",
                "",
            ]
        )
        self._write_owned(self.pgdata / "zhongshu.conf", conf)
        hba = "\n".join(
            [
                "# written by zhongshu/localpg.py",
                "# the unix socket sits in the 0700 data dir: only its owner (and root) reach it",
                "local   all   all                 trust",
                "host    all   all   127.0.0.1/32  scram-sha-256",
                "",
            ]
        )
        self._write_owned(self.pgdata / "pg_hba.conf", hba)
        main_conf = self.pgdata / "postgresql.conf"
        text = main_conf.read_text()
        if "include_if_exists = 'zhongshu.conf'" not in text:
            self._write_owned(main_conf, text + "\ninclude_if_exists = 'zhongshu.conf'\n")

    # lifecycle ----------------------------------------------------------------
    def is_initialized(self) -> bool:
        return self._marker.is_file() and (self.pgdata / "PG_VERSION").is_file()

    def init(self) -> None:
        """initdb (once), role ``user`` with ``password``, database ``dbname``. Idempotent."""
        self._prepare_dir()
        if self.is_initialized():
            self._write_config()
            return
        if self.pgdata.exists():  # a half-done earlier init: it is throwaway, start over
            if self.is_running():
                self.stop()
            shutil.rmtree(self.pgdata)
        pwfile = self.data_dir / ".pwfile"
        self._write_owned(pwfile, self.password + "\n")
        try:
            self._run(
                [
                    self._bin("initdb"),
                    "-D", str(self.pgdata),
                    "-U", self.user,  # bootstrap superuser, password-protected over TCP
                    f"--pwfile={pwfile}",
                    "--auth-local=trust",
                    "--auth-host=scram-sha-256",
                    "-E", "UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ]
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_config()
        if self.dbname != "postgres":
            # single-user mode: create the database without starting a server
            self._run(
                [self._bin("postgres"), "--single", "-D", str(self.pgdata), "-j", "postgres"],
                input=f"CREATE DATABASE {self.dbname} OWNER {self.user};\n",
            )
        self._write_owned(self._marker, f"{self.user}@{self.dbname}\n", mode=0o644)

    def is_running(self) -> bool:
        if not (self.pgdata / "PG_VERSION").is_file():
            return False
        proc = self._run([self._bin("pg_ctl"), "status", "-D", str(self.pgdata)], check=False)
        return proc.returncode == 0

    def start(self, wait: float = 30) -> None:
        """``pg_ctl start -w`` (init()s first if needed). Idempotent."""
        self.init()
        if self.is_running():
            return
        if _port_open(self.port):
            raise RuntimeError(
                f"cannot start PostgreSQL on 127.0.0.1:{self.port}: the port is already in use"
            )
        proc = self._run(
            [
                self._bin("pg_ctl"), "start", "-w", "-t", str(int(max(wait, 1))),
                "-D", str(self.pgdata), "-l", str(self.log_file),
            ],
            check=False,
            timeout=wait + 30,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"PostgreSQL in {self.pgdata} did not start (exit {proc.returncode}):\n"
                f"{proc.stdout[-2000:]}\ntail of {self.log_file}:\n{_tail(self.log_file)}"
            )

    def stop(self) -> None:
        """``pg_ctl stop -m fast``. Idempotent."""
        if not self.is_running():
            return
        self._run([self._bin("pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(self.pgdata)])

    # databases ----------------------------------------------------------------
    def psql(self, sql: str, dbname: str = "postgres") -> str:
        """Run SQL as the superuser over the cluster's private unix socket."""
        proc = self._run(
            [
                self._bin("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                "-h", str(self.socket_dir), "-p", str(self.port),
                "-U", self.user, "-d", dbname, "-c", sql,
            ]
        )
        return proc.stdout

    def create_database(self, name: str) -> str:
        """Drop ``name`` if it exists, create it empty, return its SQLAlchemy URL."""
        if not _IDENT.match(name):
            raise ValueError(f"database name must be a plain SQL identifier, got {name!r}")
        self.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        self.psql(f"CREATE DATABASE {name} OWNER {self.user}")
        return self.url_for(name)


# --------------------------------------------------------------------------- CLI


def _port_from_config(data_dir: Path) -> int | None:
    try:
        text = (Path(data_dir) / "pgdata" / "zhongshu.conf").read_text()
    except OSError:
        return None
    m = re.search(r"^port = (\d+)", text, re.M)
    return int(m.group(1)) if m else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m zhongshu.localpg",
        description="Run a throwaway local PostgreSQL cluster.",
    )
    ap.add_argument("command", choices=["init", "start", "stop", "url", "status"])
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR,
                    help=f"cluster directory (default {DEFAULT_DATA_DIR})")
    ap.add_argument("--port", type=int, default=None,
                    help=f"TCP port on 127.0.0.1 (default: the configured one, else {DEFAULT_PORT})")
    ap.add_argument("--wait", type=float, default=30)
    ns = ap.parse_args(argv)
    port = ns.port or _port_from_config(ns.data_dir) or DEFAULT_PORT
    pg = LocalPostgres(ns.data_dir, port=port)
    try:
        if ns.command == "init":
            pg.init()
            print(f"initialized {pg.pgdata}")
        elif ns.command == "start":
            t0 = time.monotonic()
            already = pg.is_running()
            pg.start(wait=ns.wait)
            how = "already running" if already else f"started in {time.monotonic() - t0:.1f}s"
            print(f"postgres {how}: {pg.url}")
        elif ns.command == "stop":
            was = pg.is_running()
            pg.stop()
            print("postgres stopped" if was else "postgres not running")
        elif ns.command == "url":
            print(pg.url)
        elif ns.command == "status":
            if pg.is_running():
                print(f"postgres running: {pg.url}")
            else:
                print(f"postgres not running (data={pg.data_dir})")
                return 3
    except RuntimeError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
