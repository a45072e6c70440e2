"""API keys (接口密钥): roles and a region scope; only a hash of each key is stored."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from .models import ApiKey

ROLES = ("hotline", "credit", "enforcement", "justice", "supervisor", "admin")


@dataclass(frozen=True)
class Principal:
    """Who calls: the key's role (接口角色) and jurisdiction (辖区).

    Every read and action is scoped by region: a district key (e.g. 330203) sees its district,
    a city key (330200) its districts, a province key (330000) its cities; records outside the
    scope answer 404, never 403, so their existence does not leak."""

    key_id: str
    role: str
    region_code: str | None  # None = whole jurisdiction
    label: str | None = None

    @property
    def actor(self) -> str:
        """How staff actions name the caller (LeadAction.actor): the key's label and id."""
        return f"{self.label}#{self.key_id}" if self.label else self.key_id

    def sees_region(self, region_code: str | None) -> bool:
        """A district key (e.g. 330203) sees its district; a city key (330200) its districts;
        a province key (330000) its cities."""
        if self.region_code is None:
            return True
        if region_code is None:
            return False
        return region_code.startswith(scope_prefix(self.region_code))


def scope_prefix(region_code: str) -> str:
    """The prefix every region code inside `region_code` starts with."""
    code = region_code.rstrip("0")
    # keep whole 2-digit levels: 330200 -> "3302", 330000 -> "33", 330203 -> "330203"
    return code + "0" * (len(code) % 2)


def covers(outer: str | None, inner: str | None) -> bool:
    """Whether jurisdiction `outer` (None = everything) contains region `inner`."""
    if outer is None:
        return True
    return inner is not None and scope_prefix(inner).startswith(scope_prefix(outer))


def region_clause(column, region_code: str):
    """SQL: `column` lies within `region_code` (a city code matches its districts)."""
    return column.like(scope_prefix(region_code) + "%")


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_key(session, role: str, region_code: str | None = None, label: str | None = None) -> str:
    if role not in ROLES:
        raise ValueError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    if region_code is not None and not (len(region_code) == 6 and region_code.isdigit()):
        raise ValueError(f"region {region_code!r}: expected a 6-digit 行政区划代码")
    key_id = secrets.token_hex(6)
    key = f"zs_{key_id}_{secrets.token_urlsafe(24)}"
    session.add(ApiKey(key_id=key_id, key_hash=hash_key(key), role=role, region_code=region_code,
                       label=label, created_at=datetime.now(timezone.utc)))
    return key


def authenticate(session, key: str) -> Principal | None:
    row = session.execute(select(ApiKey).where(ApiKey.key_hash == hash_key(key))).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        return None
    return Principal(key_id=row.key_id, role=row.role, region_code=row.region_code, label=row.label)
