"""R-AUD-1: who did what, when, from where, to which record, before and after — for every event
that matters (21 CFR 11.10(e), HIPAA 164.312(b))."""
from __future__ import annotations

import sqlalchemy as sa

from tests.support.factories import PASSWORD

V1 = "/api/v1"
ADDR = {"REMOTE_ADDR": "203.0.113.9"}


def _last(action):
    from rems.extensions import db
    from rems.models import AuditEntry

    db.session.expire_all()
    return db.session.execute(sa.select(AuditEntry).where(AuditEntry.action == action)
                              .order_by(AuditEntry.id.desc()).limit(1)).scalar_one_or_none()


def _token(client, user):
    resp = client.post(f"{V1}/auth/token", json={"email": user.email, "password": PASSWORD}, environ_base=ADDR)
    assert resp.status_code == 201
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


def _who(entry, user):
    assert entry is not None
    assert entry.actor_id == user.id and entry.actor_role == user.role
    assert entry.ip == ADDR["REMOTE_ADDR"]
    assert entry.at is not None


def test_r_aud_1_sign_in_and_failed_sign_in_are_audited(client, factory):
    user = factory.admin()
    _token(client, user)
    _who(_last("auth.token_issued"), user)
    resp = client.post(f"{V1}/auth/token", json={"email": user.email, "password": "wrong password here"},
                       environ_base=ADDR)
    assert resp.status_code == 401
    entry = _last("auth.failed")
    _who(entry, user)
    assert "wrong password" not in str(entry.after)  # never the attempted password
    client.post(f"{V1}/auth/token", json={"email": "nobody@example.org", "password": "whatever it is"},
                environ_base=ADDR)
    entry = _last("auth.failed")
    assert entry.actor_id is None and entry.ip == ADDR["REMOTE_ADDR"] and entry.after["email"] == "nobody@example.org"


def test_r_aud_1_patient_record_read_is_audited(client, factory):
    prescriber = factory.prescriber()
    patient = factory.patient(prescriber)
    resp = client.get(f"{V1}/patients/{patient.rems_id}", headers=_token(client, prescriber.user), environ_base=ADDR)
    assert resp.status_code == 200
    entry = _last("patient.read")
    _who(entry, prescriber.user)
    assert entry.patient_id == patient.id and entry.object_id == str(patient.id)


def test_r_aud_1_patient_reading_their_own_record_by_api_is_audited(client, factory):
    """GET /me answers a patient with their whole status (requirements, window): a read of their
    record, audited like the web home page that shows the same (it left no trace)."""
    patient = factory.patient(factory.prescriber())
    resp = client.get(f"{V1}/me", headers=_token(client, patient.user), environ_base=ADDR)
    assert resp.status_code == 200 and resp.get_json()["rems_id"] == patient.rems_id
    entry = _last("patient.read")
    _who(entry, patient.user)
    assert entry.patient_id == patient.id and entry.object_id == str(patient.id)


def test_r_aud_1_signature_and_state_change_are_audited_with_before_and_after(client, factory):
    prescriber = factory.prescriber()
    patient = factory.patient(prescriber, category="cannot_get_pregnant")
    headers = _token(client, prescriber.user)
    resp = client.post(f"{V1}/patients/{patient.rems_id}/category", headers=headers, environ_base=ADDR,
                       json={"category": "can_get_pregnant", "reason": "Corrected history at visit"})
    assert resp.status_code == 200, resp.get_json()
    entry = _last("patient.category_changed")
    _who(entry, prescriber.user)
    assert entry.before and entry.after and entry.before != entry.after
    resp = client.post(f"{V1}/patients/{patient.rems_id}/visits", headers=headers, environ_base=ADDR,
                       json={"visit_date": _today(), "counseled": True, "signature": {"password": PASSWORD}})
    assert resp.status_code == 201, resp.get_json()
    sig = _last("signature.created")
    _who(sig, prescriber.user)
    assert sig.patient_id == patient.id and len(sig.after["record_sha256"]) == 64


def test_r_aud_1_failed_signature_is_audited_and_nothing_signed(client, factory):
    from rems.extensions import db
    from rems.models import Signature

    prescriber = factory.prescriber()
    patient = factory.patient(prescriber)
    before = db.session.scalar(sa.select(sa.func.count(Signature.id)))
    resp = client.post(f"{V1}/patients/{patient.rems_id}/visits", headers=_token(client, prescriber.user),
                       environ_base=ADDR, json={"visit_date": _today(), "counseled": True,
                                                "signature": {"password": "not my password"}})
    assert resp.status_code == 401 and resp.get_json()["code"] == "SIGNATURE_INVALID"
    _who(_last("signature.failed"), prescriber.user)
    assert db.session.scalar(sa.select(sa.func.count(Signature.id))) == before


def test_r_aud_1_authorization_refusal_is_audited_with_codes(client, factory):
    prescriber = factory.prescriber()
    patient = factory.patient(prescriber)
    pharmacy, rsp = factory.pharmacy()
    resp = client.post(f"{V1}/authorizations", headers=_token(client, rsp), environ_base=ADDR, json={
        "rems_id": patient.rems_id, "date_of_birth": patient.date_of_birth.isoformat(),
        "prescriber_npi": prescriber.npi, "pharmacy_ncpdp_id": pharmacy.ncpdp_id, "days_supply": 30,
        "quantity": 60})
    assert resp.status_code == 409
    entry = _last("authorization.refused")
    _who(entry, rsp)
    assert entry.patient_id == patient.id
    assert set(entry.after["codes"]) == {r["code"] for r in resp.get_json()["reasons"]}


def test_r_aud_1_token_revocation_is_audited(client, factory):
    user = factory.admin()
    headers = _token(client, user)
    assert client.delete(f"{V1}/auth/token", headers=headers, environ_base=ADDR).status_code == 204
    _who(_last("auth.token_revoked"), user)


def _today():
    from rems.clock import today

    return today().isoformat()


def test_r_aud_1_reading_an_rma_or_a_signed_document_is_audited(client, factory):
    """Both name a patient: GET /authorizations/{rma} and GET /documents/{id}(/pdf) are reads of a
    patient record (R-AUD-1); they used to leave no trace."""
    from rems.extensions import db
    from rems.models import Document

    prescriber = factory.prescriber()
    patient = factory.patient(prescriber, category="cannot_get_pregnant")
    pharmacy, rsp = factory.pharmacy()
    pres = _token(client, prescriber.user)
    resp = client.post(f"{V1}/patients/{patient.rems_id}/visits", headers=pres, environ_base=ADDR,
                       json={"visit_date": _today(), "counseled": True, "signature": {"password": PASSWORD}})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post(f"{V1}/authorizations", headers=_token(client, rsp), environ_base=ADDR, json={
        "rems_id": patient.rems_id, "date_of_birth": patient.date_of_birth.isoformat(),
        "prescriber_npi": prescriber.npi, "pharmacy_ncpdp_id": pharmacy.ncpdp_id, "days_supply": 30,
        "quantity": 60})
    assert resp.status_code == 201, resp.get_json()
    rma = resp.get_json()["rma"]
    assert client.get(f"{V1}/authorizations/{rma}", headers=pres, environ_base=ADDR).status_code == 200
    entry = _last("authorization.read")
    _who(entry, prescriber.user)
    assert entry.patient_id == patient.id and entry.object_id == rma
    doc_id = db.session.execute(sa.select(Document.id).where(Document.patient_id == patient.id)
                                .order_by(Document.id)).scalars().first()
    assert client.get(f"{V1}/documents/{doc_id}", headers=pres, environ_base=ADDR).status_code == 200
    entry = _last("document.read")
    _who(entry, prescriber.user)
    assert entry.patient_id == patient.id and entry.object_id == str(doc_id)
    # a refused read (another prescriber) is not a read, and writes nothing
    other = _token(client, factory.prescriber().user)
    before = db.session.execute(sa.select(sa.func.count()).select_from(sa.text("audit_entries"))).scalar()
    assert client.get(f"{V1}/authorizations/{rma}", headers=other, environ_base=ADDR).status_code == 404
    db.session.expire_all()
    after = db.session.execute(sa.select(sa.func.count()).select_from(sa.text("audit_entries"))).scalar()
    assert after == before
