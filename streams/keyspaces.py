"""Key spaces (主体键空间): which topics and rule modules share one correlation key.

Faust has no working stream joins, so correlation is per key: every topic consumed in a key
space is keyed by that space's subject (enterprise USCC, case id, agency code) at intake or
by the case worker's forward, so no extra repartition hop is needed. This module is pure:
the Faust agents in streams/app.py only decode, call `dispatch`, send and store.
"""
from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType

from .rules.base import Fact, RuleConfig, Tick, parse_time

log = logging.getLogger("zhongshu.streams")

KIND_OF_TOPIC = {
    "hotline.workorders": "workorder",
    "enforcement.inspections": "inspection",
    "enforcement.cases": "case",
    "credit.events": "credit",
    "justice.transfers": "transfer",
    "hub.facts-by-enterprise": "case",
    "hub.facts-by-agency": "case",
}


@dataclass
class KeySpace:
    name: str
    topics: tuple[str, ...]
    module_names: tuple[str, ...]
    modules: list[ModuleType] = field(default_factory=list)

    def load(self) -> "KeySpace":
        self.modules = []
        for name in self.module_names:
            try:
                self.modules.append(importlib.import_module(f"streams.rules.{name}"))
            except ModuleNotFoundError as exc:
                if exc.name != f"streams.rules.{name}":
                    raise
                log.warning("rule module %s not present; its codes are inactive", name)
        return self


ENTERPRISE = KeySpace(
    "enterprise",
    ("hotline.workorders", "enforcement.inspections", "credit.events", "hub.facts-by-enterprise"),
    ("inspection", "hotline", "party", "publicity", "credit"),
)
CASE = KeySpace("case", ("enforcement.cases", "justice.transfers"), ("case", "transfer"))
AGENCY = KeySpace("agency", ("hub.facts-by-agency",), ("agency",))
SPACES = (ENTERPRISE, CASE, AGENCY)


@dataclass
class Outputs:
    leads: list[dict] = field(default_factory=list)
    triggers: list[dict] = field(default_factory=list)

    def add(self, items):
        for item in items:
            (self.triggers if "trigger_id" in item else self.leads).append(item)


def _entry(module: ModuleType) -> str:
    return module.__name__.rsplit(".", 1)[-1]


def dispatch(space: KeySpace, state: dict, item: Fact | Tick, key: str, config: RuleConfig) -> tuple[dict, Outputs]:
    """Run every module of the space that takes this item; returns the new combined state."""
    out = Outputs()
    new_state = dict(state)
    for module in space.modules:
        name = _entry(module)
        if isinstance(item, Fact):
            mkey = _key_of(module, item)
            if mkey is None:
                continue
            if mkey != key:
                log.warning("%s: %s keyed %r but the message key is %r; skipped", name, item.ce_id, mkey, key)
                continue
        else:
            sub = state.get(name)
            if not sub or not _due(sub, item.at):
                continue
        # no copy here: every evaluate starts with rules.base.copy_state (Faust's memory store
        # holds live objects, and a rule that raises half-way must leave them untouched)
        sub_state, outputs = module.evaluate(state.get(name) or {}, item, config)
        new_state[name] = sub_state
        out.add(outputs)
    return new_state, out


def takes(space: KeySpace, fact: Fact) -> bool:
    """Whether `dispatch` would run any rule module of `space` on `fact`. The case worker forwards
    a case fact only to the key spaces that take it: three in four case events (filed,
    published, fulfilled …) mean nothing to the agency space, which keys only decisions, and
    each would otherwise cost a produce, a consume, and a changelog write of an unchanged state
    (bench/RESULTS.md, session 7)."""
    return any(_key_of(module, fact) is not None for module in space.modules)


def _key_of(module: ModuleType, fact: Fact) -> str | None:
    """The key under which `module` takes `fact`; None: the module does not take it."""
    return module.key(fact) if fact.kind in module.INPUTS else None


def earliest_due(state: dict) -> datetime | None:
    """The earliest deadline any module of one key's state waits for (None: no tick can change
    this key). `_due` on or before a tick's time is what makes `dispatch` ask a module."""
    best = None
    for sub in state.values():
        due = sub.get("_due") if isinstance(sub, dict) else None
        if not due:
            continue
        if len(due) == 10:  # a bare date: due once its day is over
            from .rules.base import end_of_day
            from datetime import date
            at = end_of_day(date.fromisoformat(due))
        else:
            at = parse_time(due)
        if best is None or at < best:
            best = at
    return best


def _due(sub_state: dict, at: datetime) -> bool:
    """Ask a module on a tick only if its state has a deadline at or before the tick; the module
    itself decides whether the deadline has passed (`_due` may be an instant or a date)."""
    due = sub_state.get("_due")
    if not due:
        return False
    if len(due) == 10:  # a bare date: its deadline instant is the end of that day
        from .rules.base import end_of_day
        from datetime import date
        return end_of_day(date.fromisoformat(due)) < at
    return parse_time(due) <= at
