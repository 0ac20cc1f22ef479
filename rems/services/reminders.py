"""R-REM-1/2 reminders (filled in by the background-work issue)."""
from __future__ import annotations


def sweep() -> dict:
    raise NotImplementedError("reminder sweep lands with the background-work issue")


def deliver_reminder(reminder_id: int) -> None:
    raise NotImplementedError
