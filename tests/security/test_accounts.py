"""Accounts: argon2id, the password policy, lockout, per-address limits and no user enumeration
(api.md Conventions; 21 CFR 11.300; HIPAA 164.312(d); ASVS V2)."""
from __future__ import annotations

import pytest
from argon2 import Type, extract_parameters

from tests.support.factories import PASSWORD

V1 = "/api/v1"
WRONG = "not the right password"


def _sign_in(client, email, password=PASSWORD, addr="198.51.100.7"):
    return client.post(f"{V1}/auth/token", json={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def _assert_429(resp):
    assert resp.status_code == 429
    assert resp.mimetype == "application/problem+json"
    assert resp.get_json()["code"] == "RATE_LIMITED"
    assert int(resp.headers["Retry-After"]) > 0
    retry_after = resp.get_json().get("retry_after")
    if retry_after is not None:  # an account lockout: the header and the body name the same wait
        assert int(resp.headers["Retry-After"]) == retry_after


def test_a_successful_sign_in_carries_no_retry_after(client, factory):
    user = factory.admin()
    resp = _sign_in(client, user.email)
    assert resp.status_code == 201 and "Retry-After" not in resp.headers


def test_passwords_are_argon2id_with_owasp_parameters(app):
    from rems.security.passwords import hash_password, verify_password

    app.config["PASSWORD_HASH_FAST"] = False
    stored = hash_password(PASSWORD)
    params = extract_parameters(stored)
    assert params.type is Type.ID
    assert (params.memory_cost, params.time_cost, params.parallelism) == (19 * 1024, 2, 1)
    assert verify_password(stored, PASSWORD) and not verify_password(stored, WRONG)
    assert PASSWORD not in stored


@pytest.mark.parametrize("password, fragment", [
    ("short", "at least 12"), ("password1234", "too common"), ("aaaaaaaaaaaaaa", "too common"),
    ("x" * 129, "at most 128"), ("doctor@example.org", "email")])
def test_password_policy_refuses_weak_passwords(password, fragment):
    from rems.security.passwords import password_problems

    assert any(fragment in p for p in password_problems(password, "doctor@example.org"))
    assert password_problems("a long and unusual passphrase", "doctor@example.org") == []


def test_weak_password_is_refused_at_registration(client):
    resp = client.post(f"{V1}/prescribers", json={
        "email": "weak@example.org", "password": "password1234", "first_name": "W", "last_name": "K",
        "npi": "1234567893", "license_state": "NY", "license_number": "1"})
    assert resp.status_code == 422 and resp.mimetype == "application/problem+json"


def test_unknown_email_and_wrong_password_answer_alike(client, factory):
    user = factory.admin()
    suspended = factory.prescriber()
    from rems.extensions import db

    suspended.user.status = "suspended"
    db.session.commit()
    answers = [_sign_in(client, user.email, WRONG), _sign_in(client, "nobody@example.org", WRONG),
               _sign_in(client, suspended.user.email, WRONG)]
    assert {r.status_code for r in answers} == {401}
    assert len({r.get_data() for r in answers}) == 1
    assert answers[0].get_json()["code"] == "INVALID_CREDENTIALS"
    # only the right password learns that the account is suspended (and nothing else does)
    right = _sign_in(client, suspended.user.email, PASSWORD)
    assert right.status_code == 403 and right.get_json()["code"] == "ACCOUNT_SUSPENDED"


def test_unknown_email_and_wrong_password_do_the_same_hashing_work(app, client, factory, monkeypatch):
    """One argon2 operation either way, so response time does not tell accounts apart."""
    from rems.security import passwords

    user = factory.admin()
    calls = []
    real = passwords._hasher()

    class Counting:
        def hash(self, *a, **k):
            calls.append("hash")
            return real.hash(*a, **k)

        def verify(self, *a, **k):
            calls.append("verify")
            return real.verify(*a, **k)

    monkeypatch.setattr(passwords, "_hasher", lambda: Counting())
    _sign_in(client, user.email, WRONG)
    known = len(calls)
    calls.clear()
    _sign_in(client, "nobody@example.org", WRONG)
    assert known == len(calls) == 1


def test_ten_failures_lock_the_account_with_429_then_the_lock_expires(client, factory, travel):
    """api.md: after 10 failures in 15 minutes that account answers 429 for a while."""
    victim, bystander = factory.admin(), factory.admin()
    for _ in range(10):
        assert _sign_in(client, victim.email, WRONG).status_code == 401
    _assert_429(_sign_in(client, victim.email, PASSWORD))  # even the right password, from anywhere
    _assert_429(_sign_in(client, victim.email, PASSWORD, addr="192.0.2.55"))
    assert _sign_in(client, bystander.email).status_code == 201  # same address, other account: unaffected
    travel(1)
    assert _sign_in(client, victim.email).status_code == 201


def test_lockout_grows_with_repeated_lockouts(app, factory, travel):
    from rems.clock import now
    from rems.security import limits
    from rems.services.accounts import find_user

    user = factory.admin()
    for _ in range(10):
        limits.note_failure(user)
    first = find_user(user.email).locked_until - now()
    travel(1)
    limits._strategy().clear(limits.WINDOW, limits._key(user))  # a new 15-minute window
    for _ in range(10):
        limits.note_failure(user)
    assert find_user(user.email).locked_until - now() > first


def test_unknown_email_is_locked_like_a_real_account(client):
    """A lockout must not reveal that an account exists."""
    for _ in range(10):
        assert _sign_in(client, "ghost@example.org", WRONG).status_code == 401
    _assert_429(_sign_in(client, "ghost@example.org", WRONG))


def test_signing_failures_lock_signing(client, factory, token_for):
    prescriber = factory.prescriber()
    patient = factory.patient(prescriber)
    headers = token_for(prescriber.user)
    from rems.clock import today

    body = {"visit_date": today().isoformat(), "counseled": True, "signature": {"password": WRONG}}
    for _ in range(10):
        resp = client.post(f"{V1}/patients/{patient.rems_id}/visits", json=body, headers=headers)
        assert resp.status_code == 401 and resp.get_json()["code"] == "SIGNATURE_INVALID"
    body["signature"] = {"password": PASSWORD}
    _assert_429(client.post(f"{V1}/patients/{patient.rems_id}/visits", json=body, headers=headers))


def test_per_address_limit_answers_429_and_spares_other_addresses(app, client, factory):
    app.config["RATELIMIT_ADDRESS"] = "5 per 15 minutes"  # the level is configurable; default below
    user = factory.admin()
    for _ in range(5):
        assert _sign_in(client, user.email, addr="198.51.100.20").status_code == 201
    _assert_429(_sign_in(client, user.email, addr="198.51.100.20"))
    assert _sign_in(client, user.email, addr="198.51.100.21").status_code == 201
    resp = client.post(f"{V1}/activate", json={"activation_code": "AAAA-BBBB-CCCC", "password": PASSWORD},
                       environ_base={"REMOTE_ADDR": "198.51.100.20"})
    assert resp.status_code == 400  # activation counts in its own group


def test_per_address_default_is_one_no_pharmacy_meets():
    """At least 1,000 requests per 15 minutes per address (api.md)."""
    from limits import parse

    from rems.security.ratelimit import DEFAULT_ADDRESS_LIMIT

    item = parse(DEFAULT_ADDRESS_LIMIT)
    assert item.amount / item.get_expiry() >= 1000 / (15 * 60)


def test_sign_in_activation_and_signing_endpoints_are_rate_limited(app):
    from rems.security.ratelimit import limited_endpoints

    groups = limited_endpoints(app)
    assert groups["api.create_token"] == "sign-in" and groups["api.activate"] == "activation"
    signing = {name for name, group in groups.items() if group == "signing" and name.startswith("api.")}
    assert groups["auth.sign_in"] == "sign-in" and groups["auth.activate"] == "activation"
    assert groups["prescriber.record"] == groups["patient.monthly"] == "signing"
    assert signing == {"api.visits", "api.consent", "api.attestations", "api.attest_prescriber",
                       "api.attest_pharmacy"}
    assert groups["api.register_prescriber"] == groups["api.register_pharmacy"] == "registration"


def test_activation_errors_are_identical(client, factory):
    patient = factory.patient(activated=False)
    wrong_dob = client.post(f"{V1}/activate", json={"activation_code": patient.activation_code,
                                                    "password": PASSWORD, "date_of_birth": "1990-01-01"})
    unknown = client.post(f"{V1}/activate", json={"activation_code": "ZZZZ-ZZZZ-ZZZZ", "password": PASSWORD,
                                                  "date_of_birth": "1990-01-01"})
    assert wrong_dob.status_code == unknown.status_code == 400
    assert wrong_dob.get_data() == unknown.get_data()
