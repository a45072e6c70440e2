"""The Alembic migrations create exactly the tables the models describe."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from projections.db import make_engine
from projections.models import PROJECTED_TABLES, Base
from projections.schema import LegacySchema, current_revision, ensure_schema, head_revision

pytestmark = pytest.mark.integration


def _all_models():
    # every module that keeps tables on the hub's Base (as the migrations' env.py does)
    import connectors.pull_models  # noqa: F401
    import connectors.webhook_models  # noqa: F401


def test_autogenerate_finds_no_difference_between_migrations_and_models_on_postgresql(pg_url):
    _all_models()
    engine = make_engine(pg_url)
    ensure_schema(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_migrations_are_idempotent_and_run_on_sqlite(tmp_path):
    _all_models()
    engine = make_engine(f"sqlite:///{tmp_path / 'hub.db'}")
    ensure_schema(engine)
    ensure_schema(engine)
    with engine.connect() as conn:
        assert current_revision(conn) == head_revision()
        assert set(PROJECTED_TABLES) <= set(inspect(conn).get_table_names())
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    engine.dispose()
    assert diff == []


def test_a_database_from_before_the_migrations_is_refused_with_advice(pg_url):
    engine = make_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE api_keys (key_id varchar(32) primary key)"))
    with pytest.raises(LegacySchema, match="before the Alembic migrations"):
        ensure_schema(engine)
    engine.dispose()


def test_projected_tables_leave_the_hubs_own_state_out():
    assert {"leads", "lead_history", "lead_evidence", "inspections", "cases", "workorders", "timeline",
            "credit_states", "credit_repairs", "credit_events", "credit_triggers", "transfers", "clock_state",
            "reference_sets", "projector_offsets"} == set(PROJECTED_TABLES)
