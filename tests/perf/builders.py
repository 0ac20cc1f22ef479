"""Fast builders for performance tests: patients with months of history by bulk INSERTs.

The services are the only way records are written in production; these builders skip them (no
signatures, no audit) because the statement-count tests need hundreds of patients or a dozen
cycles of history in milliseconds. The rows follow the shape the services write (see
bench/seed.py, which builds the same shape set-based in PostgreSQL).
"""

from __future__ import annotations

import itertools
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from rems.clock import program, today
from rems.extensions import db
from rems.models import (
    Attestation,
    Authorization,
    ContraceptionRecord,
    Course,
    Patient,
    PregnancyTest,
    User,
    Visit,
)
from rems.services.enrollment import rems_id_check_digit

_seq = itertools.count(1)
CYCLE_DAYS = 28


def at(day: date, hour: float = 12) -> datetime:
    """A program-local clock time on `day`, as an aware datetime (stored in UTC by the column type)."""
    tz = ZoneInfo(program().timezone)
    return datetime.combine(day, time(0), tz) + timedelta(hours=hour)


def _rems_id(n: int) -> str:
    body = str(700000000 + n)
    return body + rems_id_check_digit(body)


def bulk_patients(
    prescriber,
    pharmacy,
    pharmacist,
    count: int,
    cycles: int = 0,
    eligible: bool = True,
    category: str = "can_get_pregnant",
) -> list[dict]:
    """`count` consented patients of `prescriber`, each with `cycles` completed monthly cycles (each
    ended by an RMA of `pharmacy`) and, when `eligible`, the current cycle's requirements met yesterday.

    Returns [{"id", "rems_id", "date_of_birth"}]. CGP cycles carry counseling, a negative test and a
    signed attestation; CCGP cycles a visit (counseled at enrollment only)."""
    cgp = category == "can_get_pregnant"
    t = today()
    cur = t - timedelta(days=1)
    start = cur - timedelta(days=CYCLE_DAYS * cycles)
    enrolled = at(start - timedelta(days=2))
    dob = date(2001, 3, 14)
    serials = [next(_seq) for _ in range(count)]
    users = [
        {
            "email": f"bulk{s}@perf.example",
            "password_hash": None,
            "role": "patient",
            "status": "active",
            "first_name": "Bulk",
            "last_name": f"Patient{s}",
            "created_at": enrolled,
            "failed_logins": 0,
        }
        for s in serials
    ]
    db.session.execute(db.insert(User), users)
    user_ids = db.session.execute(
        db.select(User.email, User.id).where(User.email.in_([u["email"] for u in users]))
    ).all()
    by_email = dict(user_ids)
    patients = [
        {
            "rems_id": _rems_id(s),
            "user_id": by_email[f"bulk{s}@perf.example"],
            "prescriber_id": prescriber.id,
            "first_name": "Bulk",
            "last_name": f"Patient{s}",
            "name_key": f"bulk|patient{s}",
            "date_of_birth": dob,
            "email": f"bulk{s}@perf.example",
            "category": category,
            "home_testing_enabled": False,
            "consent_signed_at": enrolled,
            "created_at": enrolled,
        }
        for s in serials
    ]
    db.session.execute(db.insert(Patient), patients)
    rows = db.session.execute(
        db.select(Patient.id, Patient.rems_id).where(Patient.rems_id.in_([p["rems_id"] for p in patients]))
    ).all()
    pids = [r.id for r in rows]
    db.session.execute(
        db.insert(Course),
        [
            {
                "patient_id": pid,
                "enrolled_at": enrolled,
                "status": "active" if cycles else "enrolled",
                "version": 1,
            }
            for pid in pids
        ],
    )
    course_of = dict(
        db.session.execute(db.select(Course.patient_id, Course.id).where(Course.patient_id.in_(pids))).all()
    )
    by = prescriber.user_id
    visits, tests, atts, rmas, contra = [], [], [], [], []
    for pid in pids:
        cid = course_of[pid]
        if cgp:
            contra.append(
                {
                    "course_id": cid,
                    "start_date": start - timedelta(days=60),
                    "forms": ["iud", "male_condom"],
                    "abstinence": False,
                    "recorded_at": enrolled,
                    "recorded_by_id": by,
                }
            )
            tests.append(
                {
                    "course_id": cid,
                    "kind": "screening",
                    "specimen_date": start - timedelta(days=40),
                    "result": "negative",
                    "setting": "medical",
                    "recorded_at": enrolled,
                    "recorded_by_id": by,
                }
            )
        for j in range(cycles + (1 if eligible else 0)):
            s = start + timedelta(days=CYCLE_DAYS * j)
            visits.append(
                {
                    "course_id": cid,
                    "visit_date": s,
                    "counseled": cgp or j == 0,
                    "recorded_at": at(s),
                    "recorded_by_id": by,
                }
            )
            if cgp:
                tests.append(
                    {
                        "course_id": cid,
                        "kind": "confirmation" if j == 0 else "monthly",
                        "specimen_date": s,
                        "result": "negative",
                        "setting": "medical",
                        "recorded_at": at(s, 12.25),
                        "recorded_by_id": by,
                    }
                )
                atts.append(
                    {
                        "course_id": cid,
                        "cycle_number": j + 1,
                        "answers": {},
                        "recorded_by_id": by,
                        "contraception": {"forms": ["iud", "male_condom"]},
                        "recorded_at": at(s, 12.5),
                    }
                )
            if j < cycles:
                rmas.append(
                    {
                        "rma": f"RMA{pid:06d}{j:04d}",
                        "course_id": cid,
                        "patient_id": pid,
                        "prescriber_id": prescriber.id,
                        "pharmacy_id": pharmacy.id,
                        "pharmacist_id": pharmacist.id,
                        "cycle_number": j + 1,
                        "days_supply": 30,
                        "quantity": 60,
                        "recorded_at": at(s, 13),
                        "status": "authorized",
                        "do_not_dispense_after": s + timedelta(days=6 if cgp else 29),
                    }
                )
    for model, batch in (
        (ContraceptionRecord, contra),
        (Visit, visits),
        (PregnancyTest, tests),
        (Attestation, atts),
        (Authorization, rmas),
    ):
        if batch:
            db.session.execute(db.insert(model), batch)
    db.session.commit()
    return [{"id": r.id, "rems_id": r.rems_id, "date_of_birth": dob} for r in rows]
