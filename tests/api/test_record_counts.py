"""The 201 of a visit, a pregnancy test or contraception says whether the record counts, with the
engine's reasons when it does not (workflows.records), as the OpenAPI document declares."""

from __future__ import annotations

import pytest

from tests.api.helpers import V1

RECORD_PATHS = ("visits", "contraception", "pregnancy-tests")


def _schema(client, path: str) -> dict:
    doc = client.get(f"{V1}/openapi.json").get_json()
    op = doc["paths"][f"{V1}/patients/{{rems_id}}/{path}"]["post"]
    return op["responses"]["201"]["content"]["application/json"]["schema"]


def _conforms(body, schema) -> None:
    """The subset of JSON Schema the response declares: object, array, integer, boolean, string."""
    kind = schema["type"]
    if kind == "object":
        assert isinstance(body, dict) and set(schema["required"]) <= set(body), (body, schema["required"])
        for name, sub in schema["properties"].items():
            if name in body:
                _conforms(body[name], sub)
    elif kind == "array":
        assert isinstance(body, list)
        for item in body:
            _conforms(item, schema["items"])
    elif kind == "integer":
        assert isinstance(body, int) and not isinstance(body, bool)
    else:
        assert isinstance(body, {"boolean": bool, "string": str}[kind]), (body, kind)


def _recorded(resp, client, path: str) -> dict:
    body = resp.get_json()
    _conforms(body, _schema(client, path))
    assert set(body) == {"id", "counts", "not_counted_reasons"}
    assert body["counts"] is (body["not_counted_reasons"] == [])
    return body


@pytest.mark.parametrize("path", RECORD_PATHS)
def test_openapi_declares_the_verdict_of_each_record(client, path):
    schema = _schema(client, path)
    assert schema["required"] == ["id", "counts", "not_counted_reasons"]
    assert schema["properties"]["counts"]["type"] == "boolean"
    assert schema["properties"]["not_counted_reasons"]["items"]["required"] == ["code", "message"]


def test_r_con_2_r_pt_2_confirmation_test_too_early_does_not_count_then_one_that_does(api, practice, client, go):
    p = api.enroll(practice.prescriber, "can_get_pregnant")
    contraception = _recorded(api.contraception(p, -10), client, "contraception")
    assert contraception["counts"] is True  # R-CON-1 (the lead-in, R-CON-2, still runs)
    assert _recorded(api.test(p, "screening", 0), client, "pregnancy-tests")["counts"] is True  # R-PT-2

    early = _recorded(api.test(p, "confirmation", 0), client, "pregnancy-tests")
    assert early["counts"] is False
    reasons = {r["code"]: r["message"] for r in early["not_counted_reasons"]}
    assert set(reasons) == {"CONTRACEPTION_LEAD_IN_INCOMPLETE", "CONFIRMATION_TEST_TOO_EARLY"}
    assert "is too early" in reasons["CONTRACEPTION_LEAD_IN_INCOMPLETE"]
    status = {r["code"]: r["message"] for r in api.status(p)["reasons"]}
    assert all(status.get(code) == message for code, message in reasons.items())  # the engine's own words

    go(20)  # >= 19 days after screening (R-PT-2), >= 30 after contraception started (R-CON-2)
    ok = _recorded(api.test(p, "confirmation", 20), client, "pregnancy-tests")
    assert ok["counts"] is True and ok["not_counted_reasons"] == []


def test_r_pat_4_visit_without_counseling_does_not_count(api, practice, client):
    p = api.enroll(practice.prescriber, "can_get_pregnant")
    plain = _recorded(api.visit(p, 0, counseled=False), client, "visits")
    assert plain["counts"] is False
    assert [r["code"] for r in plain["not_counted_reasons"]] == ["COUNSELING_REQUIRED"]
    counseled = _recorded(api.visit(p, 0, counseled=True), client, "visits")
    assert counseled["counts"] is True and counseled["id"] != plain["id"]


def test_r_cyc_3_visit_entered_after_its_window_closed_does_not_count(api, practice, client):
    p = api.enroll(practice.prescriber, "cannot_get_pregnant")
    late = _recorded(api.visit(p, -40, counseled=True), client, "visits")
    assert late["counts"] is False
    assert [r["code"] for r in late["not_counted_reasons"]] == ["VISIT_REQUIRED"]
    assert "it cannot open a window" in late["not_counted_reasons"][0]["message"]


def test_r_cyc_1_visit_dated_before_the_cycle_names_both_dates(api, practice, client, go):
    """A visit dated before the current cycle's first day is recorded but counts for nothing; the
    answer says so with the dates, not "the prescriber has not confirmed this month's visit"."""
    p = api.enroll(practice.prescriber, "cannot_get_pregnant")
    assert _recorded(api.visit(p, 0), client, "visits")["counts"] is True
    go(10)
    assert api.authorize(practice.pharmacist, p, practice.pharmacy).status_code == 201  # cycle 2 from day 10
    early = _recorded(api.visit(p, 9, counseled=False), client, "visits")
    assert early["counts"] is False
    [reason] = early["not_counted_reasons"]
    assert reason["code"] == "VISIT_REQUIRED"
    assert reason["message"].startswith("The visit of ") and "is dated before this cycle began on" in reason["message"]
    assert "has not confirmed" not in reason["message"]
    assert _recorded(api.visit(p, 10, counseled=False), client, "visits")["counts"] is True


def test_r_pt_4_positive_test_counts(api, practice, client):
    p = api.enroll(practice.prescriber, "can_get_pregnant")
    positive = _recorded(api.test(p, "screening", 0, result="positive"), client, "pregnancy-tests")
    assert positive["counts"] is True and positive["not_counted_reasons"] == []
    assert api.status(p)["course_status"] == "pregnancy_reported"


def test_refused_record_is_still_a_problem_not_a_verdict(api, practice):
    """Bad input keeps its 4xx problem+json; nothing is recorded to judge."""
    p = api.enroll(practice.prescriber, "cannot_get_pregnant")
    resp = api.test(p, "screening", 0, expect=422)  # R-PAT-2: tests are for CGP patients only
    assert resp.mimetype == "application/problem+json" and "counts" not in resp.get_json()
    bad = api.call("POST", f"/patients/{p.rems_id}/visits", as_=p.prescriber.email,
                   json={"visit_date": "2026-02-30", "counseled": "yes", "signature": api.sig()}, expect=422)
    assert {e["field"] for e in bad.get_json()["errors"]} == {"visit_date", "counseled"}
