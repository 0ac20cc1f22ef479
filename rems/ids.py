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


# A number as printed or read aloud ("5568 799 828", "5568-799-828") is the same number: REMS IDs,
# NPIs and RMA numbers are compared without spaces and dashes (the API's schema, the pharmacist's
# forms and the RMA search use this one rule).
SEPARATORS = r"[\s-]"
_SEPARATORS = re.compile(SEPARATORS)


def without_separators(raw):
    """`raw` without spaces and dashes; anything but a string is returned as it is."""
    return _SEPARATORS.sub("", raw) if isinstance(raw, str) else raw
