"""Who may call what (api.md conventions; rems.policy): every role against every API v1 endpoint.

401 without a valid token; 403 for the wrong role; 404 for an object the caller may not see;
ALLOWED means the request reached the service (any answer but 401/403/404, never a 500).
`test_matrix_covers_every_route` fails when an endpoint is added without a row here.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from tests.support.factories import PASSWORD, _npi

A = "ALLOWED"
ROLES = (
    "anonymous",
    "prescriber",
    "other_prescriber",
    "pharmacist",
    "other_pharmacist",
    "patient",
    "other_patient",
    "admin",
)
_n = itertools.count(1)


def row(anonymous, prescriber, other_prescriber, pharmacist, other_pharmacist, patient, other_patient, admin):
    return dict(
        zip(
            ROLES,
            (
                anonymous,
                prescriber,
                other_prescriber,
                pharmacist,
                other_pharmacist,
                patient,
                other_patient,
                admin,
            ),
            strict=True,
        )
    )


OPEN = row(A, A, A, A, A, A, A, A)
ANY_USER = row(401, A, A, A, A, A, A, A)
ADMIN_ONLY = row(401, 403, 403, 403, 403, 403, 403, A)
PRESCRIBERS = row(401, A, A, 403, 403, 403, 403, 403)
PHARMACISTS = row(401, 403, 403, A, A, 403, 403, 403)
PATIENTS = row(401, 403, 403, 403, 403, A, A, 403)
PATIENT_RECORD = row(401, A, 404, 403, 403, 403, 403, 403)
PATIENT_READ = row(401, A, 404, 403, 403, 403, 403, A)
RSP_OF_PHARMACY = row(401, 403, 403, A, 404, 403, 403, 403)
RMA_READ = row(401, A, 404, A, 404, 403, 403, A)
RMA_REVERSE = row(401, 403, 403, A, 404, 403, 403, 403)
DOCUMENT = row(401, A, 404, 404, 404, A, 404, A)


def _prescriber_body():
    n = next(_n)
    return {
        "email": f"matrix-doc{n}@example.org",
        "password": PASSWORD,
        "first_name": "M",
        "last_name": "D",
        "npi": _npi(900000 + n),
        "license_state": "NY",
        "license_number": f"M{n}",
    }


def _pharmacy_body():
    n = next(_n)
    return {
        "name": "Matrix Pharmacy",
        "ncpdp_id": f"{9100000 + n}",
        "npi": _npi(950000 + n),
        "address": {"line1": "1 A St", "city": "Utica", "state": "NY", "zip": "13501"},
        "rsp": {
            "email": f"matrix-rsp{n}@example.org",
            "password": PASSWORD,
            "first_name": "R",
            "last_name": "S",
            "license_number": f"MR{n}",
        },
    }


def _invite_body():
    n = next(_n)
    return {
        "email": f"matrix-staff{n}@example.org",
        "first_name": "S",
        "last_name": "T",
        "license_number": "X1",
    }


def _enroll_body():
    n = next(_n)
    return {
        "first_name": "Mia",
        "last_name": f"Matrix{n}",
        "date_of_birth": "2000-01-01",
        "email": f"matrix-patient{n}@example.org",
        "category": "cannot_get_pregnant",
    }


def _lookup(w):
    return {
        "rems_id": w.ccgp_rems_id,
        "date_of_birth": "2000-05-17",
        "prescriber_npi": w.npi,
        "pharmacy_ncpdp_id": w.ncpdp,
    }


SIG = {"signature": {"password": PASSWORD}}
QUESTION = {
    "text": "Matrix question?",
    "explanation": "Because.",
    "active": False,
    "choices": [{"id": "a", "text": "yes", "correct": True}, {"id": "b", "text": "no", "correct": False}],
}

# (method, Flask rule under /api/v1) -> (expected per role, path builder, body builder, extra)
MATRIX = {
    ("POST", "/auth/token"): (OPEN, None, lambda w: {"email": w.emails["patient"], "password": PASSWORD}),
    ("DELETE", "/auth/token"): (ANY_USER, None, None),
    ("POST", "/activate"): (
        OPEN,
        None,
        lambda w: {"activation_code": "AAAA-BBBB-CCCC", "password": PASSWORD},
    ),
    ("GET", "/me"): (ANY_USER, None, None),
    ("GET", "/ping"): (ANY_USER, None, None),
    ("GET", "/openapi.json"): (OPEN, None, None),
    ("POST", "/prescribers"): (OPEN, None, lambda w: _prescriber_body()),
    ("POST", "/prescribers/me/attestation"): (PRESCRIBERS, None, lambda w: SIG),
    ("POST", "/pharmacies"): (OPEN, None, lambda w: _pharmacy_body()),
    ("POST", "/pharmacies/<ncpdp_id>/attestation"): (
        RSP_OF_PHARMACY,
        lambda w: f"/pharmacies/{w.ncpdp}/attestation",
        lambda w: SIG,
    ),
    ("POST", "/pharmacies/<ncpdp_id>/pharmacists"): (
        RSP_OF_PHARMACY,
        lambda w: f"/pharmacies/{w.ncpdp}/pharmacists",
        lambda w: _invite_body(),
    ),
    ("POST", "/patients"): (PRESCRIBERS, None, lambda w: _enroll_body()),
    ("GET", "/patients/<rems_id>"): (PATIENT_READ, lambda w: f"/patients/{w.rems_id}", None),
    ("POST", "/patients/<rems_id>/visits"): (
        PATIENT_RECORD,
        lambda w: f"/patients/{w.rems_id}/visits",
        lambda w: {"visit_date": w.today, "counseled": True, **SIG},
    ),
    ("POST", "/patients/<rems_id>/contraception"): (
        PATIENT_RECORD,
        lambda w: f"/patients/{w.rems_id}/contraception",
        lambda w: {"start_date": w.today, "abstinence": True},
    ),
    ("POST", "/patients/<rems_id>/pregnancy-tests"): (
        PATIENT_RECORD,
        lambda w: f"/patients/{w.rems_id}/pregnancy-tests",
        lambda w: {"kind": "screening", "specimen_date": w.today, "result": "negative", "setting": "medical"},
    ),
    ("POST", "/patients/<rems_id>/activation-code"): (
        PATIENT_RECORD,
        lambda w: f"/patients/{w.rems_id}/activation-code",
        None,
    ),
    ("POST", "/patients/<rems_id>/home-testing"): (
        PATIENT_RECORD,
        lambda w: f"/patients/{w.rems_id}/home-testing",
        lambda w: {"enabled": True, "procedure": "Video call while testing."},
    ),
    ("POST", "/patients/<rems_id>/category"): (
        PATIENT_RECORD,
        lambda w: f"/patients/{w.rems_id}/category",
        lambda w: {"category": "cannot_get_pregnant", "reason": "hysterectomy"},
    ),
    ("POST", "/patients/<rems_id>/end-of-treatment"): (
        PATIENT_RECORD,
        lambda w: f"/patients/{w.rems_id}/end-of-treatment",
        lambda w: {"last_dose_date": w.today},
    ),
    ("POST", "/me/consent"): (PATIENTS, None, lambda w: SIG),
    ("GET", "/me/comprehension"): (PATIENTS, None, None),
    ("POST", "/me/attestations"): (
        PATIENTS,
        None,
        lambda w: {"answers": {}, "contraception": {"abstinence": True}, **SIG},
    ),
    ("GET", "/eligibility"): (PHARMACISTS, lambda w: "/eligibility", None),
    ("POST", "/authorizations"): (
        PHARMACISTS,
        None,
        lambda w: {**_lookup(w), "days_supply": 30, "quantity": 60},
    ),
    ("GET", "/authorizations/<rma>"): (RMA_READ, lambda w: f"/authorizations/{w.rma}", None),
    ("POST", "/authorizations/<rma>/reversal"): (
        RMA_REVERSE,
        lambda w: f"/authorizations/{w.rma}/reversal",
        lambda w: {"reason": "never picked up"},
    ),
    ("GET", "/documents/<doc_id>"): (DOCUMENT, lambda w: f"/documents/{w.doc_id}", None),
    ("GET", "/documents/<doc_id>/pdf"): (DOCUMENT, lambda w: f"/documents/{w.doc_id}/pdf", None),
    ("POST", "/documents/verify"): (OPEN, None, None),
    ("GET", "/admin/comprehension-questions"): (ADMIN_ONLY, None, None),
    ("POST", "/admin/comprehension-questions"): (ADMIN_ONLY, None, lambda w: QUESTION),
    ("PUT", "/admin/comprehension-questions/<question_id>"): (
        ADMIN_ONLY,
        lambda w: f"/admin/comprehension-questions/{w.question_id}",
        lambda w: QUESTION,
    ),
    ("GET", "/admin/audit/verify"): (ADMIN_ONLY, None, None),
    ("GET", "/admin/users"): (ADMIN_ONLY, None, None),
    ("POST", "/admin/users/<user_id>/status"): (
        ADMIN_ONLY,
        lambda w: f"/admin/users/{w.target_user_id}/status",
        lambda w: {"status": "active", "reason": "checked"},
    ),
    ("GET", "/admin/pharmacies"): (ADMIN_ONLY, None, None),
    ("POST", "/admin/pharmacies/<ncpdp_id>/certification"): (
        ADMIN_ONLY,
        lambda w: f"/admin/pharmacies/{w.ncpdp}/certification",
        lambda w: {"action": "reinstate", "reason": "checked"},
    ),
    ("POST", "/admin/pregnancy-cases/<case_id>/close"): (
        ADMIN_ONLY,
        lambda w: f"/admin/pregnancy-cases/{w.case_id}/close",
        lambda w: {"reason": "closed"},
    ),
}


@dataclass
class World:
    emails: dict
    rems_id: str
    ccgp_rems_id: str
    npi: str
    ncpdp: str
    rma: str
    doc_id: int
    question_id: int
    target_user_id: int
    case_id: int
    today: str


@pytest.fixture
def world(app, factory):
    from sqlalchemy import select

    from rems.clock import today
    from rems.extensions import db
    from rems.models import ComprehensionQuestion, Document, PregnancyCase
    from rems.services import dispensing, patients

    pres, other_pres = factory.prescriber(), factory.prescriber()
    ph, rsp = factory.pharmacy()
    _, other_rsp = factory.pharmacy()
    x = factory.patient(pres)
    y = factory.patient(other_pres)
    w = factory.patient(pres, category="cannot_get_pregnant")
    patients.record_visit(
        pres.user, w, {"visit_date": today(), "counseled": True, "signature": {"password": PASSWORD}}
    )
    _, rma = dispensing.authorize(
        rsp,
        {
            "rems_id": w.rems_id,
            "date_of_birth": w.date_of_birth,
            "prescriber_npi": pres.npi,
            "pharmacy_ncpdp_id": ph.ncpdp_id,
            "days_supply": 30,
            "quantity": 60,
        },
    )
    z = factory.patient(pres)
    patients.record_test(
        pres.user,
        z,
        {"kind": "screening", "specimen_date": today(), "result": "positive", "setting": "medical"},
    )
    admin = factory.admin()
    doc = db.session.execute(select(Document).where(Document.patient_id == x.id)).scalars().first()
    question = (
        db.session.execute(select(ComprehensionQuestion).order_by(ComprehensionQuestion.id)).scalars().first()
    )
    users = {
        "prescriber": pres.user,
        "other_prescriber": other_pres.user,
        "pharmacist": rsp,
        "other_pharmacist": other_rsp,
        "patient": x.user,
        "other_patient": y.user,
        "admin": admin,
    }
    return World(
        emails={k: u.email for k, u in users.items()},
        rems_id=x.rems_id,
        ccgp_rems_id=w.rems_id,
        npi=pres.npi,
        ncpdp=ph.ncpdp_id,
        rma=rma["rma"],
        doc_id=doc.id,
        question_id=question.id,
        target_user_id=z.user.id,
        case_id=db.session.execute(select(PregnancyCase.id)).scalar_one(),
        today=today().isoformat(),
    )


@pytest.mark.parametrize("key", list(MATRIX), ids=[f"{m} {r}" for m, r in MATRIX])
def test_access(key, world, client, token_for):
    expected, path_of, body_of = MATRIX[key]
    method, rule = key
    path = "/api/v1" + (path_of(world) if path_of else rule)
    query = _lookup(world) if rule == "/eligibility" else None
    got = {}
    for role in ROLES:
        headers = {} if role == "anonymous" else token_for(world.emails[role])
        kwargs = {"json": body_of(world)} if body_of else {}
        if rule == "/documents/verify":
            kwargs = {"data": b"%PDF-1.4 not a real attestation", "content_type": "application/pdf"}
        resp = client.open(path, method=method, headers=headers, query_string=query, **kwargs)
        assert resp.status_code < 500, (role, resp.get_json())
        got[role] = A if resp.status_code not in (401, 403, 404) else resp.status_code
        if got[role] != A:
            assert resp.mimetype == "application/problem+json"
    assert got == expected


def test_matrix_covers_every_route(app):
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((method, rule.rule[len("/api/v1") :]))
    assert routes - set(MATRIX) == set(), "endpoints missing from the access matrix"
    assert set(MATRIX) - routes == set(), "matrix rows for endpoints that do not exist"


def test_expired_and_revoked_tokens_answer_401(client, factory, token_for, travel):
    user = factory.prescriber().user
    headers = token_for(user)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    assert client.delete("/api/v1/auth/token", headers=headers).status_code == 204
    revoked = client.get("/api/v1/me", headers=headers)
    assert revoked.status_code == 401 and revoked.get_json()["code"] == "UNAUTHORIZED"
    headers = token_for(user)
    travel(1)  # tokens live 12 hours
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    for bad in ("Bearer", "Bearer ", "Basic abc", "Bearer " + "x" * 300, "Bearer nonsense"):
        assert client.get("/api/v1/me", headers={"Authorization": bad}).status_code == 401
