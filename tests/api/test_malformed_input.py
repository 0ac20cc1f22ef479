"""No malformed input yields a 500 (api.md conventions): every endpoint with a body, fed wrong types,
missing fields, absurd dates, oversize and NUL strings, unknown enum values, non-JSON and non-object
bodies, answers 400 or 422 naming the field, and writes nothing."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.test_access_matrix import MATRIX, ROLES, A
from tests.api.test_access_matrix import world as world  # noqa: F401  (the fixture)

CHANGED = "SELECT " + " + ".join(
    f"(SELECT count(*) FROM {t})"
    for t in (
        "users",
        "prescribers",
        "pharmacies",
        "pharmacy_members",
        "patients",
        "courses",
        "visits",
        "contraception_records",
        "pregnancy_tests",
        "attestations",
        "attestation_failures",
        "authorizations",
        "signatures",
        "documents",
        "category_changes",
        "pregnancy_cases",
        "comprehension_questions",
        "idempotency_records",
        "activation_codes",
    )
)


def _rows(app) -> int:
    import sqlalchemy as sa

    from rems.extensions import db

    with db.engine.connect() as conn:
        return conn.execute(sa.text(CHANGED)).scalar_one()


def _spec(method: str, rule: str):
    import rems.api.routes  # noqa: F401  (registers the endpoints)
    from rems.api import ENDPOINTS

    return next(ep for ep in ENDPOINTS if ep.method == method and ep.rule == rule)


BODY_ENDPOINTS = [k for k in MATRIX if _spec(*k).body is not None]


def _caller(key, world, token_for):
    expected = MATRIX[key][0]
    role = next(r for r in ROLES if expected[r] == A)
    return {} if role == "anonymous" else token_for(world.emails[role])


def _bad_values(spec):
    """(label, value) pairs that the field `spec` must refuse."""
    t = spec.type
    out = [("number", 12345), ("bool", True), ("list", ["x"]), ("object", {"a": 1})]
    if t in ("string", "email", "date"):
        out = [v for v in out]
        if spec.min_len:
            out += [("empty", ""), ("blank", "   ")]
        if spec.max_len:
            out.append(("oversize", "x" * (spec.max_len + 1)))
        out.append(("nul", "ab\x00cd"))
        if spec.enum:
            out.append(("enum", "definitely_not_" + spec.enum[0]))
        if t == "date":
            out += [
                ("feb30", "2026-02-30"),
                ("y99999", "99999-01-01"),
                ("empty", ""),
                ("words", "yesterday"),
                ("datetime", "2026-01-01T00:00:00"),
            ]
        if t == "email":
            out += [("no-at", "not-an-email"), ("long", "a" * 250 + "@example.org")]
    elif t == "integer":
        out = [("string", "30"), ("float", 1.5), ("bool", True), ("huge", 10**40), ("list", [1])]
        if spec.minimum is not None:
            out.append(("below", spec.minimum - 1))
        if spec.maximum is not None:
            out.append(("above", spec.maximum + 1))
    elif t == "boolean":
        out = [("string", "true"), ("number", 1), ("list", [True])]
    elif t == "object":
        out = [("string", "x"), ("list", [{"a": 1}]), ("number", 1)]
    elif t == "array":
        out = [("string", "iud"), ("object", {"a": 1}), ("number", 1)]
        if spec.max_items:
            out.append(("too-many", ["iud"] * (spec.max_items + 1)))
    return out


def _fields(props: dict, body: dict, prefix=""):
    """Every (path, spec, setter-target) of the valid body, nested objects included."""
    for name, spec in props.items():
        if name not in body:
            continue
        yield prefix + name, spec, body, name
        if spec.type == "object" and spec.props and isinstance(body[name], dict):
            yield from _fields(spec.props, body[name], prefix + name + ".")


def _mutations(props: dict, valid: dict):
    for path, spec, _, _ in list(_fields(props, valid)):
        for label, value in _bad_values(spec):
            yield f"{path}={label}", path, _set(valid, path, value)
        if spec.required:
            yield f"{path}=missing", path, _set(valid, path, _MISSING)
            yield f"{path}=null", path, _set(valid, path, None)


_MISSING = object()


def _set(body: dict, path: str, value):
    out = json.loads(json.dumps(body))
    target = out
    *parents, leaf = path.split(".")
    for p in parents:
        target = target[p]
    if value is _MISSING:
        del target[leaf]
    else:
        target[leaf] = value
    return out


def _names_field(resp, path: str) -> bool:
    fields = [e["field"] for e in resp.get_json().get("errors", [])]
    return any(f == path or f.startswith(path + "[") or f.startswith(path + ".") for f in fields)


@pytest.mark.parametrize("key", BODY_ENDPOINTS, ids=[f"{m} {r}" for m, r in BODY_ENDPOINTS])
def test_every_bad_field_is_refused_and_named(key, world, client, token_for, app):  # noqa: F811
    method, rule = key
    _, path_of, body_of = MATRIX[key]
    spec = _spec(method, rule)
    path = "/api/v1" + (path_of(world) if path_of else rule)
    headers = _caller(key, world, token_for)
    valid = body_of(world)
    before = _rows(app)
    problems = []
    for label, field, body in _mutations(spec.body, valid):
        resp = client.open(path, method=method, json=body, headers=headers)
        if resp.status_code != 422 or not _names_field(resp, field):
            problems.append((label, resp.status_code, resp.get_json()))
        elif resp.mimetype != "application/problem+json":
            problems.append((label, "mimetype", resp.mimetype))
    assert not problems, problems[:5]
    assert _rows(app) == before


RAW = [
    ("text", b"rems_id=1", "text/plain"),
    ("broken-json", b'{"a": ', "application/json"),
    ("array", b"[]", "application/json"),
    ("array-of-object", b'[{"reason": "x"}]', "application/json"),
    ("null", b"null", "application/json"),
    ("string", b'"hello"', "application/json"),
    ("number", b"42", "application/json"),
    ("binary", b"\xff\xfe\x00\x01", "application/octet-stream"),
    ("huge-int", b'{"x": ' + b"9" * 5000 + b"}", "application/json"),
    ("deep", b"[" * 100_000 + b"]" * 100_000, "application/json"),
    ("nan", b'{"days_supply": NaN}', "application/json"),
    # a lone surrogate escape is JSON but not Unicode: it reached psycopg and gave a 500
    ("surrogate", b'{"reason": "\\ud800", "first_name": "a\\udfff", "email": "\\ud800@x.org"}', "application/json"),
    ("surrogate-key", b'{"\\ud800": 1}', "application/json"),
    ("json-as-text", b'{"reason": "x"}', "text/plain"),
    ("json-as-form", b'{"reason": "x"}', "application/x-www-form-urlencoded"),
]


@pytest.mark.parametrize("key", BODY_ENDPOINTS, ids=[f"{m} {r}" for m, r in BODY_ENDPOINTS])
def test_non_object_bodies_are_400(key, world, client, token_for, app):  # noqa: F811
    method, rule = key
    path_of = MATRIX[key][1]
    path = "/api/v1" + (path_of(world) if path_of else rule)
    headers = _caller(key, world, token_for)
    before = _rows(app)
    for label, data, ctype in [*RAW, ("empty", b"", "application/json")]:
        resp = client.open(path, method=method, data=data, content_type=ctype, headers=headers)
        assert resp.status_code == 400, (label, resp.status_code, resp.get_json())
        assert resp.mimetype == "application/problem+json"
    assert _rows(app) == before


def test_oversize_values_named_in_api_md(world, client, token_for, app):  # noqa: F811
    """The limits api.md names: names 100, reason 1,000, procedure 4,000 characters."""
    pres = token_for(world.emails["prescriber"])
    before = _rows(app)
    cases = [
        (
            "/api/v1/patients",
            {
                "first_name": "n" * 101,
                "last_name": "Ok",
                "date_of_birth": "2000-01-01",
                "email": "big@example.org",
                "category": "can_get_pregnant",
            },
            "first_name",
        ),
        (
            f"/api/v1/patients/{world.rems_id}/category",
            {"category": "cannot_get_pregnant", "reason": "r" * 1001},
            "reason",
        ),
        (
            f"/api/v1/patients/{world.rems_id}/home-testing",
            {"enabled": True, "procedure": "p" * 4001},
            "procedure",
        ),
    ]
    for path, body, field in cases:
        resp = client.post(path, json=body, headers=pres)
        assert resp.status_code == 422 and _names_field(resp, field), resp.get_json()
    assert _rows(app) == before


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
    | st.sampled_from(["2026-02-30", "99999-01-01", "", "\x00", "1999-03-14", "iud"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


@pytest.mark.parametrize(
    "key",
    [
        ("POST", "/authorizations"),
        ("POST", "/patients"),
        ("POST", "/patients/<rems_id>/visits"),
        ("POST", "/me/attestations"),
    ],
    ids=lambda k: f"{k[0]} {k[1]}",
)
def test_generated_bodies_never_500(key, world, client, token_for, app):  # noqa: F811
    method, rule = key
    _, path_of, body_of = MATRIX[key]
    path = "/api/v1" + (path_of(world) if path_of else rule)
    headers = _caller(key, world, token_for)
    valid = body_of(world)
    fields = st.fixed_dictionaries({}, optional={k: JSON for k in valid})
    mixed = st.builds(lambda extra, base: {**base, **extra}, fields, st.just(valid))

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=JSON | mixed)
    def check(body):
        before = _rows(app)
        resp = client.open(path, method=method, json=body, headers=headers)
        assert resp.status_code < 500, (body, resp.get_json())
        if resp.status_code >= 400:
            assert resp.status_code in (400, 401, 409, 422), (body, resp.status_code, resp.get_json())
            if resp.get_json()["code"] != "COMPREHENSION_FAILED":  # R-ATT-2 counts a failed attempt
                assert _rows(app) == before, body

    check()


def test_eligibility_query_errors_name_the_field(world, client, token_for, app):  # noqa: F811
    headers = token_for(world.emails["pharmacist"])
    good = {
        "rems_id": world.ccgp_rems_id,
        "date_of_birth": "2000-05-17",
        "prescriber_npi": world.npi,
        "pharmacy_ncpdp_id": world.ncpdp,
    }
    for field, value in (
        ("date_of_birth", "2026-02-30"),
        ("date_of_birth", "99999-01-01"),
        ("date_of_birth", ""),
        ("rems_id", "9" * 13),
        ("pharmacy_ncpdp_id", "1" * 8),
        ("prescriber_npi", ""),
    ):
        resp = client.get("/api/v1/eligibility", query_string={**good, field: value}, headers=headers)
        assert resp.status_code == 422 and _names_field(resp, field), (field, value, resp.get_json())
    for field in good:
        query = {k: v for k, v in good.items() if k != field}
        resp = client.get("/api/v1/eligibility", query_string=query, headers=headers)
        assert resp.status_code == 422 and _names_field(resp, field)
