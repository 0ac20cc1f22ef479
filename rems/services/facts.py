"""Build the engine's immutable facts from database rows (a constant number of queries)."""
from __future__ import annotations

from dataclasses import fields
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
    CategoryChange,
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


class _Kind:
    """One kind of course record, the single description its three loaders share: the facts name
    (a PatientFacts field and the Course relationship), the table, and the engine fact, whose
    fields after `id` and `recorded_at` are the table's columns of the same names, in order.

    The loaders: the ORM collections (`_orm_records`), the UNION of the seven tables
    (`course_records`, `batch_records_statement`: one wide row per record, each column in a slot
    of its type) and the json column of the dispense statement (`records_json_column`: dates and
    instants come back as ISO text). All three end in `make`."""

    def __init__(self, name: str, model, fact) -> None:
        self.name, self.model, self.fact = name, model, fact
        self.columns = tuple(fl.name for fl in fields(fact)[2:])
        table = model.__table__.c
        types = [table[c].type for c in self.columns]
        self.tidy = tuple(_TIDY.get(type(t)) for t in types)  # typed values -> the fact's (bool, tuple)
        self.from_json = tuple(_FROM_JSON.get(type(t), tidy) for t, tidy in zip(types, self.tidy, strict=True))
        free = {slot: list(names) for slot, names in _SLOTS.items()}
        self.slots = {c: free[type(t)].pop(0) for c, t in zip(self.columns, types, strict=True)}
        self.positions = tuple(4 + _SLOT_ORDER.index(self.slots[c]) for c in self.columns)

    def make(self, i, at, values, convert) -> object:
        return self.fact(i, at, *[c(v) if c else v for c, v in zip(convert, values, strict=True)])


def _day(s: str | None):
    return None if s is None else date.fromisoformat(s)


def _instant(s: str | None):
    return None if s is None else datetime.fromisoformat(s).astimezone(UTC)


def _forms(v) -> tuple:
    return tuple(v or ())


_TIDY = {Boolean: bool, JSON: _forms}
_FROM_JSON = {Date: _day, UTCDateTime: _instant}
# the UNION's wide row after (tag, id, course_id, recorded_at): typed slots, NULL where a table has none
_SLOTS = {Date: ("day",), Boolean: ("flag",), String: ("s1", "s2", "s3"), Integer: ("n1", "n2"),
          UTCDateTime: ("ts",), JSON: ("js",)}
_SLOT_TYPES = {slot: kind() for kind, slots in _SLOTS.items() for slot in slots}
_SLOT_ORDER = tuple(_SLOT_TYPES)

# in the order of the UNION's tag and of the json column's table index
_KINDS = (
    _Kind("visits", Visit, f.Visit),
    _Kind("contraception", ContraceptionRecord, f.Contraception),
    _Kind("tests", PregnancyTest, f.PregnancyTest),
    _Kind("attestations", Attestation, f.Attestation),
    _Kind("attestation_failures", AttestationFailure, f.AttestationFailure),
    _Kind("authorizations", Authorization, f.Authorization),
    _Kind("category_changes", CategoryChange, f.CategoryChange),  # R-PAT-2
)


def record_loads() -> list:
    """Loader options for every record collection of Course (one SELECT ... IN per kind): the ORM
    side of `_KINDS`."""
    return [selectinload(getattr(Course, kind.name)) for kind in _KINDS]


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
            .options(*record_loads()))
    if lock:
        stmt = stmt.with_for_update(of=Course)
    return db.session.execute(stmt).scalar_one()


def _branch(where, tag: int, kind: _Kind):
    """One arm of the records UNION: the shared columns, this table's in their slots, typed NULL in
    the others; `where(columns)` selects the course(s). Built on the Core table columns, not the ORM
    attributes, so the statement runs without the ORM's compile and row-loading layer (bench/NOTES.md)."""
    c = kind.model.__table__.c
    by_slot = {slot: column for column, slot in kind.slots.items()}
    values = [c[by_slot[k]] if k in by_slot else cast(null(), t) for k, t in _SLOT_TYPES.items()]
    return select(literal(tag, Integer()).label("tag"), c.id.label("id"),
                  c.course_id.label("course_id"), c.recorded_at.label("recorded_at"),
                  *[v.label(k) for v, k in zip(values, _SLOT_TYPES, strict=True)]
                  ).where(where(c))


def _union(where):
    return union_all(*[_branch(where, tag, kind) for tag, kind in enumerate(_KINDS)]).order_by("tag", "id")


@lru_cache(maxsize=1)
def _records_statement():
    """Built once per process (constructing it costs more than running it); `course_id` is bound."""
    c = bindparam("course_id", type_=Integer())
    return _union(lambda model: model.course_id == c)


def in_batch(column, dialect: str):
    """`column` is one of the batch's `:ids`. PostgreSQL binds one array (`= ANY(:ids)`: the SQL
    text stays the same whatever the batch size); SQLite an IN list."""
    if dialect == "postgresql":
        return column == func.any(bindparam("ids", type_=ARRAY(Integer())))
    return column.in_(bindparam("ids", expanding=True))


@lru_cache(maxsize=2)
def batch_records_statement(dialect: str):
    """The same UNION for a list of courses (`in_batch`): the reminder sweep's batches."""
    return _union(lambda model: in_batch(model.course_id, dialect))


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
    for tag, kind in enumerate(_KINDS):
        t = kind.model.__table__
        arms.append(select(literal_column(str(tag), Integer()).label("t"), t.c.id.label("i"),
                           func.json_build_array(t.c.id, t.c.recorded_at, *[t.c[c] for c in kind.columns])
                           .label("r"))
                    .where(t.c.course_id == cid))
    u = union_all(*arms).subquery("rec")
    return (select(func.json_agg(aggregate_order_by(func.json_build_array(u.c.t, u.c.r), u.c.t, u.c.i)))
            .scalar_subquery())


def records_from_json(rows: list | None) -> dict[str, tuple]:
    """`records_json_column`'s value as engine facts."""
    out: dict[str, list] = {kind.name: [] for kind in _KINDS}
    for tag, (i, at, *values) in rows or ():
        kind = _KINDS[tag]
        out[kind.name].append(kind.make(i, _instant(at), values, kind.from_json))
    return {name: tuple(items) for name, items in out.items()}


def course_records(course_id: int) -> dict[str, tuple]:
    """Every record of a course as engine facts, in ONE statement (UNION ALL of the seven tables),
    so the dispense path costs the same for a patient with one cycle as with twelve."""
    return records_as_facts(db.session.connection().execute(_records_statement(), {"course_id": course_id}))


def records_as_facts(rows) -> dict[str, tuple]:
    """Rows of the records UNION (`course_records`, `batch_records_statement`) of ONE course as
    engine facts, unpacked by position (tag, id, course_id, recorded_at, then the typed slots)."""
    out: dict[int, list] = {tag: [] for tag in range(len(_KINDS))}
    for r in rows:
        out[r[0]].append(r)
    return {kind.name: tuple(kind.make(r[1], r[3], [r[p] for p in kind.positions], kind.tidy) for r in out[tag])
            for tag, kind in enumerate(_KINDS)}


def records_by_course(rows, course_ids) -> dict[int, dict[str, tuple]]:
    """Rows of `batch_records_statement` as engine facts, per course: every course of `course_ids`,
    with or without records (the worklist, the reminder sweep's batches)."""
    by_course: dict[int, list] = {cid: [] for cid in course_ids}
    for r in rows:
        by_course[r[2]].append(r)  # the UNION's columns: tag, id, course_id, ...
    return {cid: records_as_facts(rs) for cid, rs in by_course.items()}


def _orm_records(course: Course) -> dict[str, tuple]:
    return {kind.name: tuple(kind.make(r.id, r.recorded_at, [getattr(r, c) for c in kind.columns], kind.tidy)
                             for r in getattr(course, kind.name))
            for kind in _KINDS}


def home_testing_since(patient) -> date | None:
    """R-PT-3: the engine's `home_testing_since` from a patient row or model (None while off)."""
    return patient.home_testing_enabled_on if patient.home_testing_enabled else None


def patient_facts(patient: Patient, course: Course, records: dict[str, tuple] | None = None
                  ) -> f.PatientFacts:
    """The engine's view of a patient. `records` (from `course_records`, one statement) replaces the
    course's ORM collections when the caller loaded them that way."""
    return f.PatientFacts(
        id=patient.id, rems_id=patient.rems_id, first_name=patient.first_name,
        last_name=patient.last_name, date_of_birth=patient.date_of_birth, category=patient.category,
        prescriber_id=patient.prescriber_id, enrolled_at=course.enrolled_at,
        consent_signed_at=patient.consent_signed_at, home_testing_since=home_testing_since(patient),
        last_dose_date=course.last_dose_date, pregnancy_reported_at=course.pregnancy_reported_at,
        **(records if records is not None else _orm_records(course)))
