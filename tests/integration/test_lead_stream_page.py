"""The lead stream's page read (GET /api/v1/leads/stream) on real PostgreSQL: filters and region
scope applied to the change log read in order, the cursor moving past changes that do not pass,
and a read that costs the number of new changes, not the size of the lead table."""
from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import sessionmaker

from projections.auth import Principal
from projections.db import make_engine
from projections.routes.leads import STREAM_PAGE, stream_page
from projections.schema import ensure_schema

from .plans import captured, most_rows_read

pytestmark = pytest.mark.integration

ALL = Principal(key_id="k1", role="supervisor", region_code=None)
DISTRICT = Principal(key_id="k2", role="supervisor", region_code="330203")


@pytest.fixture
def engine(pg_url):
    engine = make_engine(pg_url)
    ensure_schema(engine)
    with engine.begin() as conn:
        # hold the state of a table that grew faster than autovacuum analysed it
        conn.execute(text("ALTER TABLE leads SET (autovacuum_enabled = false)"))
    yield engine
    engine.dispose()


def _load(engine, first: int, n: int, rule_code: str, region: str | None, grade: str | None = None) -> None:
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO leads (lead_id, rule_code, rule_name, severity, grade, subject_type, subject_id, region_code, "
            "detected_at, explanation, evidence, status, version, updated_at, source_offset, change_seq) "
            "SELECT 'LD-' || g, :rule, '规则', '一般', :grade, 'enterprise', 's' || g, :region, now(), "
            "repeat('说明', 100), '[]', '待认领', 1, now(), 'supervision.leads/0/' || g, g "
            "FROM generate_series(CAST(:a AS bigint), CAST(:b AS bigint)) AS g"),
            {"rule": rule_code, "grade": grade, "region": region, "a": first, "b": first + n - 1})


def test_filters_and_scope_apply_and_the_cursor_moves_past_what_does_not_pass(engine):
    _load(engine, 1, 600, "HOT_REPEAT", "330212", "B")          # another rule, another district
    _load(engine, 601, 3, "INSP_NO_CODE", "330203")             # ours
    _load(engine, 604, 2, "INSP_NO_CODE", "330212")             # our rule, another district
    _load(engine, 606, 1, "HOT_REPEAT", "330203", "A")
    _load(engine, 607, 1, "INSP_NO_CODE", None)                 # no region: only an unscoped key sees it
    Session = sessionmaker(engine)
    with Session() as s:
        rows, seq, more = stream_page(s, 0, DISTRICT, rule_code="INSP_NO_CODE")
        assert (rows, seq, more) == ([], STREAM_PAGE, True), "a full page of others: move on, and say more waits"
        rows, seq, more = stream_page(s, seq, DISTRICT, rule_code="INSP_NO_CODE")
        assert [r.change_seq for r in rows] == [601, 602, 603] and seq == 607 and not more
        assert stream_page(s, 607, DISTRICT) == ([], 607, False)
        assert [r.change_seq for r in stream_page(s, 600, ALL, rule_code="INSP_NO_CODE")[0]] == [601, 602, 603, 604, 605, 607]
        assert [r.change_seq for r in stream_page(s, 600, DISTRICT)[0]] == [601, 602, 603, 606]
        assert [r.change_seq for r in stream_page(s, 590, ALL, grade="B")[0]] == list(range(591, 601))
        assert [r.change_seq for r in stream_page(s, 600, ALL, grade="A")[0]] == [606]


def test_a_poll_reads_the_new_changes_not_the_table(engine):
    """EXPLAIN ANALYZE of what a filtered, region-scoped poll runs, on 30,000 leads of the rule
    with 100 new: no plan node may read more rows than a page. With the filters in SQL the
    planner read all 30,000 through ix_leads_rule_code and sorted them (9 ms a poll)."""
    _load(engine, 1, 30_000, "INSP_NO_CODE", "330203")
    with captured(engine, "SELECT") as seen:
        with sessionmaker(engine)() as s:
            rows, seq, more = stream_page(s, 29_900, DISTRICT, rule_code="INSP_NO_CODE", grade=None)
    assert [r.change_seq for r in rows] == list(range(29_901, 30_001)) and seq == 30_000 and not more
    assert seen
    for most, statement, plan in most_rows_read(engine, seen):
        assert most <= STREAM_PAGE, (statement, plan)
