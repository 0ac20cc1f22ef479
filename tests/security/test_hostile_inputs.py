"""Hostile input is refused (400/404/422 problem+json) or stored and shown inert; never a 500
(api.md "No client input may ever produce a 500"; ASVS V5)."""
from __future__ import annotations

import pytest

from tests.support.factories import PASSWORD

V1 = "/api/v1"
PAYLOADS = [
    "' OR '1'='1", "Robert'); DROP TABLE patients;--", "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>', "{{7*7}}", "../../etc/passwd", "\u202eevil\u0000", "😀" * 50,
    "A" * 10_000, "ｆｕｌｌｗｉｄｔｈ", "\ufffd\u200b\u0301",
]


def _problem(resp, *statuses):
    assert resp.status_code in statuses, (resp.status_code, resp.get_data()[:300])
    assert resp.mimetype == "application/problem+json"
    return resp.get_json()


@pytest.mark.parametrize("payload", PAYLOADS)
def test_sign_in_with_hostile_strings_is_refused_cleanly(client, payload):
    resp = client.post(f"{V1}/auth/token", json={"email": payload, "password": payload})
    _problem(resp, 401, 422)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_patient_names_are_refused_or_stored_verbatim(client, factory, token_for, payload):
    prescriber = factory.prescriber()
    resp = client.post(f"{V1}/patients", headers=token_for(prescriber.user), json={
        "first_name": payload, "last_name": "Smith", "date_of_birth": "2001-02-03",
        "email": "hostile@example.org", "category": "cannot_get_pregnant"})
    if resp.status_code == 201:
        from sqlalchemy import select

        from rems.extensions import db
        from rems.models import Patient

        stored = db.session.execute(select(Patient).where(
            Patient.rems_id == resp.get_json()["rems_id"])).scalar_one()
        assert stored.first_name == payload.strip()  # a string, not SQL: parameters all the way
    else:
        _problem(resp, 422)


def test_script_in_a_name_is_escaped_on_the_web_page(client, factory):
    prescriber = factory.prescriber()
    patient = factory.patient(prescriber)
    from rems.extensions import db

    patient.first_name = "<script>alert(1)</script>"
    db.session.commit()
    import re

    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/sign-in").data)
    page = client.post("/sign-in", data={"email": prescriber.user.email, "password": PASSWORD,
                                         "csrf_token": token.group(1).decode()})
    assert page.status_code == 302
    html = client.get(f"/prescriber/patients/{patient.rems_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


@pytest.mark.parametrize("doc_id", ["..%2F..%2Fetc%2Fpasswd", "../../etc/passwd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
                                    "1;DROP TABLE documents", "1%00", "-1", "99999999999999999999", "1e3", "0x10",
                                    "%F0%9F%98%80", "%C2%B23", "%D9%A3"])
def test_path_traversal_and_odd_document_ids_are_not_found(client, login_as, doc_id):
    headers = login_as("admin")
    for suffix in ("", "/pdf"):
        resp = client.get(f"{V1}/documents/{doc_id}{suffix}", headers=headers)
        assert resp.status_code in (404, 405), (doc_id, suffix, resp.status_code)
        assert b"root:" not in resp.data


def test_document_verify_takes_random_bytes_without_error(client):
    import os

    for body in (os.urandom(2048), b"%PDF-1.7\n" + os.urandom(512), b"\x00" * 10, "é".encode() * 100):
        resp = client.post(f"{V1}/documents/verify", data=body, content_type="application/pdf")
        assert resp.status_code in (200, 400, 422), resp.status_code
        if resp.status_code == 200:
            assert resp.get_json()["valid"] is False


@pytest.mark.parametrize("body", [b"{", b"[]", b"null", b'"x"', b"\xff\xfe", b'{"email": {"$gt": ""}}',
                                  b'{"email": ["a"], "password": 1}', b"{" * 5000])
def test_malformed_json_is_400_or_422(client, body):
    resp = client.post(f"{V1}/auth/token", data=body, content_type="application/json")
    _problem(resp, 400, 422)


def test_oversized_body_is_413(client):
    resp = client.post(f"{V1}/auth/token", data=b"{" + b" " * (3 * 1024 * 1024) + b"}",
                       content_type="application/json")
    _problem(resp, 413)


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic abc", "Bearer " + "a" * 5000,
                                    "Bearer ' OR 1=1 --", "Bearer \u00e9\u00e9"])
def test_bad_authorization_headers_are_401(client, header):
    resp = client.get(f"{V1}/me", headers={"Authorization": header})
    _problem(resp, 401)


def test_hostile_query_strings_are_refused(client, login_as):
    headers = login_as("pharmacist")
    for value in ["' OR 1=1 --", "<script>", "A" * 5000, "../../"]:
        resp = client.get(f"{V1}/eligibility", headers=headers, query_string={
            "rems_id": value, "date_of_birth": value, "prescriber_npi": value, "pharmacy_ncpdp_id": value})
        _problem(resp, 422)


@pytest.mark.parametrize("raw_id", ["%C2%B23", "%D9%A3", "1%C2%B2", "0", "-3"])
def test_unicode_digit_ids_are_not_found_anywhere(client, login_as, raw_id):
    """Found by schemathesis: "²3".isdigit() is True but int("²3") fails; ids are ASCII digits only."""
    headers = login_as("admin")
    body = {"status": "suspended", "reason": "test"}
    assert client.post(f"{V1}/admin/users/{raw_id}/status", json=body, headers=headers).status_code == 404
    q = {"text": "Q?", "explanation": "E.", "choices": [{"id": "a", "text": "A", "correct": True},
                                                       {"id": "b", "text": "B", "correct": False}]}
    assert client.put(f"{V1}/admin/comprehension-questions/{raw_id}", json=q, headers=headers).status_code == 404
    assert client.post(f"{V1}/admin/pregnancy-cases/{raw_id}/close", json={"reason": "x"},
                       headers=headers).status_code == 404


def test_a_nul_byte_is_refused_or_dropped_never_a_500(client, factory, token_for):
    """PostgreSQL text cannot hold NUL: one in a URL path (/patients/%00), a query string (the
    audit log's and the worklist's searches) or a form field (a pregnancy case's closing reason, an
    RMA's reversal reason, the sign-in email) answered 500 there, and SQLite stored it. Before any
    view runs, such a path is now a 404 and such a form a 400 naming the character; the search
    boxes drop it."""
    import re

    from sqlalchemy import select

    from rems.clock import today
    from rems.extensions import db
    from rems.models import PregnancyCase
    from rems.services import patients

    admin = factory.admin()
    pres = factory.prescriber()
    patient = factory.patient(pres)
    patients.record_test(pres.user, patient, {"kind": "screening", "specimen_date": today(),
                                               "result": "positive", "setting": "medical"})
    case = db.session.execute(select(PregnancyCase)).scalar_one()
    headers = token_for(admin)
    for path in (f"{V1}/patients/%00", f"{V1}/authorizations/RMA%00", f"{V1}/patients/1%00/visits"):
        _problem(client.get(path, headers=headers), 404)
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/sign-in").data).group(1)
    resp = client.post("/sign-in", data={"email": "a\x00b@example.org", "password": PASSWORD,
                                         "csrf_token": token.decode()})
    assert resp.status_code == 400 and b"NUL character" in resp.data
    assert client.post("/sign-in", data={"email": admin.email, "password": PASSWORD,
                                         "csrf_token": token.decode()}).status_code == 302
    for path in ("/admin/audit?actor=%00", "/admin/audit?patient=%00", "/admin/users?q=%00"):
        assert client.get(path).status_code == 200, path  # a search box: the character is dropped
    page = client.get("/admin/pregnancy-cases").data
    token = re.search(rb'name="c\d+-csrf_token" type="hidden" value="([^"]+)"', page).group(1).decode()
    resp = client.post(f"/admin/pregnancy-cases/{case.id}/close",
                       data={f"c{case.id}-csrf_token": token, f"c{case.id}-reason": "Follow-up\x00 done"})
    assert resp.status_code == 400 and b"Nothing was saved" in resp.data
    db.session.expire_all()
    assert db.session.get(PregnancyCase, case.id).closed_at is None
    client.post("/sign-out", data={"csrf_token": token})
    token = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/sign-in").data).group(1)
    assert client.post("/sign-in", data={"email": pres.user.email, "password": PASSWORD,
                                         "csrf_token": token.decode()}).status_code == 302
    assert client.get("/prescriber/?q=Smi%00th").status_code == 200  # the worklist's search box
