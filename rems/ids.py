"""Parsing identifiers from URLs and forms: ASCII digits only (str.isdigit() also accepts "²" and "٣")."""
from __future__ import annotations

import re

_DIGITS = re.compile(r"[0-9]+")


def is_digits(raw, length: int | None = None) -> bool:
    return isinstance(raw, str) and _DIGITS.fullmatch(raw) is not None and (length is None or len(raw) == length)


def parse_id(raw, max_len: int = 11) -> int | None:
    """A positive integer id from a string or int, or None if it is anything else."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw if raw > 0 else None
    if is_digits(raw) and len(raw) <= max_len:
        return int(raw)
    return None
