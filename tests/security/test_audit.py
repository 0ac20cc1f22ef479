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


AUDIT_TABLES = ("audit_entries", "audit_entry_patients")


def _superuser_sql(app, backend, *statements: str):
    """Run the statements with the append-only triggers of the audit tables switched off, as a
    superuser could."""
    from rems.extensions import db

    db.session.commit()  # end the session's transaction: DDL below needs the table's lock
    with db.engine.begin() as conn:
        for table in AUDIT_TABLES:
            if backend == "postgres":
                conn.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
            else:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_update")
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        for sql in statements:
            conn.exec_driver_sql(sql)
        if backend == "postgres":
            for table in AUDIT_TABLES:
                conn.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")
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
    assert audit.verify() == {"ok": True, "entries": len(rows), "broken_at": None, "reason": None,
                              "anchors_checked": 0}


def test_r_aud_1_entry_written_in_sql_hashes_as_python_verifies(app, factory):
    """R-AUD-1: on PostgreSQL `audit_append` (migration 0006) hashes the entry in SQL from the canonical
    content Python sends in two parts; the stored hash must be exactly `audit.entry_hash`, also for
    content with non-ASCII text, quotes, nested "id" keys and NULLs (SQLite: the Python path), and for
    a list entry naming patients, written with its audit_entry_patients rows (migration 0013) by the
    session's commit and by the pipeline sent with the COMMIT (rems.driver.commit)."""
    from datetime import UTC, datetime

    from rems import driver
    from rems.extensions import db
    from rems.models import AuditEntryPatient
    from rems.services import audit
    from rems.services.canonical import canonical

    values = {"at": datetime(2026, 11, 26, 1, 2, 3, 4500, tzinfo=UTC), "actor_id": None, "actor_role": "patient",
              "ip": None, "action": "test.tricky", "object_type": "patient", "object_id": "7",
              "patient_id": 7, "before": {"id": 0, "note": 'a "quoted" ,"id":0, value'},
              "after": {"name": "Zoë Ångström 李", "id": [1, {"id": 2}], "n": None}}
    head, tail = audit.content_parts(values)
    content = {**values, "id": 123, "at": values["at"].isoformat()}
    assert head + "123" + tail == canonical(content)

    written = []
    with app.test_request_context():
        for after in (values["after"], None, {"emoji": "\U0001F48A", "tab": "a\tb"}):
            written.append(audit.record("test.tricky", "patient", 7, patient_id=7, before=values["before"],
                                        after=after))
        written.append(audit.record_list("test.listed", [9, 7, 9, 8], {"list": 'the "tricky" one', "id": 1}))
        db.session.commit()  # the before_commit hook (SQLAlchemy statements)
        written.append(audit.record_list("test.listed", [7], {"list": "one patient"}))
        written.append(audit.record("test.tricky", after={"patient": "Zoë"}))
        driver.commit(db.session())  # PostgreSQL: the pipeline, one statement per entry
    for w in written:
        row = db.session.get(audit.AuditEntry, w["id"])
        assert row.entry_hash == w["entry_hash"] == audit.entry_hash(row, w["prev_hash"])
    first_list, one_list = written[3], written[4]
    assert first_list["after"]["patient_ids"] == [9, 7, 8] and first_list["patient_id"] is None
    assert one_list["after"]["patient_ids"] == [7] and one_list["patient_id"] == 7
    indexed = db.session.execute(sa.select(AuditEntryPatient.entry_id, AuditEntryPatient.patient_id)).all()
    assert sorted(indexed) == sorted([(first_list["id"], 7), (first_list["id"], 8), (first_list["id"], 9),
                                      (one_list["id"], 7)])
    assert audit.verify()["ok"] is True


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


@pytest.mark.parametrize("commit", ["session.commit", "unit_of_work"])
def test_r_aud_1_concurrent_writers_produce_one_valid_chain(app, backend, commit):
    """Threads with their own connections append at once; the advisory lock (SQLite: the database's
    write lock) keeps one chain, whether the entries go in by the before_commit hook or pipelined
    with the COMMIT (rems.driver.commit)."""
    from rems.extensions import db
    from rems.services import audit
    from rems.tasks import unit_of_work

    # SQLite too: there the write lock is taken before the head is read (rems.driver.begin_write)
    threads_n, per_thread = 8, 15
    barrier = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def writer(n):
        try:
            with app.app_context():
                barrier.wait()
                for i in range(per_thread):
                    if commit == "unit_of_work":
                        with unit_of_work():
                            audit.record("test.concurrent", "thread", n, after={"i": i})
                    else:
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
    assert result["ok"] is True and result["entries"] == threads_n * per_thread and result["broken_at"] is None


def test_r_aud_1_entries_commit_and_roll_back_with_their_transaction(app, backend):
    """R-AUD-1: an entry is written by its transaction's commit, with the transaction's other
    changes, and a rolled-back transaction leaves no entry; the chain stays whole either way."""
    from rems.extensions import db
    from rems.models import AuditEntry
    from rems.services import audit
    from rems.tasks import unit_of_work

    def count(action):
        return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                 .where(AuditEntry.action == action))

    audit.record("test.rolled_back")
    db.session.rollback()
    with pytest.raises(RuntimeError), unit_of_work():
        audit.record("test.rolled_back")
        raise RuntimeError("the service failed after recording")
    assert count("test.rolled_back") == 0

    with unit_of_work():
        first = audit.record("test.kept", "thing", 1)
        second = audit.record("test.kept", "thing", 2)
    assert count("test.kept") == 2 and second["id"] == first["id"] + 1
    assert count("test.rolled_back") == 0  # not carried into the next transaction either
    assert second["prev_hash"] == first["entry_hash"]
    assert audit.verify()["ok"] is True


def test_r_aud_1_no_entry_is_queued_inside_a_savepoint(app):
    """A SAVEPOINT rolled back could not take a queued entry back, so recording inside one is refused
    (nothing in the service uses SAVEPOINTs; this keeps it from silently going wrong)."""
    from rems.extensions import db
    from rems.services import audit

    db.session.connection()
    with db.session.begin_nested(), pytest.raises(RuntimeError, match="nested"):
        audit.record("test.in_savepoint")
    db.session.rollback()


def test_r_aud_1_failed_append_rolls_back_the_whole_transaction(app, backend, factory):
    """PostgreSQL: the entries go to the server pipelined with the COMMIT; if one fails (here a
    value too long for its column), nothing of the transaction is committed and the session can go on."""
    from rems.extensions import db
    from rems.models import AuditEntry, Notification
    from rems.services import audit
    from rems.tasks import unit_of_work

    _pg(backend)
    user = factory.user("patient")
    before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry))
    with pytest.raises(sa.exc.DBAPIError), unit_of_work():
        db.session.add(Notification(user_id=user.id, kind="test", title="t", body="b"))
        audit.record("x" * 61)  # action is VARCHAR(60)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notification)
                             .where(Notification.kind == "test")) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == before
    with unit_of_work():
        audit.record("test.after_failure")
    assert audit.verify()["ok"] is True


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


# ----- anchors: the head copied outside the database -------------------------------------------
def _anchor_file(app):
    from pathlib import Path

    return Path(app.config["AUDIT_ANCHOR_FILE"])


def _admin_token(client, factory) -> str:
    admin = factory.admin()
    return client.post("/api/v1/auth/token", json={"email": admin.email, "password": PASSWORD}).get_json()["token"]


def _anchor_add_line_and_cut(app, client, runner, backend, factory, line: str) -> tuple[dict, int]:
    """Anchor the chain, append `line` to the anchor file, delete the newest entries below the
    anchored head (a superuser's cut), and verify everywhere: (the report, the anchored id)."""
    from rems.services import audit

    token = _admin_token(client, factory)
    _some_history(factory, 2)
    path = _anchor_file(app)
    audit.anchor(path)
    anchored = audit.head()[0]
    with open(path, "a") as fh:
        fh.write(line)
    _superuser_sql(app, backend, f"DELETE FROM audit_entries WHERE id > {anchored - 2}")
    return _verify_everywhere(client, runner, token, expect_ok=False), anchored


def _verify_everywhere(client, runner, token, expect_ok: bool) -> dict:
    """The CLI (exit code) and the API must give the same verdict; returns the API's answer."""
    result = _cli(runner, "audit", "verify")
    assert result.exit_code == (0 if expect_ok else 1), result.output
    cli = json.loads(result.output.strip().splitlines()[-1])
    resp = client.get("/api/v1/admin/audit/verify", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["ok"] is expect_ok and cli["ok"] is expect_ok and cli["broken_at"] == body["broken_at"]
    return body


def test_r_aud_1_deleting_the_newest_entries_is_seen_only_with_an_anchor(app, client, runner, backend, factory):
    """The known limit of a chain: cutting its end leaves a shorter valid chain. A copy of the head
    outside the database (`rems audit anchor`) makes the cut visible to `verify`."""
    from rems.services import audit

    token = _admin_token(client, factory)
    _some_history(factory, 2)
    n = audit.head()[0]
    _superuser_sql(app, backend, f"DELETE FROM audit_entries WHERE id > {n - 2}")
    assert not _anchor_file(app).exists() and audit.verify()["ok"] is True  # no anchor: the cut is invisible

    # the same cut after an anchor
    _some_history(factory, 2)
    result = _cli(runner, "audit", "anchor")
    assert result.exit_code == 0, result.output
    anchored = audit.head()
    assert json.loads(result.output)["appended"]["id"] == anchored[0]
    _superuser_sql(app, backend, f"DELETE FROM audit_entries WHERE id > {anchored[0] - 3}")
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert body["entries"] == anchored[0] - 3 and body["broken_at"] == anchored[0] - 2
    assert "newest entries were deleted" in body["reason"] and f"entry #{anchored[0]}" in body["reason"]


def _forge_and_rehash(app, backend, forged_id: int) -> None:
    """What a forger with the database's superuser rights can do: edit entry `forged_id` and compute
    every hash from it on again, so the chain alone still verifies."""
    from rems.extensions import db
    from rems.models import AuditEntry
    from rems.services import audit

    rows = db.session.execute(sa.select(AuditEntry).order_by(AuditEntry.id)).scalars().all()
    prev, updates = audit.GENESIS, []
    for row in rows:
        if row.id == forged_id:
            row.action = "forged"
        new_hash = audit.entry_hash(row, prev)
        if row.id >= forged_id:
            updates.append((row.id, row.action, prev, new_hash))
        prev = new_hash
    db.session.rollback()
    _superuser_sql(app, backend, *(
        f"UPDATE audit_entries SET action = '{a}', prev_hash = '{p}', entry_hash = '{h}' WHERE id = {i}"
        for i, a, p, h in updates))


def test_r_aud_1_a_chain_rewritten_with_new_hashes_differs_from_its_anchor(app, client, runner, backend, factory,
                                                                           tmp_path):
    """A forger who edits entry 2 and computes every later hash again leaves a valid chain; the
    anchor taken before still has the old hash of its entry."""
    from rems.services import audit

    token = _admin_token(client, factory)
    _some_history(factory, 2)
    audit.anchor(_anchor_file(app))
    anchored_id = audit.head()[0]
    _some_history(factory, 1)
    _forge_and_rehash(app, backend, 2)
    empty = tmp_path / "no-anchors.jsonl"
    empty.write_text("")
    assert audit.verify(anchors_path=empty)["ok"] is True  # valid without the anchor
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert body["broken_at"] == anchored_id and "rewritten" in body["reason"]


def test_r_aud_1_anchor_is_idempotent_and_survives_a_torn_line(app, factory, tmp_path):
    from rems.services import audit

    path = tmp_path / "deep" / "anchors.jsonl"
    assert audit.head() is None and audit.anchor(path) is None and not path.exists()  # nothing to copy
    _some_history(factory, 1)
    first = audit.anchor(path)
    assert first is not None and audit.anchor(path) is None  # the head did not move
    assert len(path.read_text().splitlines()) == 1
    with open(path, "a") as fh:
        fh.write('{"at": "2026-11-26T10:00:00+00:00", "id": 9')  # a write cut short by a crash
    assert audit.verify(path)["ok"] is True and audit.verify(path)["anchors_checked"] == 1
    _some_history(factory, 1)
    second = audit.anchor(path)
    assert second["id"] > first["id"]
    assert [a["id"] for a in audit.load_anchors(path)[0]] == [first["id"], second["id"]]
    assert audit.verify(path) == {"ok": True, "entries": second["id"], "broken_at": None, "reason": None,
                                  "anchors_checked": 2}


H64 = "a" * 64


@pytest.mark.parametrize("line", [
    "not json", '{"id": 3}', f'{{"at": "x", "id": "three", "entry_hash": "{H64}"}}',
    f'{{"at": "x", "id": 0, "entry_hash": "{H64}"}}', "[1, 2]", '{"at": "x", "id": 1, "entry_hash": "a"}',
    # QA 2026-11-26: these crashed verify, the API and the admin page with a 500
    f'{{"at": "x", "id": Infinity, "entry_hash": "{H64}"}}', f'{{"at": "x", "id": 1e400, "entry_hash": "{H64}"}}',
    f'{{"at": "x", "id": NaN, "entry_hash": "{H64}"}}', "[" * 200_000, "[" * 1000,
    # not an id, whatever int() would make of them
    f'{{"at": "x", "id": 5.7, "entry_hash": "{H64}"}}', f'{{"at": "x", "id": true, "entry_hash": "{H64}"}}',
    f'{{"at": "{"x" * 2000}", "id": 1, "entry_hash": "{H64}"}}',
])
def test_r_aud_1_an_unreadable_anchor_file_is_reported_not_a_crash(app, client, runner, factory, line):
    """Someone wrote to the anchor file: verify says so (not ok, no entry to blame), the API answers
    200 and the CLI exits 1."""
    from rems.services import audit

    token = _admin_token(client, factory)
    path = _anchor_file(app)
    audit.anchor(path)
    with open(path, "a") as fh:
        fh.write(line + "\n")
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert body["broken_at"] is None and "line 2 of the anchor file" in body["reason"]


def test_r_aud_1_an_anchor_path_that_cannot_be_read_is_reported(app, client, runner, factory, tmp_path):
    token = _admin_token(client, factory)
    app.config["AUDIT_ANCHOR_FILE"] = str(tmp_path)  # a folder
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert body["broken_at"] is None and "the anchor file cannot be read" in body["reason"]


def test_r_aud_1_a_bad_anchor_line_does_not_hide_the_good_ones(app, client, runner, backend, factory):
    """One line that is not an anchor is reported, and the anchors around it are still held against
    the chain: a cut below the last good anchor is still seen (QA: one bad line disabled them all)."""
    body, anchored = _anchor_add_line_and_cut(app, client, runner, backend, factory, "\n")  # an empty line
    assert body["anchors_checked"] == 1 and body["broken_at"] == anchored - 1
    assert "newest entries were deleted" in body["reason"]


def test_r_aud_1_an_anchor_file_named_on_the_command_line_must_exist(app, runner, factory, tmp_path):
    """`verify --anchors FILE` with a mistyped FILE would check nothing: it fails instead. The
    configured default may not exist yet (nothing copied so far): the admin page says so."""
    _some_history(factory, 1)
    result = _cli(runner, "audit", "verify", "--anchors", str(tmp_path / "typo.jsonl"))
    assert result.exit_code == 1
    out = json.loads(result.output.strip().splitlines()[-1])
    assert out["ok"] is False and "does not exist" in out["reason"]
    assert _cli(runner, "audit", "verify").exit_code == 0


def test_r_aud_1_anchor_never_deletes_what_the_anchor_file_holds(app, factory, tmp_path):
    """Only a torn write of ours (a short unterminated line that is not an anchor) is cut off before
    the next anchor. A whole anchor that lost its newline still counts and is kept; a long line
    that is not ours is kept too and reported (review finding: both were truncated)."""
    from rems.services import audit

    _some_history(factory, 1)
    path = tmp_path / "anchors.jsonl"
    first = audit.anchor(path)
    path.write_text(path.read_text().rstrip("\n"))  # a hand edit lost the final newline
    assert audit.verify(path)["anchors_checked"] == 1
    _some_history(factory, 1)
    second = audit.anchor(path)
    assert [a["id"] for a in audit.load_anchors(path)[0]] == [first["id"], second["id"]]
    with open(path, "a") as fh:
        fh.write("x" * 3000)  # not a torn line of ours
    _some_history(factory, 1)
    third = audit.anchor(path)
    lines = path.read_text().splitlines()
    assert lines[2] == "x" * 3000 and len(lines) == 4 and f'"id":{third["id"]}' in lines[3]
    result = audit.verify(path)
    assert result["ok"] is False and "line 3 of the anchor file is not an anchor" in result["reason"]
    assert result["anchors_checked"] == 3


def test_r_aud_1_cli_anchor_to_a_path_it_cannot_write_is_an_error_message(app, runner, factory, tmp_path):
    _some_history(factory, 1)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    result = _cli(runner, "audit", "anchor", "--to", str(blocker / "anchors.jsonl"))
    assert result.exit_code == 1 and "cannot write the anchor file" in result.output
    assert "Traceback" not in result.output


# ----- anchors name their chain: another database's copies are not this one's cut or rewrite ------
OTHER_CHAIN = "c" * 64


def _foreign_anchor(ident: int = 40) -> str:
    return json.dumps({"at": "2026-11-01T09:00:00+00:00", "id": ident, "entry_hash": "d" * 64,
                       "chain": OTHER_CHAIN}) + "\n"


def test_r_aud_1_each_anchor_names_its_chain_by_entry_1(app, factory, tmp_path):
    from rems.services import audit

    _some_history(factory, 2)
    path = tmp_path / "anchors.jsonl"
    item = audit.anchor(path)
    first = _entries()[0]
    assert item["chain"] == first.entry_hash == audit.chain_id()
    assert json.loads(path.read_text())["chain"] == first.entry_hash


def test_r_aud_1_another_databases_anchor_file_is_named_as_such_and_never_appended_to(
        app, client, runner, factory):
    """A new or other database started with an old anchor file: verify says the copies are of
    another audit log (not 'the newest entries were deleted' or 'rewritten at #N', which would
    send an administrator after a forger), and nothing of this chain is mixed into that file."""
    token = _admin_token(client, factory)
    _some_history(factory, 2)
    path = _anchor_file(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_foreign_anchor(40) + _foreign_anchor(41))
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert body["broken_at"] is None and body["anchors_checked"] == 2
    assert "2 copies of the head" in body["reason"] and "another audit log" in body["reason"]
    assert "begins with another entry #1" in body["reason"] and "deleted" in body["reason"]
    before = path.read_text()
    result = _cli(runner, "audit", "anchor")
    assert result.exit_code == 1 and "holds copies of another audit log" in result.output
    assert "Traceback" not in result.output and path.read_text() == before


def test_r_aud_1_this_chains_own_cut_is_still_seen_beside_foreign_copies(app, client, runner, backend, factory):
    """Copies of another chain do not hide a cut of this one, which is reported first."""
    body, anchored = _anchor_add_line_and_cut(app, client, runner, backend, factory, _foreign_anchor(3))
    assert body["broken_at"] == anchored - 1 and "newest entries were deleted" in body["reason"]


def test_r_aud_1_a_log_rewritten_from_entry_1_is_not_reported_ok(app, client, runner, backend, factory):
    """A forger who rewrites the chain from its first entry changes its name too: the copies are
    then 'of another audit log', and the message says that this log may have been rewritten."""
    from rems.services import audit

    token = _admin_token(client, factory)
    _some_history(factory, 2)
    audit.anchor(_anchor_file(app))
    _forge_and_rehash(app, backend, 1)
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert "another audit log" in body["reason"] and "rewritten from its first entry" in body["reason"]


def test_r_aud_1_anchors_written_before_chains_were_named_still_count(app, client, runner, backend, factory):
    """An anchor line without `chain` (files written before it existed) is held against the chain
    as before, and new anchors can follow it."""
    from rems.services import audit

    token = _admin_token(client, factory)
    _some_history(factory, 2)
    current = audit.head()
    path = _anchor_file(app)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"at": "2026-11-25T09:00:00+00:00", "id": current[0], "entry_hash": current[1]})
                    + "\n")
    _some_history(factory, 1)
    assert audit.anchor(path)["chain"] == audit.chain_id()
    assert _verify_everywhere(client, runner, token, expect_ok=True)["anchors_checked"] == 2
    _superuser_sql(app, backend, f"DELETE FROM audit_entries WHERE id > {current[0] - 1}")
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert "newest entries were deleted" in body["reason"]


@pytest.mark.parametrize("chain", ['"zz"', "1", '"' + "A" * 64 + '"', "[]"])
def test_r_aud_1_an_anchor_with_a_malformed_chain_is_not_an_anchor(app, client, runner, factory, chain):
    from rems.services import audit

    token = _admin_token(client, factory)
    path = _anchor_file(app)
    audit.anchor(path)
    with open(path, "a") as fh:
        fh.write(f'{{"at": "x", "id": 1, "entry_hash": "{H64}", "chain": {chain}}}\n')
    body = _verify_everywhere(client, runner, token, expect_ok=False)
    assert "line 2 of the anchor file" in body["reason"]
