"""One patient's full history for the prescriber page: every record, authorization, category
change, pregnancy case and signature, in the order they were recorded (R-SIG-1, R-AUD-1 context)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from rems.clock import local_time
from rems.extensions import db
from rems.models import (
    Authorization,
    CategoryChange,
    Course,
    Document,
    Patient,
    PregnancyCase,
    Signature,
)
from workflows.messages import KIND_LABELS, forms_phrase


@dataclass(frozen=True)
class Event:
    at: datetime  # when it was recorded (UTC)
    kind: str  # css-friendly kind: visit, contraception, test, attestation, rma, ...
    title: str
    detail: str = ""
    day: date | None = None  # clinical date, when the record has one
    document_id: int | None = None


def _course_events(course: Course, label) -> list[Event]:
    out = [Event(course.enrolled_at, "course", "Enrolled in a treatment course")]
    for v in course.visits:
        out.append(
            Event(
                v.recorded_at, "visit", "Visit with counseling" if v.counseled else "Visit", day=v.visit_date
            )
        )
    for c in course.contraception:
        what = "Commitment to abstinence" if c.abstinence else " and ".join(label(f) for f in c.forms or ())
        out.append(
            Event(
                c.recorded_at,
                "contraception",
                "Contraception documented",
                f"{what}, started {c.start_date:%b} {c.start_date.day}, {c.start_date.year}",
                day=c.start_date,
            )
        )
    for t in course.tests:
        out.append(
            Event(
                t.recorded_at,
                "test-" + t.result,
                f"{KIND_LABELS[t.kind].capitalize()} pregnancy test: {t.result}",
                f"{t.setting.capitalize()} setting",
                day=t.specimen_date,
            )
        )
    for a in course.attestations:
        out.append(
            Event(a.recorded_at, "attestation", f"Monthly attestation signed (cycle {a.cycle_number})")
        )
    for f in course.attestation_failures:
        out.append(
            Event(f.recorded_at, "failure", f"Comprehension questions failed (cycle {f.cycle_number})")
        )
    if course.ended_at is not None and course.last_dose_date is not None:
        out.append(
            Event(
                course.ended_at,
                "end",
                "End of treatment recorded",
                course.end_reason or "",
                day=course.last_dose_date,
            )
        )
    return out


def _rma_events(rmas) -> list[Event]:
    out = []
    for a in rmas:
        out.append(
            Event(
                a.recorded_at,
                "rma",
                f"Authorization {a.rma} issued",
                f"{a.days_supply} days' supply, quantity {a.quantity}, at {a.pharmacy.name}; "
                f"do not dispense after {a.do_not_dispense_after:%b} {a.do_not_dispense_after.day}",
            )
        )
        if a.reversed_at is not None:
            out.append(
                Event(a.reversed_at, "reversal", f"Authorization {a.rma} reversed", a.reversal_reason or "")
            )
    return out


def patient_timeline(patient: Patient, form_label=None) -> list[Event]:
    """Everything recorded for `patient`, oldest first, in a constant number of queries.
    `form_label` names a contraception form code for people (default: the code in words)."""
    label = form_label or (lambda code: forms_phrase((code,)))
    courses = (
        db.session.execute(
            select(Course)
            .where(Course.patient_id == patient.id)
            .options(
                selectinload(Course.visits),
                selectinload(Course.contraception),
                selectinload(Course.tests),
                selectinload(Course.attestations),
                selectinload(Course.attestation_failures),
            )
        )
        .scalars()
        .all()
    )
    events = [e for c in courses for e in _course_events(c, label)]
    rmas = db.session.execute(
        select(Authorization)
        .where(Authorization.patient_id == patient.id)
        .options(selectinload(Authorization.pharmacy))
    ).scalars()
    events += _rma_events(rmas)
    for ch in db.session.execute(
        select(CategoryChange).where(CategoryChange.patient_id == patient.id)
    ).scalars():
        events.append(
            Event(
                ch.recorded_at,
                "category",
                "Risk category changed",
                f"{_words(ch.from_category)} → {_words(ch.to_category)}: {ch.reason}",
            )
        )
    for case in db.session.execute(
        select(PregnancyCase).where(PregnancyCase.patient_id == patient.id)
    ).scalars():
        events.append(Event(case.opened_at, "pregnancy", f"Pregnancy registry case #{case.id} opened"))
        if case.closed_at is not None:  # R-PT-4: by which administrator, when (zone named), why
            by = f" by {case.closed_by.full_name} (administrator)" if case.closed_by is not None else ""
            events.append(
                Event(
                    case.closed_at,
                    "case-closed",
                    f"Pregnancy registry case #{case.id} closed{by}",
                    f"Closed {local_time(case.closed_at)}: {case.close_reason or 'no reason recorded'}",
                )
            )
    signed = db.session.execute(
        select(Signature, Document.id)
        .join(Document, Document.signature_id == Signature.id)
        .where(Document.patient_id == patient.id)
    )
    for sig, doc_id in signed:
        events.append(
            Event(
                sig.signed_at,
                "signature",
                f"Signed by {sig.printed_name} ({sig.role})",
                sig.meaning,
                document_id=doc_id,
            )
        )
    events.sort(key=lambda e: (e.at, e.kind == "signature"))
    return events


def _words(code: str) -> str:
    return code.replace("_", " ")
