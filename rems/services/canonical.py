"""Canonical JSON and hashing for signatures and audit entries."""
from __future__ import annotations

import hashlib
import json
from datetime import date, datetime


def _default(value):
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset | tuple):
        return sorted(value) if isinstance(value, set | frozenset) else list(value)
    raise TypeError(f"not canonicalisable: {type(value).__name__}")


def canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default)


def sha256_hex(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def plain(value):
    """A JSON-safe copy (dates as ISO strings) for JSON columns."""
    return json.loads(canonical(value))
