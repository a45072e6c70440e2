"""What PostgreSQL reads for the statements a piece of code runs: the statements are captured
as the code executes them, then each is run again under EXPLAIN ANALYZE (rolled back) and the
largest number of rows any plan node produced is reported. A test bounds that number, so a
plan that scans a table, where an index would reach the few rows wanted, fails it."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event


@contextmanager
def captured(engine, verb: str):
    """(statement, parameters) of every `verb` statement (e.g. "UPDATE") run on `engine` inside."""
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(verb):
            seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def _most_rows(plan: dict) -> float:
    return max([plan.get("Actual Rows", 0) * plan.get("Actual Loops", 1)]
               + [_most_rows(p) for p in plan.get("Plans", [])])


def most_rows_read(engine, seen: list[tuple[str, object]]) -> list[tuple[float, str, dict]]:
    """(most rows of any plan node, statement, plan) for each captured statement; an executemany
    is explained with its first parameter set. Nothing of it is committed."""
    out = []
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in seen:
            first = parameters[0] if isinstance(parameters, (list, tuple)) else parameters
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, first)
            plan = cur.fetchone()[0][0]["Plan"]
            out.append((_most_rows(plan), statement, plan))
        raw.rollback()
    finally:
        raw.close()
    return out
