"""A unit of work returns only once its commit is on disk (rems.driver.commit; R-AUD-1 and "never
lose a record": nothing is answered before it is durable).

The test reads the WAL itself (pg_walinspect, PostgreSQL's contrib) to find the commit record of
the unit's transaction, and checks the server had flushed past it when the unit returned. An
asynchronous commit (`synchronous_commit = off`, or a commit whose transaction wrote no WAL of its
own) leaves its record to the WAL writer (up to wal_writer_delay, 200 ms by default): at least one
of the rounds would see it unflushed. Checked: a variant of rems.driver.commit that committed with
`synchronous_commit = off` and then a transaction that only took an id (`pg_current_xact_id()`),
meant to wait for the flush, failed here in round 0 (bench/NOTES.md, Round 9).
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text

from rems.extensions import db
from rems.services import audit
from rems.tasks import unit_of_work
from tests.support import backends

pytestmark = pytest.mark.postgres

ROUNDS = 20
COMMIT_RECORD = """
SELECT max(end_lsn)::text FROM pg_get_wal_records_info(%s::pg_lsn, pg_current_wal_flush_lsn())
WHERE resource_manager = 'Transaction' AND record_type = 'COMMIT' AND xid::text = %s
"""


@pytest.fixture
def wal(app, backend):
    """A separate autocommit connection that reads the WAL (superuser, as the tests connect)."""
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_walinspect")
        except psycopg.errors.FeatureNotSupported:  # pragma: no cover - a server without contrib
            if backends.on_ci():
                raise
            pytest.skip("pg_walinspect is not installed on this server")
        yield conn


def _one_unit(wal, action: str) -> tuple[str, str, str]:
    """Run one audited unit of work; returns (its commit record's end, the flush position read
    the moment the unit returned, the unit's xid)."""
    # pg_walinspect reads flushed WAL only; the unit's records all come after this point
    start = wal.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0]
    with unit_of_work():
        xid = db.session.execute(text("SELECT pg_current_xact_id()::text")).scalar_one()
        audit.record(action, "test", 1)
    flushed = wal.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()[0]
    end = None  # not flushed at all yet (pg_walinspect refuses a range that starts at the flush point)
    if wal.execute("SELECT pg_current_wal_flush_lsn() > %s::pg_lsn", (start,)).fetchone()[0]:
        end = wal.execute(COMMIT_RECORD, (start, xid)).fetchone()[0]
    return end, flushed, xid


def test_a_unit_of_work_returns_only_after_its_commit_is_flushed(wal):
    for i in range(ROUNDS):
        end, flushed, xid = _one_unit(wal, f"test.durable.{i}")
        assert end is not None, f"round {i}: the commit record of transaction {xid} is not flushed yet"
        assert wal.execute("SELECT %s::pg_lsn >= %s::pg_lsn", (flushed, end)).fetchone()[0], (
            f"round {i}: the unit returned with the WAL flushed to {flushed}, before its commit record "
            f"(ending at {end})")
