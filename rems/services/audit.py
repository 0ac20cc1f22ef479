"""R-AUD-1: the append-only, hash-chained audit trail.

Each entry's hash covers the previous entry's hash and its own canonical content, so editing or
deleting any row breaks the chain from that row on. On PostgreSQL a transaction-scoped advisory
lock serialises writers, so concurrent requests still produce one valid chain; triggers (see the
migration) refuse UPDATE, DELETE and TRUNCATE.
"""
from __future__ import annotations

from flask import g, has_request_context, request
from sqlalchemy import insert, select, text

from rems.clock import now
from rems.extensions import db
from rems.models import AuditEntry
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


_HEAD = text("SELECT id, entry_hash FROM audit_chain_head(:k)")
_LAST = select(AuditEntry.id, AuditEntry.entry_hash).order_by(AuditEntry.id.desc()).limit(1)
_INSERT = insert(AuditEntry.__table__)


def record(action: str, object_type: str | None = None, object_id=None, *, patient_id: int | None = None,
           before: dict | None = None, after: dict | None = None, actor=None) -> dict:
    """Append one entry inside the caller's transaction.

    The statements are built once per process and the row goes in with a Core INSERT (the ORM unit
    of work cost more than the three statements on the dispense path; bench/NOTES.md). Returns the
    inserted row's values (column -> value), not an ORM object."""
    actor = actor or _actor()
    conn = db.session.connection()  # the caller's transaction; Core statements only
    if conn.dialect.name == "postgresql":
        # the advisory lock, then the head read under a fresh snapshot: one round trip (migration 0004)
        last = conn.execute(_HEAD, {"k": CHAIN_LOCK}).first()
    else:
        last = conn.execute(_LAST).first()
    prev = last.entry_hash if last else GENESIS
    # a plain dict, not an AuditEntry instance: constructing the ORM object cost more than hashing
    values = {
        "id": (last.id + 1) if last else 1,
        "at": now(), "actor_id": getattr(actor, "id", None), "actor_role": getattr(actor, "role", None),
        "ip": (request.remote_addr if has_request_context() else None), "action": action,
        "object_type": object_type, "object_id": None if object_id is None else str(object_id),
        "patient_id": patient_id, "before": plain(before) if before is not None else None,
        "after": plain(after) if after is not None else None, "prev_hash": prev}
    content = {k: values[k] for k in _CONTENT}
    content["at"] = values["at"].isoformat()
    values["entry_hash"] = sha256_hex(prev + canonical(content))
    conn.execute(_INSERT, values)
    return values


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
