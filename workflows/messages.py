"""Sentence formatting: dates a pharmacist can read aloud to a patient (R-RMA-5)."""

from __future__ import annotations

from datetime import date

KIND_LABELS = {
    "screening": "screening",
    "confirmation": "confirmation",
    "monthly": "monthly",
    "post_treatment": "post-treatment",
}


# English names, as strftime's %A/%b give them in the C locale, without a strftime call per date
# (the reminder sweep formats ~10 dates per patient evaluated, bench/NOTES.md)
_MONTHS = ("", "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def short(d: date, today: date | None = None) -> str:
    """'Nov 2' — the form used inside reasons ("test collected Nov 2: window closed Nov 8").

    Given `today`, a date of another year names it: 'Dec 30, 2025' read on Jan 5, 2026 (dates name
    the year when it is needed, as the date refusals do; workflows.transitions). Sentences about one
    fact that can be read long after (an RMA's last dose) pass the day they are read on, so every
    sentence naming that fact reads the same."""
    text = f"{_MONTHS[d.month]} {d.day}"
    return text if today is None or d.year == today.year else f"{text}, {d.year}"


def long(d: date, today: date | None) -> str:
    """'Tuesday, Dec 2' — for next steps, where the weekday helps planning; 'Tuesday, Jan 5, 2027'
    when the date is not of `today`'s year. The one long form of a day: the web pages
    (rems.web.helpers.long_date) and the reminders use it too, so a page never shows one day two
    ways ("Mon, Nov 30, 2026" beside "Monday, Nov 30", QA). `today` None: the year always (a
    sentence stored to be read later, see `kept`)."""
    text = f"{_WEEKDAYS[d.weekday()]}, {_MONTHS[d.month]} {d.day}"
    return text if today is not None and d.year == today.year else f"{text}, {d.year}"


def kept(d: date) -> str:
    """'Nov 26, 2026' — a day in a sentence stored to be read later (a notice in the Messages page):
    it is read on a day not known when it is written, so it always names its year (the live
    sentences name it when it is not the current one: read next year, "Nov 26" would be wrong)."""
    return f"{_MONTHS[d.month]} {d.day}, {d.year}"


def settings_phrase(settings: tuple[str, ...]) -> str:
    return "medical or home" if "home" in settings else "medical setting"


def forms_phrase(forms: tuple[str, ...]) -> str:
    return " and ".join(f.replace("_", " ") for f in forms)
