"""Create the read-model schema (the Alembic migrations' seam: see projections/migrations)."""
from __future__ import annotations

from .models import Base


def ensure_schema(engine) -> None:
    Base.metadata.create_all(engine)
