"""E-signatures (R-SIG-1), activation codes (R-PAT-3, R-PHAR-1) and sign-in over the API."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.api.helpers import count_rows
from tests.support.factories import PASSWORD

SIGNED = ("signatures", "documents", "visits", "attestations", "audit_entries")
BAD = {"password": "not the password at all"}


def _unchanged(api, before, *tables):
    after = count_rows(api.app, *tables)
    assert after == before, (before, after)


def test_r_sig_1_wrong_password_records_nothing(api, practice):
    p = api.enroll(practice.prescriber, "can_get_pregnant", consent=False)
    tables = ("signatures", "documents", "visits", "attestations", "attestation_failures")
    before = count_rows(api.app, *tables)
    attempts = [
        (
            practice.prescriber.email,
            f"/patients/{p.rems_id}/visits",
            {"visit_date": api.day(0), "counseled": True, "signature": BAD},
        ),
        (p.email, "/me/consent", {"signature": BAD}),
        (
            p.email,
            "/me/attestations",
            {"answers": {}, "contraception": {"forms": ["iud", "male_condom"]}, "signature": BAD},
        ),
        (practice.prescriber.email, "/prescribers/me/attestation", {"signature": BAD}),
        (practice.pharmacy.rsp, f"/pharmacies/{practice.pharmacy.ncpdp}/attestation", {"signature": BAD}),
    ]
    for who, path, body in attempts:
        resp = api.call("POST", path, as_=who, json=body)
        assert resp.status_code == 401, (path, resp.get_json())
        assert resp.get_json()["code"] == "SIGNATURE_INVALID"
    _unchanged(api, before, *tables)
    assert api.status(p)["consent_signed"] is False


def test_r_sig_1_pending_prescriber_stays_pending_on_wrong_password(api):
    pres = api.register_prescriber(certify=False)
    api.call("POST", "/prescribers/me/attestation", as_=pres.email, json={"signature": BAD}, expect=401)
    assert api.call("GET", "/me", as_=pres.email).get_json()["status"] == "pending"


def test_r_sig_1_signed_rows_are_immutable_in_the_database(app, api, practice):
    api.enroll(practice.prescriber, "cannot_get_pregnant")
    from rems.extensions import db

    for statement in ("UPDATE signatures SET printed_name = 'Someone Else'", "DELETE FROM signatures"):
        with pytest.raises(sa.exc.DBAPIError):
            with db.engine.begin() as conn:
                conn.execute(sa.text(statement))
    with db.engine.connect() as conn:
        names = conn.execute(sa.text("SELECT DISTINCT printed_name FROM signatures")).scalars().all()
    assert "Someone Else" not in names and names


def _enroll_only(api, practice):
    return api.enroll(practice.prescriber, "cannot_get_pregnant", dob="2004-02-29", activate=False)


def _activate(api, code, dob, password=PASSWORD):
    return api.call(
        "POST", "/activate", json={"activation_code": code, "password": password, "date_of_birth": dob}
    )


def test_activation_code_is_single_use(api, practice):
    p = _enroll_only(api, practice)
    assert _activate(api, p.code, p.dob).status_code == 200
    again = _activate(api, p.code, p.dob)
    assert again.status_code == 400 and again.get_json()["code"] == "ACTIVATION_INVALID"


def test_wrong_date_of_birth_does_not_use_the_code(api, practice):
    p = _enroll_only(api, practice)
    wrong = _activate(api, p.code, "2004-03-01")
    assert wrong.status_code == 400 and wrong.get_json()["code"] == "ACTIVATION_INVALID"
    missing = api.call("POST", "/activate", json={"activation_code": p.code, "password": PASSWORD})
    assert missing.status_code == 400
    # The code is case- and dash-insensitive when read over the phone.
    assert _activate(api, p.code.lower().replace("-", ""), p.dob).status_code == 200


def test_five_failures_void_the_code(api, practice):
    p = _enroll_only(api, practice)
    for _ in range(5):
        assert _activate(api, p.code, "1990-01-01").status_code == 400
    voided = _activate(api, p.code, p.dob)
    assert voided.status_code == 400 and voided.get_json()["code"] == "ACTIVATION_INVALID"
    # and the account stays inactive
    assert (
        api.client.post("/api/v1/auth/token", json={"email": p.email, "password": PASSWORD}).status_code
        == 401
    )


def test_r_pat_3_a_new_activation_code_replaces_a_lost_one(api, practice):
    """R-PAT-3: the prescriber of record can hand out a new code while the account is not activated;
    the earlier code stops working, the new one works once, and then no new code can be had."""
    p = _enroll_only(api, practice)
    path = f"/patients/{p.rems_id}/activation-code"
    out = api.call("POST", path, as_=practice.prescriber.email, expect=201).get_json()
    assert out["rems_id"] == p.rems_id and out["activation_code"] != p.code
    old = _activate(api, p.code, p.dob)
    assert old.status_code == 400 and old.get_json()["code"] == "ACTIVATION_INVALID"
    assert _activate(api, out["activation_code"], p.dob).status_code == 200
    before = count_rows(api.app, "activation_codes", "audit_entries")
    done = api.call("POST", path, as_=practice.prescriber.email, expect=409).get_json()
    assert done["code"] == "ALREADY_ACTIVATED"
    _unchanged(api, before, "activation_codes", "audit_entries")


def test_weak_password_at_activation_keeps_the_code(api, practice):
    p = _enroll_only(api, practice)
    weak = _activate(api, p.code, p.dob, password="short")
    assert weak.status_code == 422 and weak.get_json()["errors"][0]["field"] == "password"
    assert _activate(api, p.code, p.dob).status_code == 200


def test_unknown_email_and_wrong_password_answer_alike(api, practice):
    a = api.client.post("/api/v1/auth/token", json={"email": "nobody@example.org", "password": PASSWORD})
    b = api.client.post(
        "/api/v1/auth/token", json={"email": practice.prescriber.email, "password": "wrong" * 3}
    )
    assert a.status_code == b.status_code == 401
    assert a.get_json() == b.get_json() and a.get_json()["code"] == "INVALID_CREDENTIALS"


def test_r_pres_1_license_state_is_a_us_code(api):
    """R-PRES-1 registration: the license state is a USPS state or territory code ('ZZ' was accepted)."""
    from tests.api.helpers import PASSWORD as PW
    from tests.api.helpers import _npi

    body = {"email": "zz-doctor@example.org", "password": PW, "first_name": "Zed", "last_name": "Zone",
            "npi": _npi(799001), "license_state": "ZZ", "license_number": "L-1"}
    resp = api.call("POST", "/prescribers", json=body)
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "license_state"
    assert api.call("POST", "/prescribers", json=dict(body, license_state="pr")).status_code == 201


def test_r_phar_1_a_pharmacy_npi_registers_once(api):
    """R-PHAR-1 registration: each pharmacy location has its own NPI; a second pharmacy with the
    same NPI is a 409 on `npi` (it was accepted)."""
    from tests.api.helpers import PASSWORD as PW
    from tests.api.helpers import _npi

    npi = _npi(899001)

    def body(n):
        return {"name": f"Twin {n}", "ncpdp_id": f"{7100000 + n}", "npi": npi,
                "address": {"line1": "1 Main St", "city": "Troy", "state": "NY", "zip": "12180"},
                "rsp": {"email": f"twin{n}@example.org", "password": PW, "first_name": "T", "last_name": "W",
                        "license_number": f"T{n}"}}

    assert api.call("POST", "/pharmacies", json=body(1)).status_code == 201
    again = api.call("POST", "/pharmacies", json=body(2))
    assert again.status_code == 409 and again.get_json()["errors"][0]["field"] == "npi"
    bad_state = api.call("POST", "/pharmacies", json=dict(body(3), npi=_npi(899002),
                                                          address={**body(3)["address"], "state": "ZZ"}))
    assert bad_state.status_code == 422 and bad_state.get_json()["errors"][0]["field"] == "address.state"
