"""Program-local calendar arithmetic (R-TIME-1) and clinical date limits (R-TIME-2).

Instants are aware UTC datetimes; every "day N" is computed on program-local dates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from .program import Program
from .results import Window


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _require_aware(instant: datetime) -> None:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError("instants must be timezone-aware (UTC)")


def local_date(instant: datetime, program: Program) -> date:
    """R-TIME-1: the program-local calendar date of a UTC instant."""
    _require_aware(instant)
    return instant.astimezone(_zone(program.timezone)).date()


def window_close_instant(closes: date, program: Program) -> datetime:
    """R-TIME-1: the UTC instant a window whose last day is `closes` stops being open.

    That is local midnight at the start of the following day, so the window includes 23:59:59
    local time on `closes`; zoneinfo resolves the UTC offset of that day (DST changes included).
    """
    return _close_instant(closes, program.timezone)


@lru_cache(maxsize=4096)
def _close_instant(closes: date, zone: str) -> datetime:
    # cached: the cycle walk asks once per record (R-CYC-4), and a sweep asks for few distinct days
    midnight = datetime.combine(closes + timedelta(days=1), time(0), tzinfo=_zone(zone))
    return midnight.astimezone(UTC)


def window_from(start: date, length_days: int) -> Window:
    """R-TIME-1: day 1 is `start`; a window of N days closes on start + N - 1."""
    return Window(opens=start, closes=start + timedelta(days=length_days - 1))


def days(n: int | float) -> timedelta:
    return timedelta(days=n)


def clinical_date_problem(value: date, today: date, program: Program) -> str | None:
    """R-TIME-2: clinical dates are never in the future and never older than the program allows.

    Returns DATE_IN_FUTURE, DATE_TOO_OLD or None.
    """
    if value > today:
        return "DATE_IN_FUTURE"
    if value < today - timedelta(days=program.clinical_date_max_age_days):
        return "DATE_TOO_OLD"
    return None


def age_on(date_of_birth: date, day: date) -> int:
    """Whole years of age on `day` (R-PAT-3)."""
    years = day.year - date_of_birth.year
    if (day.month, day.day) < (date_of_birth.month, date_of_birth.day):
        years -= 1
    return years
