"""R-AUD-1: the append-only, hash-chained audit trail.

Each entry's hash covers the previous entry's hash and its own canonical content, so editing or
deleting any row breaks the chain from that row on. On PostgreSQL a transaction-scoped advisory
lock serialises writers, so concurrent requests still produce one valid chain; triggers (see the
migration) refuse UPDATE, DELETE and TRUNCATE. `entry_hash` is the one definition of the hash;
`record` computes the same value (in SQL on PostgreSQL) and `verify` checks it.
"""
from __future__ import annotations

from flask import g, has_request_context, request
from psycopg.types.json import Json
from sqlalchemy import JSON, bindparam, insert, select, text

from rems import driver
from rems.clock import now
from rems.extensions import db
from rems.models import AuditEntry
from rems.models.types import UTCDateTime
from rems.services.canonical import canonical, plain, sha256_hex

GENESIS = "0" * 64
CHAIN_LOCK = 7_310_001  # advisory lock key for the audit chain


_CONTENT = ("id", "at", "actor_id", "actor_role", "ip", "action", "object_type", "object_id", "patient_id",
            "before", "after")


def _content(e: AuditEntry) -> dict:
    content = {k: getattr(e, k) for k in _CONTENT}
    content["at"] = e.at.isoformat()
    return content


def entry_hash(e: AuditEntry, prev_hash: str) -> str:
    return sha256_hex(prev_hash + canonical(_content(e)))


def _actor():
    user = getattr(g, "user", None) if has_request_context() else None
    if user is None and has_request_context():
        from flask_login import current_user

        user = current_user if getattr(current_user, "is_authenticated", False) else None
    return user


_LAST = select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT = insert(AuditEntry.__table__)
# PostgreSQL: lock, head, hash and INSERT in one statement (migration 0006)
_APPEND = text(
    "SELECT new_id, new_prev_hash, new_entry_hash FROM audit_append(:k, :head, :tail, :at, :actor_id, "
    ":actor_role, :ip, :action, :object_type, :object_id, :patient_id, :before, :after)"
).bindparams(bindparam("at", type_=UTCDateTime()), bindparam("before", type_=JSON()),
             bindparam("after", type_=JSON()))
# the same for the driver connection (psycopg placeholders), sent with the COMMIT (rems.driver.commit)
_APPEND_DRIVER_SQL = (
    "SELECT new_id, new_prev_hash, new_entry_hash FROM audit_append(%s::bigint, %s::text, %s::text, "
    "%s::timestamptz, %s::integer, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::varchar, "
    "%s::integer, %s::json, %s::json)")


def content_parts(values: dict) -> tuple[str, str]:
    """The entry's canonical content without its id, as the text before and after the id:
    canonical(content) == head + str(id) + tail (keys are sorted, and the fields before "id"
    and after it are always present). The id is only known once the chain's lock is held."""
    content = {k: values[k] for k in _CONTENT if k != "id"}
    content["at"] = values["at"].isoformat()
    before_id = {k: v for k, v in content.items() if k < "id"}
    after_id = {k: v for k, v in content.items() if k > "id"}
    return canonical(before_id)[:-1] + ',"id":', "," + canonical(after_id)[1:]


def record(action: str, object_type: str | None = None, object_id=None, *, patient_id: int | None = None,
           before: dict | None = None, after: dict | None = None, actor=None) -> dict:
    """Add one entry to the caller's transaction; it is written when that transaction commits.

    The chain is one sequence, so writers are serialised by a lock held until COMMIT (R-AUD-1):
    appending with the COMMIT (rems.driver.commit), not here, keeps that lock for the shortest
    time. The entry's content (time, actor, action...) is fixed now; its id and hashes are set when
    it is written, in this returned dict. A rolled-back transaction discards its entries with
    everything else."""
    actor = actor or _actor()
    values = {
        "at": now(), "actor_id": getattr(actor, "id", None), "actor_role": getattr(actor, "role", None),
        "ip": (request.remote_addr if has_request_context() else None), "action": action,
        "object_type": object_type, "object_id": None if object_id is None else str(object_id),
        "patient_id": patient_id, "before": plain(before) if before is not None else None,
        "after": plain(after) if after is not None else None}
    driver.defer(db.session(), _Entry(values))
    return values


class _Entry(driver.Deferred):
    """One pending entry. PostgreSQL: `audit_append` (lock, head under a fresh snapshot, hash,
    INSERT: one statement). SQLite (one writer at a time): read the head, hash, INSERT."""

    driver_sql = _APPEND_DRIVER_SQL
    wants_row = True

    def __init__(self, values: dict) -> None:
        self.values = values

    def run(self, conn) -> None:
        v = self.values
        head, tail = content_parts(v)
        if conn.dialect.name == "postgresql":
            self.took(conn.execute(_APPEND, {**v, "k": CHAIN_LOCK, "head": head, "tail": tail}).one())
            return
        last = conn.execute(_LAST).first()
        v["id"] = (last.id + 1) if last else 1
        v["prev_hash"] = last.entry_hash if last else GENESIS
        v["entry_hash"] = sha256_hex(v["prev_hash"] + head + str(v["id"]) + tail)
        conn.execute(_INSERT, v)

    def driver_params(self):
        v = self.values
        return (CHAIN_LOCK, *content_parts(v), v["at"], v["actor_id"], v["actor_role"], v["ip"], v["action"],
                v["object_type"], v["object_id"], v["patient_id"], Json(v["before"]), Json(v["after"]))

    def took(self, row) -> None:
        self.values.update(id=row[0], prev_hash=row[1], entry_hash=row[2])


def verify() -> dict:
    """Walk the chain; report the first broken entry (None when intact)."""
    prev = GENESIS
    expected_id = 1
    count = 0
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000))
    for e in rows.scalars():
        count += 1
        if e.id != expected_id or e.prev_hash != prev or e.entry_hash != entry_hash(e, prev):
            return {"ok": False, "entries": count, "broken_at": expected_id if e.id != expected_id else e.id}
        prev = e.entry_hash
        expected_id += 1
    return {"ok": True, "entries": count, "broken_at": None}
