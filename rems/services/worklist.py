"""The prescriber's worklist: their patients, most urgent first, in a bounded number of queries.

One query loads the patients with their courses and accounts (filtered and searched in SQL,
joined in), and one more every record of their current courses (the UNION of the record tables,
facts.batch_records_statement): the same statements whatever the number of patients.
Each patient is then evaluated by the pure engine (workflows.evaluate_patient), so what the list
says is what the pharmacy would be told (R-LOOP-1); no rule is repeated here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date

from sqlalchemy import or_, select
from sqlalchemy.orm import joinedload

from rems.clock import now, program
from rems.extensions import db
from rems.models import Course, Patient, User
from rems.models.patients import CATEGORIES, COURSE_STATUSES
from rems.services import audit
from rems.services.facts import batch_records_statement, patient_facts, records_by_course
from rems.tasks import unit_of_work
from workflows import PatientStatus, evaluate_patient

SEARCH_MAX = 100
FAR = date.max

# Urgency buckets, most urgent first.
URGENT_WINDOW, PREGNANCY, POST_TEST_DUE, STEPS_MISSING, WAITING, ON_TRACK, DONE = range(7)
BUCKET_LABELS = {
    URGENT_WINDOW: "Window open, steps missing",
    PREGNANCY: "Pregnancy reported",
    POST_TEST_DUE: "Post-treatment test due",
    STEPS_MISSING: "Steps missing",
    WAITING: "Waiting on patient or pharmacy",
    ON_TRACK: "Ready to dispense",
    DONE: "Completed",
}


@dataclass(frozen=True)
class Filters:
    status: str | None = None  # a course status (COURSE_STATUSES)
    category: str | None = None  # a risk category (CATEGORIES)
    needs_action: bool = False  # only rows with a next step for the prescriber
    q: str = ""  # name or REMS ID

    @classmethod
    def from_args(cls, args) -> Filters:
        status = args.get("status") or None
        category = args.get("category") or None
        return cls(
            status=status if status in COURSE_STATUSES else None,
            category=category if category in CATEGORIES else None,
            needs_action=args.get("needs_action") in ("1", "on", "true", "y"),
            q=(args.get("q") or "").replace("\x00", "").strip()[:SEARCH_MAX],  # PostgreSQL: NUL is a 500
        )


@dataclass(frozen=True)
class Row:
    patient: Patient
    status: PatientStatus
    prescriber_steps: tuple[str, ...]
    missing: int
    bucket: int
    due: date | None  # the date that makes this row urgent: window close or test due date
    days_left: int | None

    @property
    def needs_action(self) -> bool:
        return bool(self.prescriber_steps)

    @property
    def bucket_label(self) -> str:
        return BUCKET_LABELS[self.bucket]

    @property
    def due_label(self) -> str:
        if self.due is None:
            return ""
        return "Test due from" if self.bucket == POST_TEST_DUE else "Window closes"

    @property
    def sort_key(self):
        return (
            self.bucket,
            self.due or FAR,
            -self.missing,
            self.patient.last_name.casefold(),
            self.patient.first_name.casefold(),
            self.patient.id,
        )


def _classify(st: PatientStatus, steps: tuple[str, ...]) -> tuple[int, date | None]:
    missing = any(not r.met for r in st.requirements)
    if st.course_status == "pregnancy_reported":
        return PREGNANCY, None
    if st.course_status == "completed":
        return DONE, None
    if st.course_status == "post_treatment":
        return POST_TEST_DUE, st.post_treatment_test_due
    if st.window is not None and not st.eligible and missing:
        return URGENT_WINDOW, st.window.closes
    if steps:
        return STEPS_MISSING, st.window.closes if st.window else None
    if not st.eligible:
        return WAITING, st.window.closes if st.window else None
    return ON_TRACK, st.window.closes if st.window else None


def evaluate_row(patient: Patient, course: Course, at=None, records: dict[str, tuple] | None = None) -> Row:
    """`records`: the course's records as engine facts (facts.records_by_course); None: the course's
    ORM collections."""
    at = at or now()
    st = evaluate_patient(patient_facts(patient, course, records), program(), at)
    steps = tuple(st.next_steps.get("prescriber", ()))
    bucket, due = _classify(st, steps)
    today = st.today
    return Row(
        patient=patient,
        status=st,
        prescriber_steps=steps,
        missing=sum(1 for r in st.requirements if not r.met),
        bucket=bucket,
        due=due,
        days_left=(due - today).days if due is not None and today is not None else None,
    )


def _query(prescriber_id: int, filters: Filters):
    stmt = (
        select(Patient)
        .where(Patient.prescriber_id == prescriber_id)
        .options(joinedload(Patient.courses), joinedload(Patient.user))  # the account's state (R-PAT-3)
    )
    if filters.category:
        stmt = stmt.where(Patient.category == filters.category)
    if filters.q:
        term = filters.q.casefold()
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        stmt = stmt.where(
            or_(
                Patient.rems_id == filters.q,
                Patient.name_key.like(like, escape="\\"),
                (Patient.first_name + " " + Patient.last_name).ilike(like, escape="\\"),
            )
        )
    return stmt


def _course_records(course_ids: list[int]) -> dict[int, dict[str, tuple]]:
    """Every record of these courses in ONE statement (the UNION of the record tables), as engine
    facts per course: the page costs the same statements for 5 patients as for 500, and for every
    kind of record the engine reads (tests/perf: page statement budget)."""
    if not course_ids:
        return {}
    conn = db.session.connection()
    return records_by_course(conn.execute(batch_records_statement(conn.dialect.name), {"ids": course_ids}),
                             course_ids)


def worklist(user: User, filters: Filters | None = None) -> list[Row]:
    """The signed-in prescriber's patients, most urgent first (windows closing soonest, then
    pregnancies, post-treatment tests due, steps missing). R-AUD-1: the list reads each patient's
    record, so it is audited as one entry naming the patients it returns, in order."""
    filters = filters or Filters()
    at = now()
    patients = [p for p in db.session.execute(_query(user.prescriber.id, filters)).unique().scalars() if p.courses]
    records = _course_records([p.courses[-1].id for p in patients])
    rows = []
    for patient in patients:
        course = patient.courses[-1]
        row = evaluate_row(patient, course, at, records[course.id])
        if filters.status and row.status.course_status != filters.status:
            continue
        if filters.needs_action and not row.needs_action:
            continue
        rows.append(row)
    rows.sort(key=lambda r: r.sort_key)
    with unit_of_work(expire=False):  # the page renders the rows as read and audited
        audit.record_list("patients.listed", [r.patient.id for r in rows],
                          {"list": "worklist", "filters": asdict(filters)}, actor=user)
    return rows


def summary(rows: list[Row]) -> dict[str, int]:
    """Counts for the worklist header."""
    return {
        "total": len(rows),
        "needs_action": sum(1 for r in rows if r.needs_action),
        "closing_soon": sum(1 for r in rows if r.bucket == URGENT_WINDOW),
    }
