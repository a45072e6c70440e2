"""`zhongshu projections …`: rebuild the read models from the log, run the migrations.

    zhongshu projections rebuild [--batch-size N] [--no-progress]
    zhongshu projections migrate

A rebuild replays every projected topic from offset zero into fresh tables (a new PostgreSQL
schema, or a new SQLite file), with a progress bar, then swaps them in atomically. API keys,
the intake ledger, the lead-action guard and every other table not derived from the log are
left as they are. A running projector notices the swap and continues from the rebuilt
positions, so the hub may stay up meanwhile.
"""
from __future__ import annotations

import sys
import time


def rebuild(settings, batch_size: int = 10000, progress: bool = True, out=sys.stderr) -> dict:
    from tqdm import tqdm

    from .db import make_engine
    from .projector import Projector, end_offsets
    from .schema import drop_rebuild, ensure_schema, finish_rebuild, rebuild_target, swap_in

    engine = make_engine(settings.db_url)
    ensure_schema(engine)
    kw = settings.kafka_client_kwargs()
    bounds = end_offsets(settings.bootstrap, kw)
    total = sum(max(0, end - begin) for begin, end in bounds.values())
    target, namespace = rebuild_target(engine)
    started = time.monotonic()
    done = 0
    try:
        projector = Projector(target, settings.bootstrap, kw, batch_size=batch_size, migrate=False, replay=True)
        with tqdm(total=total, unit="ev", unit_scale=True, desc="rebuild", disable=not progress, file=out,
                  mininterval=0.5) as bar:
            def step(n: int) -> None:
                nonlocal done
                done += n
                bar.update(n)

            projector.on_batch = step
            projector.run(until={k: end for k, (_, end) in bounds.items()})
        replayed = time.monotonic() - started
        finish_rebuild(engine, target, namespace)
        swap_in(engine, target, namespace)
    except BaseException:
        drop_rebuild(engine, target, namespace)
        raise
    finally:
        engine.dispose()
    seconds = time.monotonic() - started
    return {"events": done, "seconds": round(seconds, 3), "replay_seconds": round(replayed, 3),
            "events_per_second": round(done / replayed) if replayed > 0 else None}


def cmd_rebuild(args, settings_loader) -> int:
    settings = settings_loader(args)
    result = rebuild(settings, batch_size=args.batch_size, progress=not args.no_progress)
    print(f"rebuilt the projections from {result['events']} events in {result['seconds']} s "
          f"({result['events_per_second']} events/s replayed) and swapped them in", flush=True)
    return 0


def cmd_migrate(args, settings_loader) -> int:
    from .db import make_engine
    from .schema import current_revision, ensure_schema

    settings = settings_loader(args)
    engine = make_engine(settings.db_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        print(f"read-model schema at revision {current_revision(conn)}")
    engine.dispose()
    return 0


def register(subparsers, settings_loader) -> None:
    p = subparsers.add_parser("projections", help="read models: rebuild from the log, migrate")
    sub = p.add_subparsers(dest="sub", required=True)
    r = sub.add_parser("rebuild", help="replay the log from offset zero into fresh tables and swap them in")
    r.add_argument("--batch-size", type=int, default=10000, help="records per transaction (default 10000)")
    r.add_argument("--no-progress", action="store_true", help="no progress bar")
    r.add_argument("--broker", help="Kafka bootstrap servers (default: the configured or running one)")
    r.add_argument("--database-url", help="read-model database (default: the configured one)")
    r.set_defaults(func=lambda args: cmd_rebuild(args, settings_loader))
    m = sub.add_parser("migrate", help="run the Alembic migrations up to head")
    m.add_argument("--database-url")
    m.set_defaults(func=lambda args: cmd_migrate(args, settings_loader))
