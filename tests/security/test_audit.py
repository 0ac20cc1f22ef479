"""R-AUD-1: the audit trail is append-only, hash-chained and complete.

Tamper tests play a database superuser who switches the triggers off and edits or deletes a row;
`rems audit verify` (exit 1) and GET /api/v1/admin/audit/verify must name the first broken entry.
"""
from __future__ import annotations

import json
import threading

import pytest
import sqlalchemy as sa

from tests.support.factories import PASSWORD


def _pg(backend):
    if backend != "postgres":
        pytest.skip("PostgreSQL only")


def _entries(action=None):
    from rems.extensions import db
    from rems.models import AuditEntry

    q = sa.select(AuditEntry).order_by(AuditEntry.id)
    if action:
        q = q.where(AuditEntry.action == action)
    return db.session.execute(q).scalars().all()


def _superuser_sql(app, backend, sql: str):
    """Run `sql` with the append-only triggers switched off, as a superuser could."""
    from rems.extensions import db

    db.session.commit()  # end the session's transaction: DDL below needs the table's lock
    with db.engine.begin() as conn:
        if backend == "postgres":
            conn.exec_driver_sql("ALTER TABLE audit_entries DISABLE TRIGGER USER")
            conn.exec_driver_sql(sql)
            conn.exec_driver_sql("ALTER TABLE audit_entries ENABLE TRIGGER USER")
        else:
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER audit_entries_no_delete")
            conn.exec_driver_sql(sql)
    db.session.expire_all()


def _cli(runner, *args):
    """The installed `rems` command (rems.cli.main), bound to the test app."""
    from rems.cli import main

    return runner.invoke(main, list(args))


def _some_history(factory, n=3):
    for _ in range(n):
        factory.prescriber()


def test_r_aud_1_chain_verifies_and_links_each_entry(app, factory):
    from rems.services import audit

    _some_history(factory)
    rows = _entries()
    assert len(rows) >= 6
    assert rows[0].prev_hash == audit.GENESIS
    for prev, cur in zip(rows, rows[1:], strict=False):
        assert cur.prev_hash == prev.entry_hash and cur.id == prev.id + 1
    assert audit.verify() == {"ok": True, "entries": len(rows), "broken_at": None}


@pytest.mark.parametrize("statement", ["UPDATE {table} SET {column} = 'x' WHERE id = 1",
                                       "DELETE FROM {table} WHERE id = 1"])
def test_r_aud_1_triggers_refuse_update_and_delete(app, factory, statement):
    """R-AUD-1 and R-SIG-1: audit entries and signatures are append-only in the database itself."""
    from rems.extensions import db

    factory.prescriber()  # registers (audit) and signs the attestation (signature)
    for table, column in (("audit_entries", "action"), ("signatures", "meaning")):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(statement.format(table=table, column=column))
    assert _entries()[0].action == "prescriber.registered"


def test_r_aud_1_triggers_refuse_truncate(app, factory, backend):
    from rems.extensions import db

    _pg(backend)
    _some_history(factory, 1)
    db.session.commit()  # release the session's locks: TRUNCATE waits for an exclusive lock
    for table in ("audit_entries", "signatures"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
    assert _entries()


def test_r_aud_1_orm_update_is_refused(app, factory):
    from rems.extensions import db

    _some_history(factory, 1)
    row = _entries()[0]
    row.after = {"forged": True}
    with pytest.raises(sa.exc.DatabaseError):
        db.session.commit()
    db.session.rollback()


def test_r_aud_1_concurrent_writers_produce_one_valid_chain(app, backend):
    """Threads with their own connections append at once; the advisory lock keeps one chain."""
    from rems.extensions import db
    from rems.services import audit

    _pg(backend)
    threads_n, per_thread = 8, 15
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(n):
        try:
            with app.app_context():
                barrier.wait()
                for i in range(per_thread):
                    audit.record("test.concurrent", "thread", n, after={"i": i})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    result = audit.verify()
    assert result == {"ok": True, "entries": threads_n * per_thread, "broken_at": None}


def _tamper_and_check(app, client, runner, backend, factory, sql, broken_at):
    admin = factory.admin()
    _some_history(factory, 2)
    _superuser_sql(app, backend, sql)
    result = _cli(runner, "audit", "verify")
    assert result.exit_code == 1, result.output
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["ok"] is False and out["broken_at"] == broken_at
    token = client.post("/api/v1/auth/token", json={"email": admin.email, "password": PASSWORD}).get_json()["token"]
    resp = client.get("/api/v1/admin/audit/verify", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] is False and body["broken_at"] == broken_at


def test_r_aud_1_edited_entry_is_reported(app, client, runner, backend, factory):
    sql = "UPDATE audit_entries SET after = NULL, actor_role = 'admin' WHERE id = 3"
    _tamper_and_check(app, client, runner, backend, factory, sql, broken_at=3)


def test_r_aud_1_edited_entry_with_recomputed_hash_breaks_the_next_link(app, client, runner, backend, factory):
    """A forger who recomputes the edited row's own hash still breaks the link to the next row."""
    from rems.extensions import db
    from rems.models import AuditEntry
    from rems.services import audit

    factory.admin()
    _some_history(factory, 2)
    row = db.session.get(AuditEntry, 2)
    row.action = "forged"
    forged = audit.entry_hash(row, row.prev_hash)
    db.session.rollback()
    _superuser_sql(app, backend, f"UPDATE audit_entries SET action = 'forged', entry_hash = '{forged}' WHERE id = 2")
    result = _cli(runner, "audit", "verify")
    assert result.exit_code == 1
    assert json.loads(result.output.strip().splitlines()[-1])["broken_at"] == 3


def test_r_aud_1_deleted_entry_is_reported(app, client, runner, backend, factory):
    _tamper_and_check(app, client, runner, backend, factory, "DELETE FROM audit_entries WHERE id = 4", broken_at=4)


def test_r_aud_1_cli_verify_ok_exits_zero(app, runner, factory):
    _some_history(factory, 1)
    result = _cli(runner, "audit", "verify")
    assert result.exit_code == 0
    assert json.loads(result.output.strip().splitlines()[-1])["ok"] is True


def test_r_aud_1_audit_verify_needs_admin(client, login_as):
    assert client.get("/api/v1/admin/audit/verify").status_code == 401
    assert client.get("/api/v1/admin/audit/verify", headers=login_as("prescriber")).status_code == 403
    resp = client.get("/api/v1/admin/audit/verify", headers=login_as("admin"))
    assert resp.status_code == 200 and resp.get_json()["ok"] is True
