"""Loads the rule thresholds file (streams/rules.toml, or ZHONGSHU_RULES_FILE)."""
from __future__ import annotations

import os
import tomllib
from pathlib import Path

from .base import RuleConfig

DEFAULT_RULES_FILE = Path(__file__).resolve().parents[1] / "rules.toml"


def load_thresholds(path: str | os.PathLike | None = None) -> dict:
    path = Path(path or os.environ.get("ZHONGSHU_RULES_FILE") or DEFAULT_RULES_FILE)
    with open(path, "rb") as fh:
        return tomllib.load(fh)


def load_config(path=None, reference: dict | None = None) -> RuleConfig:
    return RuleConfig(thresholds=load_thresholds(path), reference=dict(reference or {}))
