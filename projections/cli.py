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

import os
import sys
import time


def rebuild(settings, batch_size: int = 10000, progress: bool = True, out=sys.stderr,
            workers: int | None = None) -> dict:
    """Replay the projected topics from offset zero into fresh tables and swap them in.

    On PostgreSQL the partitions are shared out among `workers` processes (default: 2, or the
    CPU count up to 4): decoding is Python-bound, and keys that belong together (a lead and its
    actions, a case and its events, an enterprise's credit events) share a partition number, so
    the processes do not write the same rows. SQLite has one writer, so one process."""
    from tqdm import tqdm

    from .db import make_engine
    from sqlalchemy.orm import Session

    from .projector import Projector, end_offsets, refold_leads
    from .schema import drop_rebuild, ensure_schema, finish_rebuild, rebuild_target, swap_in

    engine = make_engine(settings.db_url)
    ensure_schema(engine)
    kw = settings.kafka_client_kwargs()
    bounds = end_offsets(settings.bootstrap, kw)
    until = {k: end for k, (_, end) in bounds.items()}
    total = sum(max(0, end - begin) for begin, end in bounds.values())
    if engine.dialect.name != "postgresql":
        workers = 1
    elif workers is None:
        workers = max(2, min(4, os.cpu_count() or 2))
    target, namespace = rebuild_target(engine)
    started = time.monotonic()
    done = 0
    try:
        with tqdm(total=total, unit="ev", unit_scale=True, desc="rebuild", disable=not progress, file=out,
                  mininterval=0.5) as bar:
            if workers == 1:
                projector = Projector(target, settings.bootstrap, kw, batch_size=batch_size, migrate=False,
                                      replay=True)

                def step(n: int) -> None:
                    nonlocal done
                    done += n
                    bar.update(n)

                projector.on_batch = step
                projector.run(until=until)
            else:
                done = _replay_in_processes(settings.db_url, namespace, settings.bootstrap, kw, batch_size,
                                            until, workers, bar)
                with Session(target) as s, s.begin():
                    refold_leads(s)
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
            "events_per_second": round(done / replayed) if replayed > 0 else None, "workers": workers}


def _replay_in_processes(db_url: str, namespace: str, bootstrap: str, kw: dict, batch_size: int, until: dict,
                         workers: int, bar) -> int:
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no inherited threads, connections or consumer sockets
    counter = ctx.Value("q", 0)
    shares = [{k: end for k, end in until.items() if k[1] % workers == w} for w in range(workers)]
    procs = [ctx.Process(target=_replay_share, name=f"rebuild-{w}",
                         args=(db_url, namespace, bootstrap, kw, batch_size, share, counter))
             for w, share in enumerate(shares) if share]
    for p in procs:
        p.start()
    shown = 0
    try:
        while any(p.is_alive() for p in procs):
            time.sleep(0.5)
            now = counter.value
            bar.update(now - shown)
            shown = now
            if any(p.exitcode not in (None, 0) for p in procs):
                break
    finally:
        for p in procs:
            if p.is_alive() and any(q.exitcode not in (None, 0) for q in procs):
                p.terminate()
            p.join()
    bar.update(counter.value - shown)
    failed = [p.name for p in procs if p.exitcode != 0]
    if failed:
        raise RuntimeError(f"rebuild process(es) {', '.join(failed)} failed; see the log above")
    return counter.value


def _replay_share(db_url: str, namespace: str, bootstrap: str, kw: dict, batch_size: int, share: dict,
                  counter) -> None:
    """One rebuild process: its share of the partitions into the side schema."""
    import logging

    from .db import make_engine
    from .projector import Projector

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = make_engine(db_url)
    target = engine.execution_options(schema_translate_map={None: namespace})
    projector = Projector(target, bootstrap, kw, topics=sorted({t for t, _ in share}), batch_size=batch_size,
                          migrate=False, replay=True)

    def step(n: int) -> None:
        with counter.get_lock():
            counter.value += n

    projector.on_batch = step
    try:
        projector.run(until=share)
    finally:
        engine.dispose()


def cmd_rebuild(args, settings_loader) -> int:
    settings = settings_loader(args)
    result = rebuild(settings, batch_size=args.batch_size, progress=not args.no_progress, workers=args.workers)
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
    r.add_argument("--workers", type=int, help="replay processes (PostgreSQL; default 2, up to the CPU count, max 4)")
    r.add_argument("--broker", help="Kafka bootstrap servers (default: the configured or running one)")
    r.add_argument("--database-url", help="read-model database (default: the configured one)")
    r.set_defaults(func=lambda args: cmd_rebuild(args, settings_loader))
    m = sub.add_parser("migrate", help="run the Alembic migrations up to head")
    m.add_argument("--database-url")
    m.set_defaults(func=lambda args: cmd_migrate(args, settings_loader))
