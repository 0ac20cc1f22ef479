"""Administration on the API (R-ADMIN-1): optimistic concurrency is opt-in (an optional `version`), a
status change that does not apply is 409 STATUS_CHANGE_NOT_ALLOWED, and concurrent administrators
acting on one version change the object once, on both databases."""

from __future__ import annotations

from sqlalchemy import func, select

from rems.extensions import db
from rems.models import AuditEntry
from tests.api.helpers import at_once


def _users(api, admin):
    return {u["email"]: u for u in api.call("GET", "/admin/users", as_=admin, expect=200).get_json()["users"]}


def _question(api, admin, index=0):
    return api.call("GET", "/admin/comprehension-questions", as_=admin, expect=200).get_json()["questions"][index]


def _entries(action: str) -> int:
    return db.session.execute(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action)).scalar()


def test_a_question_edit_with_a_stale_version_is_409_and_without_one_is_saved(api, practice, factory):
    """The contract's PUT (no version) saves as before; with the version it was decided on, an edit made
    meanwhile is not overwritten: 409 VERSION_CONFLICT naming what changed, with the current version."""
    q = _question(api, practice.admin)
    body = {k: q[k] for k in ("text", "explanation", "choices", "active")}
    path = f"/admin/comprehension-questions/{q['id']}"
    first = api.call("PUT", path, as_=practice.admin, json=dict(body, explanation="First.", version=q["version"]),
                     expect=200).get_json()
    assert first["version"] != q["version"] and first["explanation"] == "First."
    stale = api.call("PUT", path, as_=practice.admin, json=dict(body, explanation="Second.", version=q["version"]))
    problem = stale.get_json()
    assert stale.status_code == 409 and stale.mimetype == "application/problem+json"
    assert problem["code"] == "VERSION_CONFLICT" and problem["version"] == first["version"]
    assert "since you opened this page: the explanation. Review and try again." in problem["detail"]
    assert _question(api, practice.admin)["explanation"] == "First."
    assert api.call("PUT", path, as_=practice.admin, json=dict(body, explanation="Third."), expect=200)
    assert _question(api, practice.admin)["explanation"] == "Third."


def test_a_status_change_with_a_stale_version_is_409_and_without_one_applies(api, practice):
    users = _users(api, practice.admin)
    pres = users[practice.prescriber.email]
    assert pres["status_changes"] == ["suspended", "revoked"] and pres["version"].startswith("active.certified.")
    path = f"/admin/users/{pres['id']}/status"
    done = api.call("POST", path, as_=practice.admin, json={"status": "suspended", "reason": "x",
                                                             "version": pres["version"]}, expect=200).get_json()
    assert done["status"] == "suspended" and done["status_changes"] == ["active", "revoked"]
    stale = api.call("POST", path, as_=practice.admin, json={"status": "revoked", "reason": "y",
                                                              "version": pres["version"]})
    assert stale.status_code == 409 and stale.get_json()["code"] == "VERSION_CONFLICT"
    assert stale.get_json()["version"] == done["version"]
    assert _users(api, practice.admin)[practice.prescriber.email]["prescriber_status"] == "suspended"
    api.call("POST", path, as_=practice.admin, json={"status": "revoked", "reason": "y"}, expect=200)
    again = api.call("POST", path, as_=practice.admin, json={"status": "revoked", "reason": "z"})
    assert again.status_code == 409 and again.get_json()["code"] == "STATUS_CHANGE_NOT_ALLOWED"
    assert "certification is already revoked" in again.get_json()["detail"]


def test_the_openapi_document_states_the_optional_version(api):
    doc = api.client.get("/api/v1/openapi.json").get_json()
    for path, method in (("/api/v1/admin/comprehension-questions/{question_id}", "put"),
                         ("/api/v1/admin/users/{user_id}/status", "post")):
        schema = doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        assert "version" in schema["properties"] and "version" not in schema["required"], path
        assert "VERSION_CONFLICT" in schema["properties"]["version"]["description"]


def test_concurrent_edits_of_one_question_version_save_one(app, api, practice, factory):
    """R-ADMIN-1: administrators saving the same version at once: the question row is locked and read
    again under the lock, so one edit is saved and the others are told (409), never overwritten."""
    admins = [practice.admin, factory.admin().email]
    headers = [api.headers(a) for a in admins]
    q = _question(api, practice.admin, 1)
    body = {k: q[k] for k in ("text", "explanation", "choices", "active")}
    before = _entries("question.saved")
    path = f"/api/v1/admin/comprehension-questions/{q['id']}"
    results = at_once(app, [lambda c, i=i: c.put(path, headers=headers[i % 2], json=dict(
        body, explanation=f"Edit {i}.", version=q["version"])) for i in range(4)])
    assert sorted(status for status, _ in results) == [200, 409, 409, 409], results
    winner = next(b for status, b in results if status == 200)
    assert all(b["code"] == "VERSION_CONFLICT" for status, b in results if status == 409)
    assert _question(api, practice.admin, 1)["explanation"] == winner["explanation"]
    db.session.expire_all()
    assert _entries("question.saved") == before + 1


def test_concurrent_status_changes_on_one_version_apply_one(app, api, practice, factory):
    """Two administrators suspend and revoke the same account at once, each on the version they saw:
    the account row is locked and read again, so one change applies and the other is a 409."""
    admins = [practice.admin, factory.admin().email]
    headers = [api.headers(a) for a in admins]
    pres = _users(api, practice.admin)[practice.prescriber.email]
    path = f"/api/v1/admin/users/{pres['id']}/status"
    results = at_once(app, [lambda c, i=i: c.post(path, headers=headers[i % 2], json={
        "status": ("suspended", "revoked")[i % 2], "reason": f"admin {i}", "version": pres["version"]})
        for i in range(4)])
    assert sorted(status for status, _ in results) == [200, 409, 409, 409], results
    assert all(b["code"] == "VERSION_CONFLICT" for status, b in results if status == 409)
    db.session.expire_all()
    assert _entries("account.status_changed") == 1


def test_closing_a_case_answers_who_closed_it_r_pt_4(api, practice):
    p = api.enroll(practice.prescriber, "can_get_pregnant")
    api.test(p, "screening", 0, result="positive")
    from rems.models import PregnancyCase

    case_id = db.session.execute(select(PregnancyCase.id)).scalar_one()
    path = f"/admin/pregnancy-cases/{case_id}/close"
    closed = api.call("POST", path, as_=practice.admin, json={"reason": "done"}, expect=200).get_json()
    assert closed["closed_by"]["name"] == "Program Administrator" and closed["closed_by"]["role"] == "admin"
    again = api.call("POST", path, as_=practice.admin, json={"reason": "again"}).get_json()
    assert again["code"] == "CONFLICT" and again["detail"].startswith(
        "This case is already closed by Program Administrator (administrator) at ")
