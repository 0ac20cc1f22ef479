"""The dispense path and the role pages run a constant, small number of SQL statements.

A `before_cursor_execute` listener on the engine counts every statement the request sends
(reads, the audit write of R-AUD-1 with its chain lock, the RMA insert): a statement per record or
per patient would show up as a count that grows with the history or the patient list.
"""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event

from rems.extensions import db
from tests.perf.builders import bulk_patients
from tests.support.factories import PASSWORD

DISPENSE_MAX = 8
PAGE_MAX = 10


@contextlib.contextmanager
def counting():
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)


def _fresh_request_state():
    """Each request must start cold, as in a server process: nothing cached in the session."""
    db.session.expire_all()
    db.session.remove()


@pytest.fixture
def dispensing_world(factory, token_for):
    prescriber = factory.prescriber()
    pharmacy, rsp = factory.pharmacy()
    short = bulk_patients(prescriber, pharmacy, rsp, 1, cycles=1)[0]
    long = bulk_patients(prescriber, pharmacy, rsp, 1, cycles=12)[0]
    headers = token_for(rsp)
    lookup = {"prescriber_npi": prescriber.npi, "pharmacy_ncpdp_id": pharmacy.ncpdp_id}
    return headers, lookup, short, long


def _lookup(lookup, patient):
    return {**lookup, "rems_id": patient["rems_id"], "date_of_birth": patient["date_of_birth"].isoformat()}


def test_eligibility_statement_count_is_constant_in_history_length(client, dispensing_world):
    """R-AUD-1 audit write included: the check reads and writes in a fixed number of statements."""
    headers, lookup, short, long = dispensing_world
    counts = []
    for patient in (short, long):
        _fresh_request_state()
        with counting() as statements:
            resp = client.get("/api/v1/eligibility", query_string=_lookup(lookup, patient), headers=headers)
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json()["eligible"] is True, resp.get_json()
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[0] <= DISPENSE_MAX, statements


def test_authorization_statement_count_is_constant_in_history_length(client, dispensing_world):
    headers, lookup, short, long = dispensing_world
    counts = []
    for patient in (short, long):
        _fresh_request_state()
        with counting() as statements:
            resp = client.post(
                "/api/v1/authorizations",
                headers=headers,
                json={**_lookup(lookup, patient), "days_supply": 30, "quantity": 60},
            )
        assert resp.status_code == 201, resp.get_json()
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[0] <= DISPENSE_MAX, statements


def test_refused_authorization_statement_count(client, dispensing_world):
    """A refusal (R-RMA-2: already authorized) is audited too and stays within the budget."""
    headers, lookup, short, _ = dispensing_world
    body = {**_lookup(lookup, short), "days_supply": 30, "quantity": 60}
    assert client.post("/api/v1/authorizations", headers=headers, json=body).status_code == 201
    _fresh_request_state()
    with counting() as statements:
        resp = client.post("/api/v1/authorizations", headers=headers, json=body)
    assert resp.status_code == 409
    assert "ALREADY_AUTHORIZED" in [r["code"] for r in resp.get_json()["reasons"]]
    assert len(statements) <= DISPENSE_MAX, statements


def test_trivial_endpoint_is_one_statement(client, login_as):
    """GET /api/v1/ping: the bearer token and its user in one statement (the benchmark's baseline)."""
    headers = login_as("pharmacist")
    _fresh_request_state()
    with counting() as statements:
        resp = client.get("/api/v1/ping", headers=headers)
    assert resp.status_code == 200 and resp.get_json() == {"ok": True}
    assert len(statements) == 1, statements


ROLES = ("admin", "patient", "pharmacist", "prescriber")


@pytest.fixture
def crowded_practice(factory):
    """One prescriber with 500 patients (half with three months of history), one pharmacy."""
    prescriber = factory.prescriber()
    pharmacy, rsp = factory.pharmacy()
    bulk_patients(prescriber, pharmacy, rsp, 250, cycles=3)
    bulk_patients(prescriber, pharmacy, rsp, 250, cycles=0, eligible=False, category="cannot_get_pregnant")
    return prescriber, pharmacy, rsp


def _sign_in(client, user):
    from tests.web.conftest import Web

    web = Web(client)
    web.sign_in(user, PASSWORD)
    return web


@pytest.mark.parametrize("role", ROLES)
def test_main_page_statement_count(client, factory, crowded_practice, role):
    prescriber, pharmacy, rsp = crowded_practice
    if role == "prescriber":
        user = prescriber.user
    elif role == "pharmacist":
        user = rsp
    elif role == "patient":
        user = factory.patient(prescriber).user
    else:
        user = factory.admin()
    web, user_id = _sign_in(client, user), user.id
    home = web.get("/")  # the role's main page, as the sign-in redirect chooses it (rems.web.HOME)
    assert home.status_code == 302
    url = home.headers["Location"]
    if url.endswith("/password"):
        pytest.xfail(f"the {role} main page does not exist yet")
    web.get(url)  # warm the process (template compilation); the measured request is the second
    _fresh_request_state()
    with counting() as statements:
        resp = web.get(url)
    assert resp.status_code == 200, resp.status_code
    print(f"\n{role} main page: {len(statements)} statements")
    assert len(statements) <= PAGE_MAX, "\n".join(statements)
    if role == "prescriber":  # R-AUD-1: the count includes the worklist's audit entry, naming all 500
        assert _last_list_entry("patients.listed", user_id) == 500


def _last_list_entry(action: str, user_id: int) -> int:
    """How many patients the newest list entry of `action` names; it must be the user's and newer
    than every other entry (the measured request wrote it)."""
    from sqlalchemy import func, select

    from rems.models import AuditEntry, AuditEntryPatient

    entry = db.session.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).scalar_one()
    assert entry.action == action and entry.actor_id == user_id, (entry.action, entry.actor_id)
    indexed = db.session.execute(select(func.count()).select_from(AuditEntryPatient)
                                 .where(AuditEntryPatient.entry_id == entry.id)).scalar_one()
    assert indexed == len(entry.after["patient_ids"])
    return indexed


def test_rma_list_pages_statement_count(client, crowded_practice):
    """The pharmacist's RMA list pages back by position (keyset on recorded_at, id): the first page,
    an older one and a newer one each run the same small number of statements, whatever the
    pharmacy's 750 RMAs (many issued at one instant: the builders' shape) and however far back."""
    import html
    import re

    _, _, rsp = crowded_practice
    web, rsp_id = _sign_in(client, rsp), rsp.id

    def link(resp, label: str) -> str:
        nav = re.search(r'<nav class="pagination"[^>]*>(.*?)</nav>', resp.get_data(as_text=True), re.S).group(1)
        return html.unescape(re.search(rf'<a href="([^"]+)"[^>]*>[^<]*{label}', nav).group(1))

    def listed(resp) -> list[str]:
        return re.findall(r'<h2 class="h3">(RMA[0-9]{10})', resp.get_data(as_text=True))

    first = web.get("/pharmacy/rmas")  # warm the process (template compilation)
    second = web.get(link(first, "Older RMAs"))
    third_url = link(second, "Older RMAs")
    shown = listed(first) + listed(second)
    assert len(shown) == len(set(shown)) == 100  # keyset pages neither repeat nor skip at ties
    counts = []
    for url in ("/pharmacy/rmas", third_url, link(web.get(third_url), "Newer")):
        _fresh_request_state()
        with counting() as statements:
            resp = web.get(url)
        assert resp.status_code == 200 and len(listed(resp)) == 50, url
        counts.append(len(statements))
        assert 0 < _last_list_entry("authorizations.listed", rsp_id) <= 50  # R-AUD-1, within the count
    print(f"\nRMA list pages: {counts} statements")
    assert counts[0] == counts[1] == counts[2], counts
    assert counts[0] <= PAGE_MAX, "\n".join(statements)


def test_rma_list_page_reads_only_its_rows(client, crowded_practice, backend):
    """An RMA list page reads its 51 rows from (pharmacy_id, recorded_at, id) in order and stops
    (migration 0010), however many RMAs the pharmacy has: with the pharmacy_id index alone, every
    page read and sorted all of them (750 here). PostgreSQL's plan, EXPLAIN ANALYZE of the page's
    own statement."""
    import json

    if backend != "postgres":
        pytest.skip("PostgreSQL's plan")
    _, pharmacy, rsp = crowded_practice
    with db.engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE authorizations")
        assert conn.exec_driver_sql(f"SELECT count(*) FROM authorizations WHERE pharmacy_id = {pharmacy.id}"
                                    ).scalar() == 750
    web = _sign_in(client, rsp)
    captured = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        if "FROM authorizations" in statement:
            captured.append((statement, parameters))

    _fresh_request_state()
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        assert web.get("/pharmacy/rmas").status_code == 200
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(captured) == 1, captured
    statement, parameters = captured[0]
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        plan = raw.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, parameters).fetchone()[0]

    def scans(node):
        if node.get("Relation Name") == "authorizations":
            yield node
        for child in node.get("Plans", []):
            yield from scans(child)

    top = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    [scan] = list(scans(top))
    assert scan.get("Index Name") == "ix_authorizations_pharmacy_recent", scan
    assert scan["Actual Rows"] <= 51, scan
