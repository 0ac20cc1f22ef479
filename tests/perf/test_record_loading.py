"""The engine gets the same facts whichever way a course's records are loaded.

Three loaders build engine facts from the seven record tables: the ORM collections (most services),
the UNION of `course_records` / `batch_records_statement` (the patient page, the reminder sweep),
and the json column of the dispense request statement (`records_json_column`, PostgreSQL). They
share one description per kind of record (`facts._KINDS`: the fact's fields are the table's
columns) but decode three shapes of row; this test keeps them telling the same story, on a course
holding every kind of record and every optional field (reversed RMA, contraception forms,
abstinence, failed attestations, a category change, NULLs).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from rems.extensions import db
from rems.models import AttestationFailure, Authorization, CategoryChange, ContraceptionRecord, Course
from rems.services import facts
from tests.perf.builders import bulk_patients


def _rich_course(factory):
    prescriber = factory.prescriber()
    pharmacy, rsp = factory.pharmacy()
    patient = bulk_patients(prescriber, pharmacy, rsp, 1, cycles=3)[0]
    course = db.session.execute(sa.select(Course).where(Course.patient_id == patient["id"])).scalar_one()
    when = datetime(2026, 11, 2, 15, 4, 5, 123400, tzinfo=UTC)
    db.session.add_all([
        ContraceptionRecord(course_id=course.id, start_date=when.date(), forms=["iud", "condom"], abstinence=False,
                            recorded_at=when, recorded_by_id=prescriber.user_id),
        ContraceptionRecord(course_id=course.id, start_date=when.date(), forms=[], abstinence=True,
                            recorded_at=when + timedelta(seconds=1), recorded_by_id=prescriber.user_id),
        AttestationFailure(course_id=course.id, cycle_number=2, incorrect=[3], recorded_at=when,
                           recorded_by_id=prescriber.user_id),
        CategoryChange(patient_id=patient["id"], course_id=course.id, from_category="can_get_pregnant",
                       to_category="cannot_get_pregnant", reason="test", recorded_at=when,
                       recorded_by_id=prescriber.user_id),
    ])
    rma = db.session.execute(sa.select(Authorization).where(Authorization.course_id == course.id)
                             .order_by(Authorization.id)).scalars().first()
    rma.status, rma.reversed_at, rma.reversal_reason = "reversed", when, "test"
    db.session.commit()
    return course.id


def test_every_record_loader_gives_the_same_facts(app, factory, backend):
    course_id = _rich_course(factory)
    course = facts.current_course(db.session.get(Course, course_id).patient)
    from_orm = facts._orm_records(course)
    from_union = facts.course_records(course_id)
    assert from_union == from_orm
    assert all(from_orm[kind] for kind in from_orm), {k: len(v) for k, v in from_orm.items()}
    assert any(a.reversed_at for a in from_orm["authorizations"])
    if backend == "postgres":
        pc = sa.select(sa.literal(course_id, sa.Integer()).label("course_id")).subquery("pc")
        value = db.session.execute(sa.select(facts.records_json_column("pc.course_id")).select_from(pc)).scalar()
        assert facts.records_from_json(value) == from_orm
