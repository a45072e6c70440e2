"""The pull connectors' durable cursors (拉取游标), one row per configured connector name.

A row is written only after every record of a page was appended (or dead-lettered), so a
connector that stops at any moment resumes from the last page it finished; the intake
ledger absorbs the records of a page that was appended but not yet committed.

The tables live in the hub's database on `projections.models.Base`; Alembic revision 0002
(projections/migrations/versions/0002_bookkeeping.py) creates them, so a change here needs a
new revision. `ensure_tables` (called by `zhongshu pull` at start) is a checkfirst no-op on a
migrated database; it predates the revision and is kept for databases older than it. They
are the hub's own bookkeeping, not read models: a projection rebuild keeps them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from projections.db import UTCDateTime
from projections.models import Base


class PullCursor(Base):
    __tablename__ = "pull_cursors"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)       # [pull.<name>]
    kind: Mapped[str] = mapped_column(String(20))                         # workorder / inspection / …
    url: Mapped[str] = mapped_column(Text)                                # the endpoint the cursor belongs to
    cursor: Mapped[str | None] = mapped_column(Text)                      # next cursor to ask for; None = start
    pages: Mapped[int] = mapped_column(BigInteger, default=0)             # pages committed so far
    accepted: Mapped[int] = mapped_column(BigInteger, default=0)          # records appended
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)        # records already in the ledger
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)          # records sent to hub.deadletter
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PullRejected(Base):
    """Records a pull connector sent to hub.deadletter, by content digest: a page read again
    (after a restart, or the last page polled again while caught up) dead-letters nothing twice."""

    __tablename__ = "pull_rejected"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the redacted record JSON
    source_event_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    partition: Mapped[int | None] = mapped_column(BigInteger)             # where the dead letter landed
    offset: Mapped[int | None] = mapped_column(BigInteger)
    rejected_at: Mapped[datetime] = mapped_column(UTCDateTime)


TABLES = (PullCursor.__table__, PullRejected.__table__)


def ensure_tables(engine) -> None:
    """Create the pull tables where the migrations have not (checkfirst: a no-op once they exist)."""
    Base.metadata.create_all(engine, tables=list(TABLES), checkfirst=True)
