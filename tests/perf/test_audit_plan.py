"""R-AUD-1: `audit_append` reads the chain head from the end of the primary key, even on a
connection whose first append met an empty audit log (migration 0009, bench/NOTES.md Round 7).

PL/pgSQL plans the head query once per connection and keeps the plan until the table's statistics
change; planned against an empty table it was a sequential scan and a sort, which then read the
whole audit log on every append. Each case runs in one transaction on a new connection, rolled
back: the connection's first append sees an empty, analyzed table, then 3,000 entries are added and the
buffers read by one more append are counted.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from rems.extensions import db
from rems.services.audit import CHAIN_LOCK

pytestmark = pytest.mark.postgres

APPEND = ("SELECT * FROM audit_append(%s, '{\"action\":\"t\",', ',\"x\":1}', now(), NULL, NULL, NULL, 't', "
          "NULL, NULL, NULL, NULL, NULL)")
SIGNATURE = ("audit_append(bigint, text, text, timestamptz, integer, varchar, varchar, varchar, varchar, "
             "varchar, integer, json, json)")


def _pages_read_by_one_append(url: str, seqscan_allowed: bool) -> int:
    # statistics as a new database has them once (auto)vacuum saw the empty table: "known empty"
    # (never vacuumed, the planner assumes 10 pages and picks the index anyway)
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("VACUUM ANALYZE audit_entries")
    with psycopg.connect(url) as conn:  # a new backend: nothing planned yet
        if seqscan_allowed:  # what the function did before 0009 (rolled back with the rest)
            conn.execute(f"ALTER FUNCTION {SIGNATURE} RESET enable_seqscan")
        assert conn.execute("SELECT count(*) FROM audit_entries").fetchone()[0] == 0
        conn.execute(APPEND, (CHAIN_LOCK,))  # planned now, against an empty table
        conn.execute("INSERT INTO audit_entries (id, at, action, prev_hash, entry_hash) SELECT g, now(), "
                     "'bulk', repeat('0', 64), lpad(to_hex(g), 64, '0') FROM generate_series(2, 3001) g")
        plan = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {APPEND}", (CHAIN_LOCK,)).fetchone()[0]
        conn.rollback()
    top = (plan if isinstance(plan, list) else json.loads(plan))[0]["Plan"]
    return top["Shared Hit Blocks"] + top["Shared Read Blocks"]


def test_audit_append_reads_the_head_by_index_after_starting_on_an_empty_log(app, backend):
    if backend != "postgres":
        pytest.skip("PostgreSQL only")
    url = db.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    db.session.remove()
    assert _pages_read_by_one_append(url, seqscan_allowed=False) < 30
    # the same with the function as it was: the cached plan reads the whole table (~70 pages here)
    assert _pages_read_by_one_append(url, seqscan_allowed=True) > 60
