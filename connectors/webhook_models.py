"""Tables of the outbound credit webhooks (信用修复提示推送): subscribers, outbox, attempt log.

They sit on `projections.models.Base`, so the Alembic migrations see them; until a revision
creates them, `ensure_tables` (called by the delivery process, the CLI and the API routes)
does. The outbox is written inside the projector's batch transaction, but it is the hub's own
operational state, not a read model (not `projected`): a projection rebuild keeps these three
tables, or every trigger not yet acknowledged would be sent again (harmless for a receiver
that dedupes by Idempotency-Key, but noisy).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from projections.db import UTCDateTime
from projections.models import Base

# English ids in code and SQL; the Chinese labels are for API output and the console.
PENDING, IN_FLIGHT, DELIVERED, ACKNOWLEDGED, DEAD = "pending", "in_flight", "delivered", "acknowledged", "dead"
STATES = (PENDING, IN_FLIGHT, DELIVERED, ACKNOWLEDGED, DEAD)
STATE_LABELS = {PENDING: "待投递", IN_FLIGHT: "投递中", DELIVERED: "已送达", ACKNOWLEDGED: "已确认", DEAD: "死信"}


class WebhookSubscriber(Base):
    __tablename__ = "webhook_subscribers"
    subscriber_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    url: Mapped[str] = mapped_column(String(2000))
    # Stored as given, unlike API keys (only a hash): signing needs the secret itself
    # (HMAC-SHA256). Protect the database accordingly; the API never shows it.
    secret: Mapped[str] = mapped_column(String(500))
    codes: Mapped[list | None] = mapped_column(JSON)          # trigger codes to send; None = all
    region_code: Mapped[str | None] = mapped_column(String(6))  # USCC registration region; None = all
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookOutbox(Base):
    """One delivery of one trigger to one subscriber; delivery_id = hash(subscriber_id, trigger_id)."""

    __tablename__ = "webhook_outbox"
    delivery_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    subscriber_id: Mapped[str] = mapped_column(String(64), index=True)
    trigger_id: Mapped[str] = mapped_column(String(40), index=True)
    code: Mapped[str] = mapped_column(String(40))
    uscc: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # the exact JSON text that is signed and sent, every attempt
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # in the current round; an operator retry resets it
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # in_flight: end of the claim's lease
    claim_token: Mapped[str | None] = mapped_column(String(32))
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the receipt's event time
    receipt_event_id: Mapped[str | None] = mapped_column(String(200))   # source_event_id of the receipt


class WebhookAttempt(Base):
    """Delivery log: one row per HTTP attempt, kept across operator retries."""

    __tablename__ = "webhook_attempts"
    attempt_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                            autoincrement=True)
    delivery_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the request started
    url: Mapped[str] = mapped_column(String(2000))
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    duration_ms: Mapped[int] = mapped_column(Integer)


Index("ix_webhook_outbox_due", WebhookOutbox.state, WebhookOutbox.next_attempt_at)

TABLES = (WebhookSubscriber.__table__, WebhookOutbox.__table__, WebhookAttempt.__table__)


def ensure_tables(engine) -> None:
    """Create the webhook tables if the migrations have not (checkfirst: a no-op once they exist)."""
    Base.metadata.create_all(engine, tables=list(TABLES), checkfirst=True)
