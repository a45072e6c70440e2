"""The read-model schema (读模型结构): Alembic migrations, and the rebuild's fresh tables and swap.

`ensure_schema(engine)` runs the migrations in `projections/migrations/` up to head; the API,
the projector and every CLI command call it at start. A new table or column needs a new
revision in `projections/migrations/versions/` (generate it with `alembic -c
projections/migrations/alembic.ini -x url=… revision --autogenerate`), or the autogenerate
test fails.

A rebuild (`zhongshu projections rebuild`) projects the log into fresh copies of the
projected tables (models.PROJECTED_TABLES) in a side namespace and then swaps them in:

* PostgreSQL: a new schema `zs_rebuild_<n>`; the swap moves the live tables out and the
  rebuilt ones in with `ALTER TABLE … SET SCHEMA` in one transaction.
* SQLite (the embedded default): a new database file beside the live one, ATTACHed as
  `rebuild`; the swap replaces the live tables' rows with the rebuilt rows in one transaction
  of the live file (the API and projector keep the live file open, so the file itself is not
  renamed under them).

Either way the swap holds the projector lock, so it never interleaves with a projector
batch; a running projector sees its stored offsets change and re-reads the log from the
rebuilt positions (projector.Resync).
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from sqlalchemy import event, inspect, text
from sqlalchemy.engine import Engine

from .models import PROJECTED_TABLES, Base

log = logging.getLogger("zhongshu.schema")

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x7A73_6D69      # pg advisory lock: one migrating process at a time
PROJECTOR_LOCK = 0x7A73_7072      # pg advisory lock: projector batches (shared) vs the swap (exclusive)
REBUILD_ALIAS = "rebuild"         # SQLite: the ATTACHed rebuild database
# keyed by a record's log position (topic, partition, offset): a rebuild, which reads each
# position once, needs no upsert on them, so on PostgreSQL they load without their primary
# key (index upkeep is most of the database's work in a load) and get it in finish_rebuild
POSITIONAL_TABLES = ("timeline",)
# secondary indexes the load itself reads through, kept during it: the projector looks up the
# staff actions of each batch's leads (lead_history.lead_id) and the highest SSE sequence
# (leads.change_seq) — without them every batch scans what the rebuild has loaded so far
LOAD_INDEXES = ("ix_lead_history_lead_id", "ix_leads_change_seq")


class LegacySchema(RuntimeError):
    """The database has hub tables but no Alembic version: it predates the migrations."""


def alembic_config():
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def ensure_schema(engine: Engine) -> None:
    """Bring the database to the migrations' head (`alembic upgrade head`), safely when several
    processes start at once (PostgreSQL: advisory lock; SQLite: `zhongshu up` migrates before
    it starts its children)."""
    from alembic import command

    head = head_revision()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK})
        current = current_revision(conn)
        if current == head:
            return
        if current is None and inspect(conn).has_table("api_keys"):
            raise LegacySchema(
                f"{engine.url.render_as_string(hide_password=True)} holds hub tables created before the "
                f"Alembic migrations; move it aside (embedded default: delete var/zhongshu.db) and start again"
            )
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
        log.info("read-model schema migrated %s -> %s", current or "empty", head)


# ---------------------------------------------------------------- rebuild namespace and swap

def projected_tables():
    return [Base.metadata.tables[name] for name in PROJECTED_TABLES]


def rebuild_target(engine: Engine) -> tuple[Engine, str]:
    """Fresh, empty projected tables in a side namespace; returns (engine writing there, namespace)."""
    if engine.dialect.name == "postgresql":
        name = f"zs_rebuild_{time.time_ns()}"
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{name}"'))
        target = engine.execution_options(schema_translate_map={None: name})
        with target.begin() as conn:
            Base.metadata.create_all(conn, tables=projected_tables())
            # bulk load first, index afterwards (finish_rebuild): several times faster on PostgreSQL
            for table in projected_tables():
                for index in table.indexes:
                    if index.name not in LOAD_INDEXES:
                        conn.execute(text(f'DROP INDEX "{name}"."{index.name}"'))
            for table in POSITIONAL_TABLES:
                pk = inspect(conn).get_pk_constraint(table, schema=name)["name"]
                conn.execute(text(f'ALTER TABLE "{name}"."{table}" DROP CONSTRAINT "{pk}"'))
        return target, name
    if engine.dialect.name == "sqlite":
        live = Path(engine.url.database).resolve()
        path = live.with_name(live.name + ".rebuild")
        for p in (path, path.with_name(path.name + "-journal")):
            p.unlink(missing_ok=True)
        target = _sqlite_attached(engine, path).execution_options(schema_translate_map={None: REBUILD_ALIAS})
        with target.begin() as conn:
            Base.metadata.create_all(conn, tables=projected_tables())
        return target, str(path)
    raise NotImplementedError(f"rebuild on {engine.dialect.name}")


def _sqlite_attached(engine: Engine, path: Path) -> Engine:
    from .db import make_engine

    attached = make_engine(engine.url.render_as_string(hide_password=False))

    @event.listens_for(attached, "connect")
    def _attach(dbapi_conn, _):
        cur = dbapi_conn.cursor()
        cur.execute(f"ATTACH DATABASE '{path}' AS {REBUILD_ALIAS}")
        # a scratch file: if the rebuild dies it starts again from offset zero
        cur.execute(f"PRAGMA {REBUILD_ALIAS}.journal_mode=OFF")
        cur.execute(f"PRAGMA {REBUILD_ALIAS}.synchronous=OFF")
        cur.close()

    return attached


def finish_rebuild(engine: Engine, target: Engine, namespace: str) -> None:
    """Create the secondary indexes the bulk load went without (PostgreSQL), before the swap."""
    if engine.dialect.name != "postgresql":
        return
    with target.begin() as conn:
        # parallel replay processes may have handed out the same SSE sequence twice: renumber
        conn.execute(text(f'UPDATE "{namespace}".leads AS l SET change_seq = r.n FROM (SELECT lead_id, '
                          f'row_number() OVER (ORDER BY change_seq, lead_id) AS n FROM "{namespace}".leads) r '
                          f'WHERE l.lead_id = r.lead_id'))
        for name in POSITIONAL_TABLES:
            # the live table's constraint name (the migrations'), so later migrations find it
            pk = inspect(engine).get_pk_constraint(name)["name"]
            cols = ", ".join(f'"{c.name}"' for c in Base.metadata.tables[name].primary_key.columns)
            conn.execute(text(f'ALTER TABLE "{namespace}"."{name}" ADD CONSTRAINT "{pk}" PRIMARY KEY ({cols})'))
        for table in projected_tables():
            for index in table.indexes:
                if index.name not in LOAD_INDEXES:
                    index.create(conn)
        for table in projected_tables():
            conn.execute(text(f'ANALYZE "{namespace}"."{table.name}"'))


def swap_in(engine: Engine, target: Engine, namespace: str) -> None:
    """Make the rebuilt tables the live ones, atomically, leaving every other table alone.

    `leads.change_seq` (the SSE cursor) is shifted above the live numbers so that streams
    announce every rebuilt lead once instead of going quiet."""
    if engine.dialect.name == "postgresql":
        _swap_postgres(engine, namespace)
        target.dispose()
    else:
        _swap_sqlite(target)
        target.dispose()
        Path(namespace).unlink(missing_ok=True)


def _swap_postgres(engine: Engine, namespace: str) -> None:
    old = f"zs_old_{time.time_ns()}"
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PROJECTOR_LOCK})
        live = conn.execute(text("SELECT current_schema()")).scalar_one()
        shift = conn.execute(text(f'SELECT coalesce(max(change_seq), 0) FROM "{live}".leads')).scalar_one()
        conn.execute(text(f'UPDATE "{namespace}".leads SET change_seq = change_seq + :s'), {"s": shift})
        conn.execute(text(f'CREATE SCHEMA "{old}"'))
        for name in PROJECTED_TABLES:
            conn.execute(text(f'ALTER TABLE "{live}"."{name}" SET SCHEMA "{old}"'))
            conn.execute(text(f'ALTER TABLE "{namespace}"."{name}" SET SCHEMA "{live}"'))
        conn.execute(text(f'DROP SCHEMA "{old}" CASCADE'))
        conn.execute(text(f'DROP SCHEMA "{namespace}" CASCADE'))


def _swap_sqlite(target: Engine) -> None:
    with target.connect() as conn:
        raw = conn.connection.dbapi_connection
        cur = raw.cursor()
        cur.execute("BEGIN IMMEDIATE")  # the write lock of the live file first: no projector batch in between
        try:
            shift = cur.execute("SELECT coalesce(max(change_seq), 0) FROM main.leads").fetchone()[0]
            cur.execute(f"UPDATE {REBUILD_ALIAS}.leads SET change_seq = change_seq + ?", (shift,))
            for table in projected_tables():
                cols = ", ".join(f'"{c.name}"' for c in table.columns)
                cur.execute(f'DELETE FROM main."{table.name}"')
                cur.execute(f'INSERT INTO main."{table.name}" ({cols}) SELECT {cols} FROM {REBUILD_ALIAS}."{table.name}"')
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        finally:
            cur.close()


def drop_rebuild(engine: Engine, target: Engine, namespace: str) -> None:
    """Throw an unfinished rebuild away."""
    target.dispose()
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{namespace}" CASCADE'))
    else:
        Path(namespace).unlink(missing_ok=True)
