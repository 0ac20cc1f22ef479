"""A ROLLBACK keeps the connection's prepared statements (rems.driver.KeepPreparedConnection).

psycopg forgets them at every ROLLBACK (and sends DEALLOCATE ALL); every read-only request ends
in one, so the dispense statements were re-planned after any such request on a pooled connection.
These tests check the app's connections keep them, that plain psycopg still drops them (when it
stops, the subclass can go), and that what psycopg does for DDL and failed statements is unchanged.
"""

from __future__ import annotations

import psycopg
import pytest

from rems import driver
from rems.extensions import db

pytestmark = pytest.mark.postgres

SQL = "SELECT count(*) FROM users WHERE id > %s"


def _server_prepared(conn) -> int:
    return conn.execute("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]


def _prepare(conn) -> None:
    for _ in range(conn.prepare_threshold + 1):  # psycopg prepares a statement on its 6th execution
        conn.execute(SQL, (0,)).fetchone()


@pytest.fixture
def pooled(app, backend):
    """A psycopg connection of the app's pool (returned to it after the test)."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    raw = db.engine.raw_connection()
    yield raw.driver_connection
    raw.close()


def test_the_app_connections_keep_prepared_statements_across_rollback(pooled):
    conn = pooled
    assert isinstance(conn, driver.KeepPreparedConnection)
    _prepare(conn)
    assert _server_prepared(conn) == 1
    conn.rollback()
    assert _server_prepared(conn) == 1, "ROLLBACK deallocated the prepared statement"
    conn.execute(SQL, (0,)).fetchone()
    assert _server_prepared(conn) == 1  # used again, not prepared anew
    conn.rollback()


def test_plain_psycopg_still_drops_them(app, backend):
    """If this fails, psycopg keeps prepared statements across ROLLBACK itself: remove the subclass."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    url = db.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False)) as conn:
        _prepare(conn)
        assert _server_prepared(conn) == 1
        conn.rollback()
        assert _server_prepared(conn) == 0


def test_ddl_and_failed_statements_behave_as_in_psycopg(pooled):
    conn = pooled
    _prepare(conn)
    with pytest.raises(psycopg.errors.DivisionByZero):
        conn.execute("SELECT 1 / 0").fetchone()
    conn.rollback()  # out of the failed transaction; the statement is still prepared and works
    assert conn.execute(SQL, (0,)).fetchone()[0] >= 0
    assert _server_prepared(conn) == 1
    conn.rollback()
    conn.execute("CREATE TEMP TABLE t_prepared (id int)")
    conn.execute("DROP TABLE t_prepared")  # psycopg itself forgets everything after a DROP
    assert _server_prepared(conn) == 0
    conn.rollback()


def test_requests_after_a_read_only_request_run_prepared(app, client, factory, token_for, backend):
    """What the subclass is for: a read-only API request (ROLLBACK) between two eligibility checks
    leaves the dispense statement prepared on the pooled connection."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    from tests.perf.builders import bulk_patients

    prescriber = factory.prescriber()
    pharmacy, rsp = factory.pharmacy()
    patients = bulk_patients(prescriber, pharmacy, rsp, 12, cycles=1)
    headers = token_for(rsp)
    lookup = {"prescriber_npi": prescriber.npi, "pharmacy_ncpdp_id": pharmacy.ncpdp_id}
    db.session.remove()
    db.engine.dispose()  # new pooled connections from here on; requests take turns on them

    def check(p):
        query = {**lookup, "rems_id": p["rems_id"], "date_of_birth": p["date_of_birth"].isoformat()}
        assert client.get("/api/v1/eligibility", query_string=query, headers=headers).status_code == 200

    for p in patients:
        check(p)
        assert client.get("/api/v1/ping", headers=headers).status_code == 200
        db.session.remove()  # the request's teardown (the test's app context outlives its requests): ROLLBACK
    raw = db.engine.raw_connection()  # the one pooled connection every request used
    names = [s for (s,) in raw.driver_connection.execute("SELECT statement FROM pg_prepared_statements")]
    raw.close()
    assert db.engine.pool.checkedin() == 1
    assert any("json_agg" in s for s in names), names  # the request statement, prepared and kept
