"""Idempotency-Key replays and concurrent authorizations (R-RMA-2: one RMA per cycle, whatever the race)."""

from __future__ import annotations

import threading

import pytest

from tests.api.helpers import codes, count_rows
from tests.support import backends


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


@pytest.mark.postgres
def test_concurrent_authorizations_issue_one_rma(app, api, practice, backend):
    backends.require("postgres")
    if backend != "postgres":
        pytest.skip("row locks are a PostgreSQL matter; SQLite serialises writers")
    p = _ready(api, practice)
    second_pharmacist = api.add_pharmacist(practice.pharmacy)
    headers = {who: api.headers(who) for who in (practice.pharmacist, second_pharmacist)}
    body = {**api.lookup(p, practice.pharmacy), "days_supply": 30, "quantity": 60}
    barrier = threading.Barrier(2)
    results: dict[str, tuple[int, dict]] = {}

    def request(who: str) -> None:
        with app.app_context():  # each thread: its own app context, session and test client
            client = app.test_client()
            barrier.wait()
            resp = client.post("/api/v1/authorizations", json=body, headers=headers[who])
            results[who] = (resp.status_code, resp.get_json())
            from rems.extensions import db

            db.session.remove()

    threads = [threading.Thread(target=request, args=(who,)) for who in headers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [201, 409], results
    refused = next(body for status, body in results.values() if status == 409)
    assert "ALREADY_AUTHORIZED" in codes(refused)
    assert count_rows(app, "authorizations")["authorizations"] == 1
