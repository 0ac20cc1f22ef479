"""Dispense eligibility and authorizations (RMAs): R-LOOP-1, R-RMA-1..6.

Two pharmacists asking for the same patient at once get one RMA: the course row is locked
(SELECT ... FOR UPDATE) while deciding, and a partial unique index allows one unreversed RMA per
(course, cycle) even if the lock were bypassed.
"""
from __future__ import annotations

import secrets
from functools import lru_cache

from sqlalchemy import Integer, String, bindparam, insert, literal, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from rems import driver, policy
from rems.clock import now, program
from rems.clock import today as program_today
from rems.errors import ApiError
from rems.extensions import db
from rems.models import (
    Authorization,
    Course,
    IdempotencyRecord,
    Patient,
    Pharmacy,
    PharmacyMember,
    Prescriber,
    User,
)
from rems.services import audit, keyset, rma_search
from rems.services.canonical import canonical, sha256_hex
from rems.services.facts import (
    course_records,
    current_course,
    home_testing_since,
    patient_facts,
    records_from_json,
    records_json_column,
)
from rems.tasks import unit_of_work
from workflows import decide_dispense, evaluate_patient, local_date
from workflows.facts import DispenseRequest, PatientFacts, PharmacyFacts, PrescriberFacts
from workflows.messages import short

# The dispense path reads with Core statements on the table columns (plain rows, no ORM identity
# map or instance loading: that layer cost more CPU than the statements; bench/NOTES.md), each
# built once per process with its values bound.
_P, _C, _R, _PH, _M = (m.__table__ for m in (Patient, Course, Prescriber, Pharmacy, PharmacyMember))


_INSERT_RMA = insert(Authorization.__table__)
_ACTIVATE_COURSE = update(_C).where(_C.c.id == bindparam("course_id", type_=Integer())).values(status="active")


@lru_cache(maxsize=4)
def _driver_request(lock: bool, dialect):
    """PostgreSQL: `_request_statement` compiled once and run on the driver connection (rems.driver)."""
    return driver.Select(_request_statement(lock, dialect.name), dialect)


@lru_cache(maxsize=4)
def _request_statement(lock: bool, dialect: str):
    """ONE statement for the patient with its latest course and prescriber (course row locked when
    `lock`: FOR UPDATE OF courses inside the sub-select), the requested prescriber by NPI, the
    pharmacy by NCPDP ID and this pharmacist's membership; on PostgreSQL also the course's records
    as a json column (facts.records_json_column). Always one row: the patient's columns are NULL
    when the REMS ID is unknown. Built once per process with its values bound."""
    p, c, r, ph = _P.c, _C.c, _R.c, _PH.c
    own = _R.alias("own_prescriber")
    pc = (select(p.id, p.rems_id, p.first_name, p.last_name, p.date_of_birth, p.category, p.prescriber_id,
                 p.consent_signed_at, p.home_testing_enabled,
                 p.home_testing_enabled_on, c.id.label("course_id"), c.enrolled_at,
                 c.status.label("course_status"), c.last_dose_date, c.pregnancy_reported_at,
                 own.c.npi.label("own_npi"), own.c.status.label("own_status"),
                 own.c.certified_until.label("own_certified_until"))
          .select_from(_P.join(_C, c.patient_id == p.id).join(own, own.c.id == p.prescriber_id))
          .where(p.rems_id == bindparam("rems_id", type_=String())).order_by(c.id.desc()).limit(1))
    if lock:
        pc = pc.with_for_update(of=_C)
    pc = pc.subquery("pc")
    member = select(_M.c.id).where(_M.c.pharmacy_id == ph.id,
                                   _M.c.user_id == bindparam("user_id", type_=Integer()),
                                   _M.c.active).exists()
    one = select(literal(1).label("one")).subquery("one")
    records = [records_json_column("pc.course_id").label("records")] if dialect == "postgresql" else []
    return (select(*pc.c, r.id.label("req_prescriber_id"), r.npi.label("req_npi"),
                   r.status.label("req_status"), r.certified_until.label("req_certified_until"),
                   ph.id.label("pharmacy_id"), ph.ncpdp_id, ph.status.label("pharmacy_status"),
                   ph.certified_until.label("pharmacy_certified_until"), member.label("member"), *records)
            .select_from(one)
            .outerjoin(pc, true())
            .outerjoin(_R, r.npi == bindparam("npi", type_=String()))
            .outerjoin(_PH, ph.ncpdp_id == bindparam("ncpdp", type_=String())))


def _patient(row, records: dict[str, tuple]) -> PatientFacts:
    return PatientFacts(
        id=row.id, rems_id=row.rems_id, first_name=row.first_name, last_name=row.last_name,
        date_of_birth=row.date_of_birth, category=row.category, prescriber_id=row.prescriber_id,
        enrolled_at=row.enrolled_at, consent_signed_at=row.consent_signed_at,
        home_testing_since=home_testing_since(row), last_dose_date=row.last_dose_date,
        pregnancy_reported_at=row.pregnancy_reported_at, **records)


def _request(user: User, data: dict, lock: bool = False):
    """Everything R-LOOP-1 decides on, in one statement whatever the patient's history (two on
    SQLite): the patient with its latest course and prescriber (course row locked when `lock`,
    R-RMA-2) together with the requested prescriber, pharmacy and this pharmacist's membership, and
    the course's records.
    Returns the engine's request and the row (its patient columns are None for an unknown patient,
    R-RMA-6; `patient_known` says which)."""
    rems_id = data["rems_id"]
    if not (isinstance(rems_id, str) and len(rems_id) <= 12):
        rems_id = None  # matches no patient
    conn = db.session.connection()
    postgres = conn.dialect.name == "postgresql"
    params = {"rems_id": rems_id, "user_id": user.id, "npi": data["prescriber_npi"], "ncpdp": data["pharmacy_ncpdp_id"]}
    if postgres:
        row = _driver_request(lock, conn.dialect).one(conn, params)
    else:
        row = conn.execute(_request_statement(lock, conn.dialect.name), params).one()
    # R-RMA-6: a wrong date of birth looks exactly like an unknown REMS ID
    known = row.id is not None and row.date_of_birth == data["date_of_birth"]
    facts = None
    if known:
        facts = _patient(row, records_from_json(row.records) if postgres else course_records(row.course_id))
    prescriber = pharmacy = own = None
    if row.req_prescriber_id is not None:
        prescriber = PrescriberFacts(id=row.req_prescriber_id, npi=row.req_npi, status=row.req_status,
                                     certified_until=row.req_certified_until)
    if row.pharmacy_id is not None:
        pharmacy = PharmacyFacts(id=row.pharmacy_id, ncpdp_id=row.ncpdp_id, status=row.pharmacy_status,
                                 certified_until=row.pharmacy_certified_until)
    if known:
        own = PrescriberFacts(id=row.prescriber_id, npi=row.own_npi, status=row.own_status,
                              certified_until=row.own_certified_until)
    req = DispenseRequest(patient=facts, prescriber=prescriber, pharmacy=pharmacy,
                          pharmacist_is_member=bool(row.member), days_supply=data.get("days_supply"),
                          patient_prescriber=own)
    return req, (row if known else None)


def _reasons(decision) -> list[dict]:
    return [{"code": r.code, "message": r.message} for r in decision.reasons]


def _window(decision):
    w = decision.window
    return {"opens": w.opens.isoformat(), "closes": w.closes.isoformat()} if w else None


def eligibility(user: User, query: dict) -> dict:
    """GET /eligibility: the decision a pharmacist would get now, without issuing anything."""
    req, patient = _request(user, query)
    decision = decide_dispense(req, program(), now())
    with unit_of_work():
        audit.record("dispense.checked", "patient", patient.id if patient else None,
                     patient_id=patient.id if patient else None,
                     after={"eligible": decision.allowed, "codes": [r.code for r in decision.reasons],
                            "pharmacy": query["pharmacy_ncpdp_id"]}, actor=user)
    return {"eligible": decision.allowed, "reasons": _reasons(decision), "window": _window(decision),
            "do_not_dispense_after": decision.do_not_dispense_after.isoformat()
            if decision.do_not_dispense_after else None}


def _new_rma() -> str:
    """A random RMA number (10**10 of them). No look-up first: the unique constraint refuses the
    astronomically rare collision and `authorize` retries once, like any other race."""
    return f"RMA{secrets.randbelow(10**10):010d}"


def after_reversal(a: Authorization) -> str:
    """What a reversal means for the next RMA: "reopened" (R-RMA-4: inside its window the cycle is
    open again, so a corrected RMA can follow until the window's last day, `a.do_not_dispense_after`),
    "missed" (R-CYC-4: after the window, that cycle was missed) or "stopped" (R-PT-4, R-END-1:
    treatment is over, no RMA follows)."""
    course = a.course
    if course.pregnancy_reported_at is not None or course.ended_at is not None:
        return "stopped"
    return "reopened" if a.do_not_dispense_after >= program_today() else "missed"


def dispense_stop(a: Authorization) -> tuple[str, str] | None:
    """Why this RMA may not be filled now, as (code, sentence); None: it may.

    Reversed (R-RMA-4); treatment stopped while the RMA could still be filled: a pregnancy reported
    (R-PT-4) or the end of treatment recorded (R-END-1: no RMA after the last dose, and an RMA not
    yet filled is not dispensed either); otherwise past its "do not dispense after" day (R-RMA-1).
    An RMA that had already expired when treatment stopped stays "expired": that is what ended it,
    so the pharmacy's list keeps telling its history truly.
    """
    if a.status != "authorized":
        return "REVERSED", "This RMA was reversed. Do not dispense."
    course = a.course
    if _stopped_while_open(course.pregnancy_reported_at, a):
        return ("PREGNANCY_REPORTED",
                "A pregnancy was reported after this RMA was issued: treatment has stopped. Do not dispense.")
    today = program_today()  # dates of another year name it (workflows.messages.short)
    if _stopped_while_open(course.ended_at, a):
        return ("TREATMENT_ENDED",
                f"Treatment ended (last dose {short(course.last_dose_date, today)}) after this RMA was issued. "
                "Do not dispense.")
    if a.do_not_dispense_after < today:
        return ("EXPIRED",
                f"This RMA's last day was {short(a.do_not_dispense_after, today)}: it has expired. Do not dispense.")
    return None


def _stopped_while_open(instant, a: Authorization) -> bool:
    """Did treatment stop at `instant` on or before the RMA's last day (program-local, R-TIME-1)?"""
    return instant is not None and local_date(instant, program()) <= a.do_not_dispense_after


def serialize(a: Authorization) -> dict:
    stop = dispense_stop(a)
    return {"rma": a.rma, "status": a.status, "dispense_allowed": stop is None,
            "dispense_stop_code": stop[0] if stop else None, "dispense_stop_reason": stop[1] if stop else None,
            "rems_id": a.patient.rems_id, "pharmacy_ncpdp_id": a.pharmacy.ncpdp_id,
            "prescriber_npi": a.prescriber.npi, "days_supply": a.days_supply, "quantity": a.quantity,
            "cycle": a.cycle_number, "issued_at": a.recorded_at.isoformat(),
            "do_not_dispense_after": a.do_not_dispense_after.isoformat(),
            "reversed_at": a.reversed_at.isoformat() if a.reversed_at else None,
            "reversal_reason": a.reversal_reason}


def _idempotent(user: User, key: str | None, request_hash: str):
    if not key:
        return None
    rec = db.session.execute(select(IdempotencyRecord).where(IdempotencyRecord.user_id == user.id,
                                                             IdempotencyRecord.key == key)).scalar_one_or_none()
    if rec is None:
        return None
    if rec.request_hash != request_hash:
        raise ApiError(422, "IDEMPOTENCY_KEY_REUSED",
                       "This Idempotency-Key was already used with a different request body.")
    return rec.status_code, rec.body


def authorize(user: User, data: dict, idempotency_key: str | None = None) -> tuple[int, dict]:
    """POST /authorizations: issue an RMA or refuse with every reason (R-RMA-5)."""
    if idempotency_key is not None and not (0 < len(idempotency_key) <= 200):
        raise ApiError.field("Idempotency-Key", "must be 1 to 200 characters")
    request_hash = sha256_hex(canonical(data)) if idempotency_key else None
    replay = _idempotent(user, idempotency_key, request_hash)
    if replay:
        return replay
    try:
        return _authorize_once(user, data, idempotency_key, request_hash)
    except IntegrityError:
        # A concurrent request won the race (same cycle or same Idempotency-Key): answer as it did.
        db.session.rollback()
        replay = _idempotent(user, idempotency_key, request_hash)
        if replay:
            return replay
        return _authorize_once(user, data, idempotency_key, request_hash)


def _authorize_once(user, data, idempotency_key, request_hash):
    prog = program()
    with unit_of_work():
        req, patient = _request(user, data, lock=True)
        decision = decide_dispense(req, prog, now())
        if not decision.allowed:
            status, body = 409, {"type": "https://rems.example/problems/not-eligible", "title": "Conflict",
                                 "status": 409, "code": "NOT_ELIGIBLE",
                                 "detail": "The patient cannot be dispensed isotretinoin now.",
                                 "reasons": _reasons(decision), "window": _window(decision)}
            audit.record("authorization.refused", "patient", patient.id if patient else None,
                         patient_id=patient.id if patient else None,
                         after={"codes": [r.code for r in decision.reasons], "pharmacy": data["pharmacy_ncpdp_id"]},
                         actor=user)
        else:
            # the cycle comes from the evaluation decide_dispense already made (one engine pass); a
            # Core INSERT (the unique indexes still refuse a racing duplicate: IntegrityError, raised
            # by the commit, which `authorize` answers like any other race)
            rma = {"rma": _new_rma(), "course_id": patient.course_id, "patient_id": patient.id,
                   "prescriber_id": patient.req_prescriber_id, "pharmacy_id": patient.pharmacy_id,
                   "pharmacist_id": user.id, "cycle_number": decision.cycle_number,
                   "days_supply": data["days_supply"], "quantity": data["quantity"], "recorded_at": now(),
                   "do_not_dispense_after": decision.do_not_dispense_after, "status": "authorized"}
            # sent with the COMMIT (rems.driver): the course row stays locked only while the server works
            dialect = db.session.get_bind().dialect
            driver.defer(db.session(), driver.Write(_INSERT_RMA, rma, dialect))
            if patient.course_status != "active":
                driver.defer(db.session(), driver.Write(_ACTIVATE_COURSE, {"course_id": patient.course_id}, dialect))
            audit.record("authorization.issued", "authorization", rma["rma"], patient_id=patient.id,
                         after={"rma": rma["rma"], "days_supply": rma["days_supply"], "quantity": rma["quantity"],
                                "do_not_dispense_after": rma["do_not_dispense_after"],
                                "cycle": rma["cycle_number"]},
                         actor=user)
            status = 201
            body = {"rma": rma["rma"], "do_not_dispense_after": rma["do_not_dispense_after"].isoformat(),
                    "days_supply": rma["days_supply"], "quantity": rma["quantity"], "status": "authorized",
                    "rems_id": patient.rems_id}
        if idempotency_key:
            db.session.add(IdempotencyRecord(user_id=user.id, key=idempotency_key, request_hash=request_hash,
                                             status_code=status, body=body, created_at=now()))
            db.session.flush()
    return status, body


RECENT_RMAS = 50


def pharmacy_rmas(user: User, pharmacy_ids: list[int], find: str | None = None,
                  before: keyset.Position | None = None, after: keyset.Position | None = None,
                  last_name: str | None = None, date_of_birth=None) -> keyset.Page:
    """A page of the RMAs of these pharmacies (the user's own), newest first: the latest
    RECENT_RMAS, or those just older than `before` / newer than `after` (keyset paging on
    (recorded_at, id): one statement whatever the page), all of them or those the search names
    (`find`: an RMA number, at least 4 of its digits or a REMS ID; `last_name` with
    `date_of_birth`: rma_search): an RMA older than the latest must stay reachable, to be checked
    or reversed (R-RMA-4). A search too short or a name without a date of birth is an ApiError 422,
    nothing read. R-AUD-1: a search reads a named patient's RMAs, so it is audited for each
    patient a page shows; a page of the list unsearched is one entry naming the patients of its RMAs."""
    search = rma_search.parse(find, last_name, date_of_birth)
    if not pharmacy_ids:
        return keyset.Page([])
    query = select(Authorization).where(Authorization.pharmacy_id.in_(pharmacy_ids))
    if search is not None:
        query = query.where(search.condition)
    query = query.options(joinedload(Authorization.patient), joinedload(Authorization.pharmacy),
                          joinedload(Authorization.course))
    page = keyset.seek(query, Authorization.recorded_at, Authorization.id, RECENT_RMAS, before, after)
    if not page.rows:
        return page
    with unit_of_work(expire=False):  # the page renders the RMAs as read and audited
        if search is None:
            position = {"before": before.token} if before else {"after": after.token} if after else {}
            audit.record_list("authorizations.listed", [a.patient_id for a in page.rows],
                              {"list": "pharmacy_rmas", **position, "rmas": [a.rma for a in page.rows]},
                              actor=user)
        else:
            shown = {}
            for a in page.rows:
                shown.setdefault(a.patient_id, []).append(a.rma)
            for patient_id, rmas in shown.items():
                audit.record("authorization.searched", "patient", patient_id, patient_id=patient_id,
                             after={**search.searched, "rmas": rmas}, actor=user)
    return page


def get_authorization(user: User, rma: str) -> Authorization:
    row = None
    if isinstance(rma, str) and len(rma) <= 20:
        row = db.session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one_or_none()
    policy.require(user, "authorization.read", row)
    with unit_of_work():  # R-AUD-1: an RMA names its patient
        audit.record("authorization.read", "authorization", row.rma, patient_id=row.patient_id, actor=user)
    return row


def reverse(user: User, rma: str, reason: str) -> Authorization:
    """R-RMA-4: the pharmacy that obtained the RMA reverses it; inside the window the cycle reopens."""
    with unit_of_work():
        row = None
        if isinstance(rma, str) and len(rma) <= 20:
            row = db.session.execute(select(Authorization).where(Authorization.rma == rma)
                                     .with_for_update()).scalar_one_or_none()
        policy.require(user, "authorization.reverse", row)
        if row.status == "reversed":
            raise ApiError(409, "NOT_REVERSIBLE", "This RMA was already reversed: nothing was changed.")
        row.status = "reversed"
        row.reversed_at = now()
        row.reversed_by_id = user.id
        row.reversal_reason = reason
        audit.record("authorization.reversed", "authorization", row.rma, patient_id=row.patient_id,
                     before={"status": "authorized"}, after={"status": "reversed", "reason": reason}, actor=user)
        course = current_course(row.patient)
        st = evaluate_patient(patient_facts(row.patient, course), program(), now())
        course.status = st.course_status
    return row
