"""Alembic environment of the read-model database (读模型迁移).

Run programmatically by `projections.schema.ensure_schema(engine)` (no alembic.ini needed):
the caller hands over an open connection in `config.attributes["connection"]`. The
`alembic` command line works too, with `-x url=…` or ZHONGSHU_DATABASE_URL, e.g.

    alembic -c projections/migrations/alembic.ini -x url=postgresql+psycopg://… revision --autogenerate -m "…"
"""
from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine

from projections.models import Base

# Other modules keep their own bookkeeping tables on the same Base; import them so that
# autogenerate sees every table the hub creates.
for _module in ("connectors.webhook_models", "connectors.pull_models"):
    try:
        __import__(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise

config = context.config
target_metadata = Base.metadata


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    )


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url") or os.environ.get("ZHONGSHU_DATABASE_URL") \
        or config.get_main_option("sqlalchemy.url")
    if not url:
        raise SystemExit("no database: pass -x url=… or set ZHONGSHU_DATABASE_URL")
    engine = create_engine(url)
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url") or "postgresql://", target_metadata=target_metadata,
                      literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
