"""`zhongshu pull` and `zhongshu import`: the connectors' subcommands (a zhongshu.cli plugin).

`zhongshu pull` polls a source's REST endpoint (connectors/pull.py has the protocol, the
`[pull.<name>]` configuration keys and the exit codes); `zhongshu import` reads a CSV or
XLSX export (connectors/fileimport.py has the column mapping and the exit codes). Both write
through the same intake path as the HTTP API, straight to the hub's database and broker.

`zhongshu up` also runs `zhongshu pull --all` as a supervised child when the configuration
file has `[pull.<name>]` tables with `autostart` true (UP_CHILDREN below).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

KINDS = ("workorder", "inspection", "case", "credit", "transfer")


def register(subparsers, settings_loader) -> None:
    p = subparsers.add_parser(
        "pull", help="poll a source's REST endpoint page by page into the hub",
        description="Poll a REST endpoint with a cursor; records go through intake validation and the "
                    "idempotent append; invalid ones to hub.deadletter. Configure [pull.<name>] tables in "
                    "zhongshu.toml (see connectors/pull.py) or give --url and --kind.")
    p.add_argument("--name", help="connector name: the [pull.<name>] table and the key of the stored cursor")
    p.add_argument("--all", action="store_true", help="run every [pull.*] table with autostart true")
    p.add_argument("--url", help="endpoint URL")
    p.add_argument("--kind", choices=KINDS, help="record kind the endpoint serves")
    p.add_argument("--cursor-param", help="query parameter carrying the cursor (default cursor)")
    p.add_argument("--items-path", help="dotted path of the record list in the answer (default items)")
    p.add_argument("--next-path", help="dotted path of the next cursor in the answer (default next_cursor)")
    p.add_argument("--page-size", type=int, help="records per page, sent as --page-size-param")
    p.add_argument("--page-size-param", help="query parameter carrying the page size (default page_size)")
    p.add_argument("--start-cursor", help="cursor of the very first request (when nothing is stored)")
    p.add_argument("--header", action="append", default=[], metavar="'NAME: VALUE'", help="request header (repeat)")
    p.add_argument("--token-env", metavar="VAR", help="environment variable holding a bearer token")
    p.add_argument("--interval", type=float, help="seconds between polls once caught up (default 30)")
    p.add_argument("--timeout", type=float, help="seconds per HTTP request (default 10)")
    p.add_argument("--max-attempts", type=int, help="tries per page before waiting an interval (default 6)")
    p.add_argument("--backoff", type=float, dest="backoff_initial", help="first retry delay, seconds (default 0.5)")
    p.add_argument("--backoff-max", type=float, help="longest retry delay, seconds (default 60)")
    p.add_argument("--once", action="store_true", help="stop once caught up (exit 1 if the source stayed unavailable)")
    p.add_argument("--reset", action="store_true", help="forget the stored cursor first")
    p.add_argument("--json", action="store_true", help="print the final counts as JSON")
    p.add_argument("--broker", help="Kafka bootstrap servers (default: the running hub's)")
    p.add_argument("--database-url", help="the hub's database (default: configured / ./var)")
    p.set_defaults(func=lambda args: cmd_pull(args, settings_loader))

    i = subparsers.add_parser(
        "import", help="import a CSV or XLSX export (work orders, inspections, cases, …)",
        description="Import a CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX export through intake validation "
                    "and the idempotent append. Exit 0 all accepted or duplicate, 1 some rows rejected "
                    "(see the rejects file), 2 usage error, 3 broker or database failed mid-way.")
    i.add_argument("kind", help="workorder | inspection | case | credit | transfer")
    i.add_argument("file", help="the .csv or .xlsx file")
    i.add_argument("--rejects", metavar="PATH", help="rejects file (default ./<file stem>.rejects.csv, if any)")
    i.add_argument("--batch", type=int, default=500, metavar="N", help="rows appended per batch (default 500)")
    i.add_argument("--encoding", help="CSV encoding (default: detected: UTF-8 with or without BOM, else GB18030)")
    i.add_argument("--sheet", help="XLSX sheet (default the first)")
    i.add_argument("--map", action="append", default=[], metavar="'COLUMN=field'",
                   help="map a column to a field (COLUMN= drops it); repeat")
    i.add_argument("--strict", action="store_true", help="refuse a file with columns that map to no field")
    i.add_argument("--json", action="store_true", help="print the summary as JSON")
    i.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: when stderr is a terminal)")
    i.add_argument("--broker", help="Kafka bootstrap servers (default: the running hub's)")
    i.add_argument("--database-url", help="the hub's database (default: configured / ./var)")
    i.set_defaults(func=lambda args: cmd_import(args, settings_loader))


# ---------------------------------------------------------------- pull

_FLAG_KEYS = ("url", "kind", "cursor_param", "items_path", "next_path", "page_size", "page_size_param",
              "start_cursor", "token_env", "interval", "timeout", "max_attempts", "backoff_initial", "backoff_max")


def _parse_headers(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        name, sep, value = item.partition(":")
        if not sep or not name.strip():
            raise ValueError(f"--header {item!r}: expected 'NAME: VALUE'")
        out[name.strip()] = value.strip()
    return out


def pull_configs_from_args(args, settings):
    from .pull import PullConfig, PullConfigError, pull_tables

    tables = pull_tables(settings)
    if args.all:
        if args.name or any(getattr(args, k) is not None for k in _FLAG_KEYS):
            raise PullConfigError("--all runs the configured [pull.*] tables as they are; drop --name and the "
                                  "connection flags")
        return [PullConfig.from_mapping(name, table) for name, table in tables.items()
                if table.get("autostart", True) is not False]
    if not args.name:
        raise PullConfigError("give --name NAME (a [pull.NAME] table, or with --url and --kind) or --all")
    table = dict(tables.get(args.name, {}))
    table.update({k: getattr(args, k) for k in _FLAG_KEYS if getattr(args, k) is not None})
    try:
        headers = _parse_headers(args.header)
    except ValueError as exc:
        raise PullConfigError(str(exc)) from None
    if headers:
        table["headers"] = {**(table.get("headers") or {}), **headers}
    return [PullConfig.from_mapping(args.name, table)]


def cmd_pull(args, settings_loader) -> int:
    from .pull import PullConfigError, run_connectors

    settings = settings_loader(args)
    logging.basicConfig(level=getattr(logging, str(settings.log_level).upper(), logging.INFO), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        configs = pull_configs_from_args(args, settings)
    except PullConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not configs:
        print("no [pull.*] tables with autostart in the configuration; nothing to run", file=sys.stderr)
        return 0

    async def main():
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return await run_connectors(settings, configs, once=args.once, stop=stop, reset=args.reset)

    try:
        results = asyncio.run(main())
    except Exception as exc:  # the broker or database unreachable at start, or a bug: the cursor is kept
        logging.getLogger("zhongshu.pull").exception("pull stopped")
        print(f"error: pull stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    for name, (ok, stats) in results.items():
        if args.json:
            print(json.dumps({"name": name, "ok": ok, **stats.as_dict()}))
        else:
            print(f"pull {name}: {'caught up' if ok else 'source unavailable; cursor kept'}; pages {stats.pages}, "
                  f"accepted {stats.accepted}, duplicates {stats.duplicates}, rejected {stats.rejected}, "
                  f"failed tries {stats.failures}")
    return 0 if all(ok for ok, _ in results.values()) else 1


def _up_children() -> list[tuple[str, list[str]]]:
    """`zhongshu pull --all` under `zhongshu up` when [pull.*] tables ask for it."""
    from zhongshu.config import load_settings

    from .pull import pull_configs

    try:
        configs = pull_configs(load_settings())
    except Exception as exc:  # a broken table must not stop the hub; say so and run no connector
        print(f"warning: no pull connector started: {exc}", file=sys.stderr, flush=True)
        return []
    if not any(c.autostart for c in configs.values()):
        return []
    argv = ["pull", "--all"]
    config_file = Path(os.environ.get("ZHONGSHU_CONFIG") or "zhongshu.toml")
    if config_file.exists():
        argv = ["--config", str(config_file.resolve())] + argv
    return [("pull", argv)]


def __getattr__(name: str):
    # Computed on access: only `zhongshu up` asks, after the configuration exists.
    if name == "UP_CHILDREN":
        return _up_children()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------- import

def cmd_import(args, settings_loader) -> int:
    from .fileimport import main

    settings = settings_loader(args)
    return main(settings, args)
