"""Program reports for the administrator (R-ADMIN-1), computed with SQL aggregates.

Each report is a table (downloadable as CSV) plus one chart series. Calendar buckets use the
program time zone on PostgreSQL (R-TIME-1); the embedded SQLite default buckets on UTC dates.
"""

from __future__ import annotations

import csv
import io
import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Date, case, cast, exists, func, select

from rems.clock import program, today
from rems.extensions import db
from rems.models import Authorization, Course, Patient, PregnancyCase, PregnancyTest, User, Visit
from rems.models.practice import Pharmacy, Prescriber
from workflows import local_date

WEEKS = 12  # reporting horizon of the weekly series
MONTHS = 12  # reporting horizon of the monthly series
EXPIRY_HORIZON = 90  # days ahead the certification report looks
FIRST_DISPENSE_BUCKETS = ((0, 30), (31, 45), (46, 60), (61, 90), (91, None))
EXPIRY_BUCKETS = (("Expired", None, -1), ("0-30 days", 0, 30), ("31-60 days", 31, 60), ("61-90 days", 61, 90))


@dataclass
class Report:
    key: str
    title: str
    description: str
    columns: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)
    chart: list[tuple[str, float]] = field(default_factory=list)  # (label, value)
    chart_unit: str = ""
    summary: list[tuple[str, str]] = field(default_factory=list)  # (label, value)


def _pg() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _local(instant_col):
    """The program-local timestamp of a UTC column (PostgreSQL); SQLite keeps UTC."""
    return func.timezone(program().timezone, instant_col) if _pg() else instant_col


def _trunc(unit: str, col, instant: bool):
    if _pg():
        return cast(func.date_trunc(unit, _local(col) if instant else col), Date)
    modifiers = ("weekday 0", "-6 days") if unit == "week" else ("start of month",)
    return func.date(col, *modifiers, type_=Date)


def _add_days(col, n: int):
    return col + n if _pg() else func.date(col, f"{n:+d} days", type_=Date)


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _weeks(end: date, n: int) -> list[date]:
    monday = end - timedelta(days=end.weekday())
    return [monday - timedelta(weeks=i) for i in range(n - 1, -1, -1)]


def authorizations_per_week() -> Report:
    """RMAs issued per week (R-RMA-1), with how many were later reversed (R-RMA-4)."""
    weeks = _weeks(today(), WEEKS)
    week = _trunc("week", Authorization.recorded_at, instant=True).label("week")
    stmt = (
        select(week, func.count(), func.sum(case((Authorization.status == "reversed", 1), else_=0)))
        .where(Authorization.recorded_at >= _start_instant(weeks[0]))
        .group_by(week)
    )
    counts = {_as_date(w): (n, int(rev or 0)) for w, n, rev in db.session.execute(stmt)}
    rows = [(w.isoformat(), *counts.get(w, (0, 0))) for w in weeks]
    total = sum(r[1] for r in rows)
    return Report(
        "authorizations",
        "Authorizations per week",
        f"RMAs issued in each of the last {WEEKS} weeks (weeks start on Monday).",
        ("week_starting", "issued", "reversed"),
        rows,
        chart=[(_label(w), r[1]) for w, r in zip(weeks, rows, strict=True)],
        summary=[("Issued", str(total)), ("Reversed", str(sum(r[2] for r in rows)))],
    )


def _start_instant(day: date):
    from workflows import window_close_instant

    return window_close_instant(day - timedelta(days=1), program())


def _label(d: date) -> str:
    return f"{d:%b} {d.day}"


def _window_rows(
    model, opening_date, course_id, category: str, length: int, where
) -> dict[date, tuple[int, int]]:
    """Closed windows and missed windows per week of closing. A window counts as used when an
    unreversed RMA of the same course has the window's last day as "do not dispense after" (R-RMA-1)."""
    closes = _add_days(opening_date, length - 1)
    used = exists().where(
        Authorization.course_id == course_id,
        Authorization.status == "authorized",
        Authorization.do_not_dispense_after == closes,
    )
    week = _trunc("week", closes, instant=False).label("week")
    first = _weeks(today(), WEEKS)[0]
    stmt = (
        select(week, func.count(), func.sum(case((used, 0), else_=1)))
        .select_from(model)
        .join(Course, Course.id == course_id)
        .join(Patient, Patient.id == Course.patient_id)
        .where(Patient.category == category, closes < today(), closes >= first, *where)
        .group_by(week)
    )
    return {_as_date(w): (n, int(missed or 0)) for w, n, missed in db.session.execute(stmt)}


def missed_window_rate() -> Report:
    """Windows (R-CYC-2 tests, R-CYC-3 visits) that closed without an authorization (R-CYC-4)."""
    prog = program()
    cgp = _window_rows(
        PregnancyTest,
        PregnancyTest.specimen_date,
        PregnancyTest.course_id,
        "can_get_pregnant",
        prog.cgp_window_days,
        (PregnancyTest.kind.in_(("confirmation", "monthly")), PregnancyTest.result == "negative"),
    )
    ccgp = _window_rows(
        Visit, Visit.visit_date, Visit.course_id, "cannot_get_pregnant", prog.ccgp_window_days, ()
    )
    weeks = _weeks(today(), WEEKS)
    rows = []
    for w in weeks:
        n = cgp.get(w, (0, 0))[0] + ccgp.get(w, (0, 0))[0]
        missed = cgp.get(w, (0, 0))[1] + ccgp.get(w, (0, 0))[1]
        rows.append((w.isoformat(), n, missed, round(100 * missed / n, 1) if n else 0.0))
    closed, missed = sum(r[1] for r in rows), sum(r[2] for r in rows)
    return Report(
        "missed_windows",
        "Missed-window rate",
        f"Windows that closed in each of the last {WEEKS} weeks, and the share that closed "
        "without an authorization.",
        ("week_starting", "windows_closed", "missed", "missed_percent"),
        rows,
        chart=[(_label(w), r[3]) for w, r in zip(weeks, rows, strict=True)],
        chart_unit="%",
        summary=[
            ("Windows closed", str(closed)),
            ("Missed", str(missed)),
            ("Rate", f"{100 * missed / closed:.1f}%" if closed else "n/a"),
        ],
    )


def time_to_first_dispense() -> Report:
    """Days from enrollment to the course's first RMA (program-local dates)."""
    first = func.min(Authorization.recorded_at)
    stmt = (
        select(Course.id, Course.enrolled_at, first)
        .join(Authorization, Authorization.course_id == Course.id)
        .group_by(Course.id, Course.enrolled_at)
    )
    prog = program()
    spans = sorted((local_date(f, prog) - local_date(e, prog)).days for _, e, f in db.session.execute(stmt))
    waiting = db.session.execute(
        select(func.count())
        .select_from(Course)
        .where(~exists().where(Authorization.course_id == Course.id), Course.status == "enrolled")
    ).scalar_one()
    rows = []
    for lo, hi in FIRST_DISPENSE_BUCKETS:
        label = f"{lo}-{hi} days" if hi is not None else f"over {lo - 1} days"
        rows.append((label, sum(1 for s in spans if s >= lo and (hi is None or s <= hi))))
    summary = [("Courses dispensed", str(len(spans))), ("Still waiting", str(waiting))]
    if spans:
        summary += [
            ("Median", f"{statistics.median(spans):g} days"),
            ("Mean", f"{statistics.fmean(spans):.1f} days"),
        ]
    return Report(
        "first_dispense",
        "Time from enrollment to first dispense",
        "Courses by the number of days between enrollment and their first authorization.",
        ("days", "courses"),
        rows,
        chart=list(rows),
        summary=summary,
    )


def pregnancies_reported() -> Report:
    """Pregnancy registry cases opened per month (R-PT-4), open and closed."""
    month = _trunc("month", PregnancyCase.opened_at, instant=True).label("month")
    start = today().replace(day=1)
    months = [start]
    for _ in range(MONTHS - 1):
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    stmt = (
        select(month, func.count(), func.sum(case((PregnancyCase.closed_at.is_(None), 1), else_=0)))
        .where(PregnancyCase.opened_at >= _start_instant(months[0]))
        .group_by(month)
    )
    counts = {_as_date(m): (n, int(open_ or 0)) for m, n, open_ in db.session.execute(stmt)}
    rows = [(m.isoformat()[:7], *counts.get(m, (0, 0))) for m in months]
    still_open = db.session.execute(
        select(func.count()).select_from(PregnancyCase).where(PregnancyCase.closed_at.is_(None))
    ).scalar_one()
    return Report(
        "pregnancies",
        "Pregnancies reported",
        f"Pregnancy registry cases opened in each of the last {MONTHS} months.",
        ("month", "reported", "still_open"),
        rows,
        chart=[(f"{m:%b}", r[1]) for m, r in zip(months, rows, strict=True)],
        summary=[("Reported", str(sum(r[1] for r in rows))), ("Open cases (all time)", str(still_open))],
    )


def certifications_expiring() -> Report:
    """Certified prescribers and pharmacies whose certification ends within the horizon (R-PRES-1,
    R-PHAR-1 annual re-attestation), and those already past it."""
    day, horizon = today(), today() + timedelta(days=EXPIRY_HORIZON)
    pres = (
        select(User.first_name + " " + User.last_name, Prescriber.npi, Prescriber.certified_until)
        .join(User, User.id == Prescriber.user_id)
        .where(Prescriber.status == "certified", Prescriber.certified_until <= horizon)
    )
    pharm = select(Pharmacy.name, Pharmacy.ncpdp_id, Pharmacy.certified_until).where(
        Pharmacy.status == "certified", Pharmacy.certified_until <= horizon
    )
    rows = [
        ("prescriber", name, ident, until.isoformat(), (until - day).days)
        for name, ident, until in db.session.execute(pres)
    ]
    rows += [
        ("pharmacy", name, ident, until.isoformat(), (until - day).days)
        for name, ident, until in db.session.execute(pharm)
    ]
    rows.sort(key=lambda r: (r[4], r[0], r[1]))
    chart = [
        (label, sum(1 for r in rows if (lo is None or r[4] >= lo) and r[4] <= hi))
        for label, lo, hi in EXPIRY_BUCKETS
    ]
    return Report(
        "certifications",
        "Certifications expiring",
        f"Certified prescribers and pharmacies whose certification ends in the next {EXPIRY_HORIZON} "
        "days, or has ended without re-attestation.",
        ("kind", "name", "npi_or_ncpdp", "certified_until", "days_left"),
        rows,
        chart=chart,
        summary=[(label, str(n)) for label, n in chart],
    )


REPORTS = {
    "authorizations": authorizations_per_week,
    "missed_windows": missed_window_rate,
    "first_dispense": time_to_first_dispense,
    "pregnancies": pregnancies_reported,
    "certifications": certifications_expiring,
}


def all_reports() -> list[Report]:
    return [fn() for fn in REPORTS.values()]


def to_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(report.columns)
    for row in report.rows:
        writer.writerow([_csv_safe(v) for v in row])
    return out.getvalue()


def _csv_safe(value):
    """Cells that a spreadsheet would run as a formula are prefixed with a quote."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value
