"""Build the engine's immutable facts from database rows (a constant number of queries)."""
from __future__ import annotations

from datetime import UTC, date, datetime
from functools import lru_cache

from sqlalchemy import (
    ARRAY,
    JSON,
    Boolean,
    Date,
    Integer,
    String,
    bindparam,
    cast,
    func,
    literal,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import selectinload

from rems.extensions import db
from rems.models import (
    Attestation,
    AttestationFailure,
    Authorization,
    ContraceptionRecord,
    Course,
    Patient,
    Pharmacy,
    PregnancyTest,
    Prescriber,
    Visit,
)
from rems.models.types import UTCDateTime
from workflows import facts as f

_NONE = {"day": Date(), "flag": Boolean(), "s1": String(), "s2": String(), "s3": String(), "n1": Integer(),
         "n2": Integer(), "ts": UTCDateTime(), "js": JSON()}


def prescriber_facts(p: Prescriber | None) -> f.PrescriberFacts | None:
    if p is None:
        return None
    return f.PrescriberFacts(id=p.id, npi=p.npi, status=p.status, certified_until=p.certified_until)


def pharmacy_facts(ph: Pharmacy | None) -> f.PharmacyFacts | None:
    if ph is None:
        return None
    return f.PharmacyFacts(id=ph.id, ncpdp_id=ph.ncpdp_id, status=ph.status,
                           certified_until=ph.certified_until)


def current_course(patient: Patient, lock: bool = False) -> Course:
    """The patient's latest course, with every record loaded in one round trip per table.

    `lock=True` takes a row lock on the course (SELECT ... FOR UPDATE on PostgreSQL) so concurrent
    writers for one patient are serialised (R-RMA-2)."""
    stmt = (select(Course).where(Course.patient_id == patient.id).order_by(Course.id.desc()).limit(1)
            .options(selectinload(Course.visits), selectinload(Course.contraception),
                     selectinload(Course.tests), selectinload(Course.attestations),
                     selectinload(Course.attestation_failures), selectinload(Course.authorizations)))
    if lock:
        stmt = stmt.with_for_update(of=Course)
    return db.session.execute(stmt).scalar_one()


def _branch(where, tag: int, model, **cols):
    """One arm of the records UNION: the shared columns, typed NULL where this table has none;
    `where(columns)` selects the course(s). Built on the Core table columns, not the ORM attributes,
    so the statement runs without the ORM's compile and row-loading layer (bench/NOTES.md)."""
    c = model.__table__.c
    values = [c[cols[k]] if k in cols else cast(null(), t) for k, t in _NONE.items()]
    return select(literal(tag, Integer()).label("tag"), c.id.label("id"),
                  c.course_id.label("course_id"), c.recorded_at.label("recorded_at"),
                  *[v.label(k) for v, k in zip(values, _NONE, strict=True)]
                  ).where(where(c))


def _union(where):
    return union_all(
        _branch(where, 0, Visit, day="visit_date", flag="counseled"),
        _branch(where, 1, ContraceptionRecord, day="start_date", flag="abstinence", js="forms"),
        _branch(where, 2, PregnancyTest, day="specimen_date", s1="kind", s2="result", s3="setting"),
        _branch(where, 3, Attestation),
        _branch(where, 4, AttestationFailure),
        _branch(where, 5, Authorization, day="do_not_dispense_after", s1="rma", n1="pharmacy_id",
                n2="days_supply", ts="reversed_at"),
    ).order_by("tag", "id")


@lru_cache(maxsize=1)
def _records_statement():
    """Built once per process (constructing it costs more than running it); `course_id` is bound."""
    c = bindparam("course_id", type_=Integer())
    return _union(lambda model: model.course_id == c)


@lru_cache(maxsize=2)
def batch_records_statement(dialect: str):
    """The same UNION for a list of courses: the reminder sweep's batches. PostgreSQL binds one
    array (`= ANY(:ids)`: the SQL text stays the same whatever the batch size); SQLite an IN list."""
    if dialect == "postgresql":
        ids = bindparam("ids", type_=ARRAY(Integer()))
        return _union(lambda model: model.course_id == func.any(ids))
    ids = bindparam("ids", expanding=True)
    return _union(lambda model: model.course_id.in_(ids))


# records_json_column: per table, the columns each record carries (after its id and recorded_at),
# and how they become engine facts; the JSON gives dates and instants as ISO text
_JSON_RECORDS = (
    ("visits", Visit, ("visit_date", "counseled"),
     lambda i, at, day, counseled: f.Visit(id=i, recorded_at=at, visit_date=_day(day), counseled=bool(counseled))),
    ("contraception", ContraceptionRecord, ("start_date", "abstinence", "forms"),
     lambda i, at, day, abstinence, forms: f.Contraception(id=i, recorded_at=at, start_date=_day(day),
                                                           forms=tuple(forms or ()), abstinence=bool(abstinence))),
    ("tests", PregnancyTest, ("kind", "specimen_date", "result", "setting"),
     lambda i, at, kind, day, result, setting: f.PregnancyTest(id=i, recorded_at=at, kind=kind,
                                                               specimen_date=_day(day), result=result,
                                                               setting=setting)),
    ("attestations", Attestation, (), lambda i, at: f.Attestation(id=i, recorded_at=at)),
    ("attestation_failures", AttestationFailure, (), lambda i, at: f.AttestationFailure(id=i, recorded_at=at)),
    ("authorizations", Authorization, ("rma", "pharmacy_id", "days_supply", "do_not_dispense_after", "reversed_at"),
     lambda i, at, rma, pharmacy_id, days_supply, day, reversed_at: f.Authorization(
         id=i, recorded_at=at, rma=rma, pharmacy_id=pharmacy_id, days_supply=days_supply,
         do_not_dispense_after=_day(day), reversed_at=_instant(reversed_at))),
)


def records_json_column(course_id_sql: str):
    """PostgreSQL: the course's records as ONE json column, so a caller's statement brings them
    without a round trip of their own (the dispense path; bench/NOTES.md): a correlated scalar
    sub-select aggregating [table index, [id, recorded_at, ...its columns]] in (table, id) order.
    Decode with `records_from_json`. The arms name only their own columns, which keeps the SQL
    text short (psycopg caches the parsing of statements up to 4 kB).

    `course_id_sql` names the enclosing statement's column as SQL text ("pc.course_id"): the UNION
    arms sit two levels below it, beyond SQLAlchemy's auto-correlation, and a Column object there
    would silently put a copy of its FROM into every arm."""
    cid = literal_column(course_id_sql, Integer())
    arms = []
    for tag, (_, model, columns, _) in enumerate(_JSON_RECORDS):
        t = model.__table__
        arms.append(select(literal_column(str(tag), Integer()).label("t"), t.c.id.label("i"),
                           func.json_build_array(t.c.id, t.c.recorded_at, *[t.c[c] for c in columns]).label("r"))
                    .where(t.c.course_id == cid))
    u = union_all(*arms).subquery("rec")
    return (select(func.json_agg(aggregate_order_by(func.json_build_array(u.c.t, u.c.r), u.c.t, u.c.i)))
            .scalar_subquery())


def _day(s: str | None):
    return None if s is None else date.fromisoformat(s)


def _instant(s: str | None):
    return None if s is None else datetime.fromisoformat(s).astimezone(UTC)


def records_from_json(rows: list | None) -> dict[str, tuple]:
    """`records_json_column`'s value as engine facts."""
    out: dict[str, list] = {name: [] for name, *_ in _JSON_RECORDS}
    for tag, (i, at, *rest) in rows or ():
        name, _, _, make = _JSON_RECORDS[tag]
        out[name].append(make(i, _instant(at), *rest))
    return {name: tuple(items) for name, items in out.items()}


def course_records(course_id: int) -> dict[str, tuple]:
    """Every record of a course as engine facts, in ONE statement (UNION ALL of the six tables),
    so the dispense path costs the same for a patient with one cycle as with twelve."""
    return records_as_facts(db.session.connection().execute(_records_statement(), {"course_id": course_id}))


def records_as_facts(rows) -> dict[str, tuple]:
    """Rows of the records UNION (`course_records`, `batch_records_statement`) of ONE course as
    engine facts, unpacked by position (tag, id, course_id, recorded_at, then _NONE's columns)."""
    out: dict[int, list] = {k: [] for k in range(6)}
    for r in rows:
        out[r[0]].append(r)
    return {
        "visits": tuple(f.Visit(id=i, recorded_at=at, visit_date=day, counseled=bool(flag))
                        for _, i, _, at, day, flag, *_ in out[0]),
        "contraception": tuple(f.Contraception(id=i, recorded_at=at, start_date=day, forms=tuple(js or ()),
                                               abstinence=bool(flag))
                               for _, i, _, at, day, flag, _, _, _, _, _, _, js in out[1]),
        "tests": tuple(f.PregnancyTest(id=i, recorded_at=at, kind=s1, specimen_date=day, result=s2, setting=s3)
                       for _, i, _, at, day, _, s1, s2, s3, *_ in out[2]),
        "attestations": tuple(f.Attestation(id=r[1], recorded_at=r[3]) for r in out[3]),
        "attestation_failures": tuple(f.AttestationFailure(id=r[1], recorded_at=r[3]) for r in out[4]),
        "authorizations": tuple(f.Authorization(id=i, recorded_at=at, rma=s1, pharmacy_id=n1, days_supply=n2,
                                                do_not_dispense_after=day, reversed_at=ts)
                                for _, i, _, at, day, _, s1, _, _, n1, n2, ts, _ in out[5]),
    }


def _orm_records(course: Course) -> dict[str, tuple]:
    return {
        "visits": tuple(f.Visit(id=v.id, recorded_at=v.recorded_at, visit_date=v.visit_date,
                                counseled=v.counseled) for v in course.visits),
        "contraception": tuple(f.Contraception(id=c.id, recorded_at=c.recorded_at, start_date=c.start_date,
                                               forms=tuple(c.forms or ()), abstinence=c.abstinence)
                               for c in course.contraception),
        "tests": tuple(f.PregnancyTest(id=t.id, recorded_at=t.recorded_at, kind=t.kind,
                                       specimen_date=t.specimen_date, result=t.result, setting=t.setting)
                       for t in course.tests),
        "attestations": tuple(f.Attestation(id=a.id, recorded_at=a.recorded_at) for a in course.attestations),
        "attestation_failures": tuple(f.AttestationFailure(id=a.id, recorded_at=a.recorded_at)
                                      for a in course.attestation_failures),
        "authorizations": tuple(f.Authorization(id=a.id, recorded_at=a.recorded_at, rma=a.rma,
                                                pharmacy_id=a.pharmacy_id, days_supply=a.days_supply,
                                                do_not_dispense_after=a.do_not_dispense_after,
                                                reversed_at=a.reversed_at) for a in course.authorizations),
    }


def patient_facts(patient: Patient, course: Course, records: dict[str, tuple] | None = None
                  ) -> f.PatientFacts:
    """The engine's view of a patient. `records` (from `course_records`, one statement) replaces the
    course's ORM collections when the caller loaded them that way."""
    return f.PatientFacts(
        id=patient.id, rems_id=patient.rems_id, first_name=patient.first_name,
        last_name=patient.last_name, date_of_birth=patient.date_of_birth, category=patient.category,
        prescriber_id=patient.prescriber_id, enrolled_at=course.enrolled_at,
        consent_signed_at=patient.consent_signed_at, home_testing_enabled=patient.home_testing_enabled,
        last_dose_date=course.last_dose_date, pregnancy_reported_at=course.pregnancy_reported_at,
        **(records if records is not None else _orm_records(course)))
