"""The service's clock. `REMS_CLOCK_OFFSET_DAYS` moves "today" for demos (refused in production)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

from workflows import local_date
from workflows.program import get_program


def now() -> datetime:
    offset = current_app.config.get("CLOCK_OFFSET_DAYS", 0) if has_app_context() else 0
    real = datetime.now(UTC)
    if not offset:
        return real
    # moved on the program's local wall clock, so the local date moves by exactly `offset` days: a
    # plain UTC shift across a DST change moved 23:30 EST to 00:30 EDT, the next day (R-TIME-1)
    return (real.astimezone(ZoneInfo(program().timezone)) + timedelta(days=offset)).astimezone(UTC)


def program():
    """The configured program definition (cached by the registry: one object per program)."""
    return get_program(current_app.config["PROGRAM"])


def today() -> date:
    return local_date(now(), program())


def local_time(instant: datetime | None) -> str:
    """An instant on the program's clock, its zone named: 'Nov 25, 2026 at 4:44 PM EST' (R-TIME-1;
    who did what and when, for people who compare it with other records)."""
    if instant is None:
        return ""
    local = instant.astimezone(ZoneInfo(program().timezone))
    return f"{local:%b} {local.day}, {local.year} at {local:%-I:%M %p %Z}"
