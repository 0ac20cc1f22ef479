"""Idempotency-Key replays and concurrent authorizations (R-RMA-2: one RMA per cycle, whatever the race)."""

from __future__ import annotations

from tests.api.helpers import at_once, codes, count_rows


def _ready(api, practice):
    p = api.enroll(practice.prescriber, "cannot_get_pregnant")
    api.visit(p, 0, counseled=True)
    return p


def test_idempotency_key_replays_the_first_answer(api, practice):
    p = _ready(api, practice)
    key = {"Idempotency-Key": "order-4711"}
    first = api.authorize(practice.pharmacist, p, practice.pharmacy, headers=key)
    second = api.authorize(practice.pharmacist, p, practice.pharmacy, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert count_rows(api.app, "authorizations")["authorizations"] == 1
    # Same key, different body: refused, nothing issued.
    other = api.authorize(practice.pharmacist, p, practice.pharmacy, quantity=61, headers=key)
    assert other.status_code == 422 and other.get_json()["code"] == "IDEMPOTENCY_KEY_REUSED"
    # Without a key the same body is a new request: refused as already authorized (R-RMA-2).
    assert codes(api.authorize(practice.pharmacist, p, practice.pharmacy)) >= {"ALREADY_AUTHORIZED"}
    assert count_rows(api.app, "authorizations")["authorizations"] == 1
    too_long = api.authorize(
        practice.pharmacist, p, practice.pharmacy, headers={"Idempotency-Key": "k" * 201}
    )
    assert too_long.status_code == 422 and too_long.get_json()["errors"][0]["field"] == "Idempotency-Key"


def test_idempotency_key_replays_a_refusal(api, practice):
    p = api.enroll(practice.prescriber, "cannot_get_pregnant")
    key = {"Idempotency-Key": "refused-once"}
    first = api.authorize(practice.pharmacist, p, practice.pharmacy, headers=key)
    api.visit(p, 0, counseled=True)
    second = api.authorize(practice.pharmacist, p, practice.pharmacy, headers=key)
    assert first.status_code == second.status_code == 409 and first.get_json() == second.get_json()
    assert api.authorize(practice.pharmacist, p, practice.pharmacy).status_code == 201


def test_concurrent_authorizations_issue_one_rma(app, api, practice, backend):
    """R-RMA-2 under a race, on both databases: PostgreSQL locks the course row; SQLite, whose
    reads are not locked, takes its write lock before the unit of work reads (rems.driver.begin_write).
    Before that, the embedded default answered some of these with a 500 (QA 2026-11-26)."""
    p = _ready(api, practice)
    second_pharmacist = api.add_pharmacist(practice.pharmacy)
    headers = [api.headers(who) for who in (practice.pharmacist, second_pharmacist)]
    body = {**api.lookup(p, practice.pharmacy), "days_supply": 30, "quantity": 60}
    results = at_once(app, [lambda c, h=headers[i % 2]: c.post("/api/v1/authorizations", json=body, headers=h)
                             for i in range(6)])
    statuses = sorted(status for status, _ in results)
    assert statuses == [201] + [409] * 5, results
    assert all("ALREADY_AUTHORIZED" in codes(b) for status, b in results if status == 409)
    assert count_rows(app, "authorizations")["authorizations"] == 1
    verified = api.call("GET", "/admin/audit/verify", as_=practice.admin, expect=200).get_json()
    assert verified["ok"] is True, verified


def test_concurrent_checks_and_reads_all_answer_and_keep_one_chain(app, api, practice):
    """R-AUD-1: every check and read is audited; many at once (two pharmacists of one pharmacy and the
    prescriber) all get their answer, and the chain stays one valid sequence, on both databases."""
    p = _ready(api, practice)
    second_pharmacist = api.add_pharmacist(practice.pharmacy)
    query = api.lookup(p, practice.pharmacy)
    pharmacists = [api.headers(who) for who in (practice.pharmacist, second_pharmacist)]
    prescriber = api.headers(practice.prescriber.email)
    calls = []
    for i in range(10):
        calls.append(lambda c, h=pharmacists[i % 2]: c.get("/api/v1/eligibility", query_string=query, headers=h))
        calls.append(lambda c: c.get(f"/api/v1/patients/{p.rems_id}", headers=prescriber))
    results = at_once(app, calls)
    assert [status for status, _ in results] == [200] * 20, [r for r in results if r[0] != 200]
    assert all(body["eligible"] is True for _, body in results[::2])
    verified = api.call("GET", "/admin/audit/verify", as_=practice.admin, expect=200).get_json()
    assert verified["ok"] is True, verified


def test_concurrent_closes_of_a_pregnancy_case_close_it_once(app, api, practice, factory):
    """R-PT-4: a registry case is closed once, with one reason. Two administrators closing it at the
    same moment both read it open and both wrote (the later reason won, two 'closed' audit entries);
    the case row is now locked, so the second is told it is already closed."""
    from sqlalchemy import func, select

    from rems.extensions import db
    from rems.models import AuditEntry, PregnancyCase

    p = api.enroll(practice.prescriber, "can_get_pregnant")
    api.test(p, "screening", 0, result="positive")
    case_id = db.session.execute(select(PregnancyCase.id)).scalar_one()
    admins = [practice.admin, factory.admin().email]
    headers = [api.headers(a) for a in admins]
    results = at_once(app, [lambda c, i=i: c.post(f"/api/v1/admin/pregnancy-cases/{case_id}/close",
                                                   json={"reason": f"closed by admin {i}"}, headers=headers[i % 2])
                             for i in range(4)])
    statuses = sorted(status for status, _ in results)
    assert statuses == [200, 409, 409, 409], results
    winner = next(body for status, body in results if status == 200)
    db.session.expire_all()
    assert db.session.get(PregnancyCase, case_id).close_reason == winner["reason"]
    closes = db.session.execute(select(func.count()).select_from(AuditEntry)
                                .where(AuditEntry.action == "pregnancy_case.closed")).scalar()
    assert closes == 1
