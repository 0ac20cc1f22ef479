"""An administrator suspends, revokes and reinstates a pharmacy's certification (R-ADMIN-1, R-PHAR-1,
R-LOOP-1), on the API; and a prescriber's own attestation against a revocation at the same moment
(R-PRES-1): the attestation takes the prescriber's row lock, as the administrator's change does."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from rems.errors import ApiError
from rems.extensions import db
from rems.models import AuditEntry, Notification, Pharmacy, User
from rems.services import admin, signatures
from rems.services import practice as practice_service
from tests.api.helpers import at_once, codes, count_rows
from tests.support.factories import PASSWORD


def _pharmacy(api, admin_email, ncpdp):
    rows = api.call("GET", "/admin/pharmacies", as_=admin_email, expect=200).get_json()["pharmacies"]
    return next(p for p in rows if p["ncpdp_id"] == ncpdp)


def _change(api, admin_email, ncpdp, action, reason="Inspection findings", **extra):
    return api.call("POST", f"/admin/pharmacies/{ncpdp}/certification", as_=admin_email,
                    json={"action": action, "reason": reason, **extra})


def _entries(action="pharmacy.certification_changed") -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)).scalar()


def _ready(api, practice):
    p = api.enroll(practice.prescriber, "cannot_get_pregnant")
    api.visit(p, 0, counseled=True)
    return p


def test_a_suspended_pharmacy_gets_no_rma_and_reinstating_restores_its_certification_r_phar_1(api, practice):
    """R-ADMIN-1 / R-PHAR-1 / R-LOOP-1: suspended, every RMA request naming it is PHARMACY_NOT_CERTIFIED
    and its RSP cannot sign; audited with the reason; its pharmacists are told. Reinstated, it holds the
    very certification it had (same end date) and RMAs are issued again."""
    p, ph = _ready(api, practice), practice.pharmacy
    listed = _pharmacy(api, practice.admin, ph.ncpdp)
    until = listed["certified_until"]
    assert listed["status"] == "certified" and listed["certification_changes"] == ["suspend", "revoke"]
    assert {m["email"] for m in listed["pharmacists"]} == {ph.rsp, practice.pharmacist}
    assert api.eligibility(practice.pharmacist, p, ph)["eligible"] is True

    done = _change(api, practice.admin, ph.ncpdp, "suspend", version=listed["version"])
    assert done.status_code == 200, done.get_json()
    body = done.get_json()
    assert body["status"] == "suspended" and body["certified_until"] == until
    assert body["certification_changes"] == ["reinstate", "revoke"]
    assert "PHARMACY_NOT_CERTIFIED" in codes(api.eligibility(practice.pharmacist, p, ph))
    refused = api.authorize(practice.pharmacist, p, ph)
    assert refused.status_code == 409 and "PHARMACY_NOT_CERTIFIED" in codes(refused)
    assert count_rows(api.app, "authorizations")["authorizations"] == 0
    me = api.call("GET", "/me", as_=practice.pharmacist, expect=200).get_json()
    assert me["pharmacies"][0]["status"] == "suspended"
    blocked = api.call("POST", f"/pharmacies/{ph.ncpdp}/attestation", as_=ph.rsp, json={"signature": api.sig()})
    assert blocked.status_code == 409 and blocked.get_json()["code"] == "CERTIFICATION_BLOCKED"
    assert "only after an administrator reinstates it" in blocked.get_json()["detail"]

    entry = db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "pharmacy.certification_changed")).scalar_one()
    assert entry.before["status"] == "certified" and entry.after["status"] == "suspended"
    assert entry.after["reason"] == "Inspection findings" and entry.after["certified_until"] == until
    for email in (ph.rsp, practice.pharmacist):
        note = db.session.execute(select(Notification).join(User, User.id == Notification.user_id).where(
            User.email == email, Notification.kind == "pharmacy_certification")).scalar_one()
        assert note.title.endswith(": certification suspended")
        assert "PHARMACY_NOT_CERTIFIED" in note.body and "Reason given: Inspection findings" in note.body

    back = _change(api, practice.admin, ph.ncpdp, "reinstate", reason="Resolved").get_json()
    assert back["status"] == "certified" and back["certified_until"] == until
    assert back["certification_changes"] == ["suspend", "revoke"]
    assert api.eligibility(practice.pharmacist, p, ph)["eligible"] is True
    assert api.authorize(practice.pharmacist, p, ph).status_code == 201
    assert db.session.execute(select(func.count()).select_from(Notification).where(
        Notification.kind == "pharmacy_certification", Notification.title.like("%reinstated"))).scalar() == 2


def test_a_revoked_pharmacy_must_attest_again_after_reinstatement_r_phar_1(api, practice):
    p, ph = _ready(api, practice), practice.pharmacy
    assert _change(api, practice.admin, ph.ncpdp, "revoke").get_json()["status"] == "revoked"
    assert "PHARMACY_NOT_CERTIFIED" in codes(api.eligibility(practice.pharmacist, p, ph))
    back = _change(api, practice.admin, ph.ncpdp, "reinstate").get_json()
    assert back["status"] == "pending" and back["certified_until"] is None
    assert back["certification_changes"] == ["suspend"]
    assert "PHARMACY_NOT_CERTIFIED" in codes(api.eligibility(practice.pharmacist, p, ph))
    signed = api.call("POST", f"/pharmacies/{ph.ncpdp}/attestation", as_=ph.rsp, json={"signature": api.sig()},
                      expect=200).get_json()
    assert signed["status"] == "certified"
    assert api.eligibility(practice.pharmacist, p, ph)["eligible"] is True


def test_a_change_that_does_not_apply_or_is_stale_or_malformed_changes_nothing_r_admin_1(api, practice, factory):
    """A forged or repeated change: 409 STATUS_CHANGE_NOT_ALLOWED; decided on another state: 409
    VERSION_CONFLICT naming who changed it, with the current version; bad input: 422/404/403."""
    ph = practice.pharmacy
    pending, _ = factory.pharmacy(certified=False)
    opened = _pharmacy(api, practice.admin, ph.ncpdp)["version"]
    for ncpdp, action, words in ((ph.ncpdp, "reinstate", "there is nothing to reinstate"),
                                 (pending.ncpdp_id, "revoke", "holds no certification to revoke (pending")):
        resp = _change(api, practice.admin, ncpdp, action)
        assert resp.status_code == 409 and resp.mimetype == "application/problem+json"
        assert resp.get_json()["code"] == "STATUS_CHANGE_NOT_ALLOWED" and words in resp.get_json()["detail"]
    other = factory.admin()
    admin_pharmacy = db.session.execute(select(Pharmacy).where(Pharmacy.ncpdp_id == ph.ncpdp)).scalar_one()
    from rems.services import pharmacy_admin

    pharmacy_admin.change(other, ph.ncpdp, {"action": "suspend", "reason": "Theirs"})
    stale = _change(api, practice.admin, ph.ncpdp, "revoke", version=opened)
    problem = stale.get_json()
    assert stale.status_code == 409 and problem["code"] == "VERSION_CONFLICT"
    assert problem["version"] == pharmacy_admin.pharmacy_version(admin_pharmacy)
    assert f"was changed by {other.full_name} (administrator) at " in problem["detail"]
    assert "certification certified → suspended" in problem["detail"]
    again = _change(api, practice.admin, ph.ncpdp, "suspend")
    assert again.status_code == 409 and "already suspended" in again.get_json()["detail"]
    entries = _entries()
    assert _change(api, practice.admin, ph.ncpdp, "close").status_code == 422
    assert _change(api, practice.admin, ph.ncpdp, "reinstate", reason="").status_code == 422
    assert _change(api, practice.admin, ph.ncpdp, "reinstate", reason="x" * 1001).status_code == 422
    assert _change(api, practice.admin, "99999999", "reinstate").status_code == 404
    assert _change(api, practice.admin, "abc\x00", "reinstate").status_code == 404
    assert api.call("POST", f"/admin/pharmacies/{ph.ncpdp}/certification", as_=ph.rsp,
                    json={"action": "reinstate", "reason": "mine"}).status_code == 403
    db.session.expire_all()
    assert _entries() == entries and admin_pharmacy.status == "suspended"


def test_concurrent_changes_on_one_version_apply_one_r_admin_1(app, api, practice, factory):
    """Administrators suspending and revoking at once on the version they saw: the pharmacy row is read
    again under its lock, so one change applies and the others are 409 VERSION_CONFLICT."""
    headers = [api.headers(a) for a in (practice.admin, factory.admin().email)]
    version = _pharmacy(api, practice.admin, practice.pharmacy.ncpdp)["version"]
    path = f"/api/v1/admin/pharmacies/{practice.pharmacy.ncpdp}/certification"
    results = at_once(app, [lambda c, i=i: c.post(path, headers=headers[i % 2], json={
        "action": ("suspend", "revoke")[i % 2], "reason": f"admin {i}", "version": version}) for i in range(4)])
    assert sorted(status for status, _ in results) == [200, 409, 409, 409], results
    assert all(b["code"] == "VERSION_CONFLICT" for status, b in results if status == 409)
    db.session.expire_all()
    assert _entries() == 1


def test_the_openapi_document_lists_the_pharmacy_endpoints(api):
    paths = api.client.get("/api/v1/openapi.json").get_json()["paths"]
    schema = paths["/api/v1/admin/pharmacies/{ncpdp_id}/certification"]["post"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert schema["properties"]["action"]["enum"] == ["suspend", "revoke", "reinstate"]
    assert "version" not in schema["required"] and "get" in paths["/api/v1/admin/pharmacies"]


# ----- the prescriber's own attestation (R-PRES-1) -------------------------------------------------
def test_a_revoked_prescriber_cannot_attest_until_reinstated_r_pres_1(factory):
    """R-PRES-1: revoked, the attestation is refused with a sentence saying what to do; reinstated, the
    prescriber is pending and signs it again."""
    admin_user, pres = factory.admin(), factory.prescriber()
    admin.set_status(admin_user, pres.user_id, {"status": "revoked", "reason": "Board action"})
    with pytest.raises(ApiError) as refused:
        practice_service.attest_prescriber(pres.user, PASSWORD)
    assert refused.value.status == 409 and refused.value.code == "CERTIFICATION_BLOCKED"
    assert "revoked by the program administrator: you can sign the attestation again only after an " \
           "administrator reinstates you" in refused.value.detail
    db.session.expire_all()
    assert pres.status == "revoked" and _entries("prescriber.certified") == 1
    admin.set_status(admin_user, pres.user_id, {"status": "active", "reason": "Cleared"})
    assert pres.status == "pending"
    practice_service.attest_prescriber(pres.user, PASSWORD)
    assert pres.status == "certified" and pres.certified_until is not None


def test_an_attestation_signed_during_a_revocation_never_outlives_it_r_pres_1(app, api, practice, monkeypatch):
    """R-PRES-1 / R-ADMIN-1: the prescriber signs while an administrator revokes. The attestation reads the
    prescriber under the same row lock as the revocation: either it goes first (and the revocation then
    ends it) or it waits and is refused. Before, it read the state unlocked, the revocation committed
    while the password was checked, and the attestation was recorded after it, on a revoked prescriber."""
    slow = signatures.sign

    def sign_slowly(*args, **kwargs):
        time.sleep(0.5)  # the revocation commits meanwhile, unless the attestation holds the lock
        return slow(*args, **kwargs)

    monkeypatch.setattr(signatures, "sign", sign_slowly)
    users = api.call("GET", "/admin/users", as_=practice.admin, expect=200).get_json()["users"]
    pres_id = next(u["id"] for u in users if u["email"] == practice.prescriber.email)
    pres_headers, admin_headers = api.headers(practice.prescriber.email), api.headers(practice.admin)

    def revoke(c):
        time.sleep(0.15)  # the attestation has started
        return c.post(f"/api/v1/admin/users/{pres_id}/status", headers=admin_headers,
                      json={"status": "revoked", "reason": "Board action"})

    (attested, body), (revoked, _) = at_once(app, [
        lambda c: c.post("/api/v1/prescribers/me/attestation", headers=pres_headers,
                         json={"signature": {"password": PASSWORD}}),
        revoke])
    assert revoked == 200
    db.session.expire_all()
    user = db.session.get(User, pres_id)
    assert user.prescriber.status == "revoked"
    order = db.session.execute(select(AuditEntry.action).where(
        AuditEntry.action.in_(("prescriber.certified", "account.status_changed")))
        .order_by(AuditEntry.id)).scalars().all()
    if attested == 200:  # it went first: the revocation was decided on it
        assert order[-2:] == ["prescriber.certified", "account.status_changed"], order
    else:
        assert attested == 409 and body["code"] == "CERTIFICATION_BLOCKED", body
        assert order[-1] == "account.status_changed" and order.count("prescriber.certified") == 1
