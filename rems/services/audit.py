"""R-AUD-1: the append-only, hash-chained audit trail.

Each entry's hash covers the previous entry's hash and its own canonical content, so editing or
deleting any row breaks the chain from that row on. On PostgreSQL a transaction-scoped advisory
lock serialises writers, so concurrent requests still produce one valid chain; triggers (see the
migration) refuse UPDATE, DELETE and TRUNCATE. `entry_hash` is the one definition of the hash;
`record` computes the same value (in SQL on PostgreSQL) and `verify` checks it. A list view is one
entry naming the patients it showed (`record_list`: `after["patient_ids"]`, a key no other entry
uses), indexed in audit_entry_patients for the filter by patient; `verify` checks that index too.
"""
from __future__ import annotations

import fcntl
import json
import os
import re
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

from flask import current_app, g, has_app_context, has_request_context, request
from psycopg.types.json import Json
from sqlalchemy import JSON, bindparam, insert, select, text

from rems import driver
from rems.clock import now
from rems.extensions import db
from rems.models import AuditEntry, AuditEntryPatient
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
# a list entry: the same, and its rows in audit_entry_patients with the id audit_append gave it, in ONE
# statement (so one entry is one statement on the pipeline, whatever it is)
_APPEND_LISTED_DRIVER_SQL = (
    "WITH e AS (SELECT new_id, new_prev_hash, new_entry_hash FROM audit_append(%s::bigint, %s::text, %s::text, "
    "%s::timestamptz, %s::integer, %s::varchar, %s::varchar, %s::varchar, %s::varchar, %s::varchar, "
    "%s::integer, %s::json, %s::json)), "
    "p AS (INSERT INTO audit_entry_patients (entry_id, patient_id) SELECT e.new_id, unnest(%s::integer[]) FROM e) "
    "SELECT new_id, new_prev_hash, new_entry_hash FROM e")
_INSERT_LISTED = insert(AuditEntryPatient.__table__)


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
    values = _values(action, object_type, object_id, patient_id, before, after, actor)
    driver.defer(db.session(), _Entry(values))
    return values


def record_list(action: str, patient_ids, listing: dict, actor=None) -> dict | None:
    """R-AUD-1: a page that lists patients reads each one's data, yet is ONE entry (a worklist of 500
    costs one entry, not 500): its hashed content names the patients the page showed, in its order
    (`after["patient_ids"]`), with what the page was (`listing`: the list, its page or filter). Each
    of them also gets a row in audit_entry_patients, written with the entry (and checked against it
    by `verify`), which the audit log's filter by patient reads; a list of one patient is also the
    entry's `patient_id`. A page that showed no patient is no entry."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return None
    values = _values(action, None, None, ids[0] if len(ids) == 1 else None, None,
                     {**listing, "patient_ids": ids}, actor)
    driver.defer(db.session(), _Entry(values, ids))
    return values


def _values(action, object_type, object_id, patient_id, before, after, actor) -> dict:
    actor = actor or _actor()
    return {
        "at": now(), "actor_id": getattr(actor, "id", None), "actor_role": getattr(actor, "role", None),
        "ip": (request.remote_addr if has_request_context() else None), "action": action,
        "object_type": object_type, "object_id": None if object_id is None else str(object_id),
        "patient_id": patient_id, "before": plain(before) if before is not None else None,
        "after": plain(after) if after is not None else None}


class _Entry(driver.Deferred):
    """One pending entry, and for a list entry its patients' rows (`listed`). PostgreSQL:
    `audit_append` (lock, head under a fresh snapshot, hash, INSERT: one statement, which also
    inserts the rows of a list entry on the pipeline). SQLite (one writer at a time): read the
    head, hash, INSERT."""

    driver_sql = _APPEND_DRIVER_SQL
    wants_row = True

    def __init__(self, values: dict, listed: list[int] | None = None) -> None:
        self.values = values
        self.listed = listed
        if listed:
            self.driver_sql = _APPEND_LISTED_DRIVER_SQL

    def run(self, conn) -> None:
        v = self.values
        head, tail = content_parts(v)
        if conn.dialect.name == "postgresql":
            self.took(conn.execute(_APPEND, {**v, "k": CHAIN_LOCK, "head": head, "tail": tail}).one())
        else:
            last = conn.execute(_LAST).first()
            v["id"] = (last.id + 1) if last else 1
            v["prev_hash"] = last.entry_hash if last else GENESIS
            v["entry_hash"] = sha256_hex(v["prev_hash"] + head + str(v["id"]) + tail)
            conn.execute(_INSERT, v)
        if self.listed:
            conn.execute(_INSERT_LISTED, [{"entry_id": v["id"], "patient_id": p} for p in self.listed])

    def driver_params(self):
        v = self.values
        params = (CHAIN_LOCK, *content_parts(v), v["at"], v["actor_id"], v["actor_role"], v["ip"], v["action"],
                  v["object_type"], v["object_id"], v["patient_id"], Json(v["before"]), Json(v["after"]))
        return (*params, self.listed) if self.listed else params

    def took(self, row) -> None:
        self.values.update(id=row[0], prev_hash=row[1], entry_hash=row[2])


# ----- verification and anchors -----------------------------------------------------------------
# A chain proves that no entry was changed or removed *before its newest entry*; someone with the
# database's superuser rights could still delete the newest entries, or rewrite the chain from
# some entry on and compute every later hash again. An anchor is the head (id and hash) copied at
# some moment to a log outside the database (AUDIT_ANCHOR_FILE, JSON lines; in production on
# storage the database's administrators cannot write). `verify` checks the chain against every
# anchor: a chain shorter than an anchor was cut, and a different hash at an anchored id was
# rewritten.


def head() -> tuple[int, str] | None:
    """The newest committed entry: (id, entry_hash), or None for an empty log."""
    row = db.session.execute(_LAST).first()
    return (row.id, row.entry_hash) if row else None


_FIRST = select(AuditEntry.entry_hash).where(AuditEntry.id == 1)


def chain_id() -> str | None:
    """What names this database's chain: the hash of its entry #1 (None for an empty log). Every
    anchor carries it, so copies of another database's chain are told apart from a cut or a
    rewrite of this one, and are never mixed with this one's in one file."""
    return db.session.execute(_FIRST).scalar_one_or_none()


class AnchorFileMismatch(Exception):
    """The anchor file holds copies of another chain's head: appending this one's would mix two logs."""


MAX_ANCHOR_LINE = 1024  # an anchor line is ~130 bytes; a longer one is not ours
_HEX64 = re.compile(r"[0-9a-f]{64}")


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number")


def _parse_anchor(raw: bytes) -> dict | None:
    """One line of the anchor file as an anchor, or None when it is not one (strictly: an object
    with a text `at`, a whole-number `id` from 1, a 64-hex `entry_hash` and, when present, a 64-hex
    `chain` (chain_id; anchors written before it existed have none); nothing a hand or a tool could
    turn into another id)."""
    if len(raw) > MAX_ANCHOR_LINE:
        return None
    try:
        item = json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(item, dict):
        return None
    at, ident, digest = item.get("at"), item.get("id"), item.get("entry_hash")
    chain = item.get("chain")
    if not (isinstance(at, str) and type(ident) is int and ident >= 1 and isinstance(digest, str)
            and _HEX64.fullmatch(digest)):
        return None
    if chain is not None and not (isinstance(chain, str) and _HEX64.fullmatch(chain)):
        return None
    return {"at": at, "id": ident, "entry_hash": digest, "chain": chain}


def _foreign(anchors: list[dict], chain: str | None) -> list[dict]:
    """The anchors taken of another chain than the one named `chain` (unnamed ones are not)."""
    return [a for a in anchors if a["chain"] is not None and a["chain"] != chain]


def load_anchors(path, required: bool = False) -> tuple[list[dict], str | None]:
    """Every anchor the file holds, oldest first, and the first problem with the file (None: none).
    A missing file holds no anchor; that is a problem only when the caller named the file
    (`required`). A last line without its newline is a write cut short by a crash and is skipped;
    any other line that is not an anchor is a problem, and the anchors around it still count."""
    try:
        with open(path, "rb") as fh:
            lines = fh.read().split(b"\n")
    except FileNotFoundError:
        return [], (f"the anchor file {path} does not exist" if required else None)
    except OSError as exc:  # a folder, no permission...
        return [], f"the anchor file cannot be read ({exc.strerror})"
    anchors, problem = [], None
    if lines[-1] and _parse_anchor(lines[-1]) is not None:
        lines.append(b"")  # a whole anchor whose newline was lost counts; a torn write does not
    for number, raw in enumerate(lines[:-1], start=1):  # lines[-1] is "" or a torn last write
        parsed = _parse_anchor(raw)
        if parsed is None:
            problem = problem or f"line {number} of the anchor file is not an anchor: check who wrote to it"
            continue
        anchors.append(parsed)
    return anchors, problem


def anchor(path) -> dict | None:
    """Append the current head to the anchor file unless it is already the last anchor; return
    the anchor appended (None: nothing new). Idempotent, so a periodic task may call it at will."""
    current = head()
    if current is None:
        return None
    chain = chain_id()
    anchors, _ = load_anchors(path)  # a bad line: still append (verify reports it; a new anchor adds evidence)
    if _foreign(anchors, chain):
        raise AnchorFileMismatch(
            f"the anchor file {path} holds copies of another audit log (its entry #1 is not this database's): "
            "nothing was appended. Give each database its own anchor file (AUDIT_ANCHOR_FILE); "
            "`rems audit verify` says more")
    if anchors and anchors[-1]["id"] == current[0] and anchors[-1]["entry_hash"] == current[1]:
        return None
    item = {"at": datetime.now(UTC).isoformat(timespec="seconds"), "id": current[0], "entry_hash": current[1],
            "chain": chain}
    line = (json.dumps(item, separators=(",", ":")) + "\n").encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # web processes and the worker may append at once
        os.write(fd, _end_of_last_line(fd) + line)
        os.fsync(fd)
    finally:
        os.close(fd)  # releases the lock
    return item


def _end_of_last_line(fd: int) -> bytes:
    """What must come before the next anchor so that it starts on a line of its own. A last line
    without its newline is a write of ours cut short by a crash (load_anchors skips it): it is cut
    off. One that is a whole anchor (a hand edit lost the newline), or longer than any line of
    ours, is kept and closed with a newline: what the file holds is evidence, never deleted here."""
    size = os.fstat(fd).st_size
    if not size or os.pread(fd, 1, size - 1) == b"\n":
        return b""
    start = max(0, size - MAX_ANCHOR_LINE - 1)
    tail = os.pread(fd, size - start, start)
    newline = tail.rfind(b"\n")
    if newline < 0 and start > 0:  # no line break in the last kilobyte: not a torn line of ours
        return b"\n"
    last = tail[newline + 1:]
    if _parse_anchor(last) is not None:
        return b"\n"
    os.ftruncate(fd, size - len(last))
    return b""


def _names(e: AuditEntry) -> set:
    """The patients a list entry's hashed content names (record_list); none for any other entry."""
    return set(e.after.get("patient_ids") or ()) if isinstance(e.after, dict) else set()


def _listed_rows():
    """(entry id, {patient ids}) of audit_entry_patients, in entry order (verify walks it beside
    the chain: memory for one entry's rows at a time)."""
    rows = db.session.execute(select(AuditEntryPatient.entry_id, AuditEntryPatient.patient_id)
                              .order_by(AuditEntryPatient.entry_id).execution_options(yield_per=5000))
    for entry_id, group in groupby(rows, key=lambda r: r[0]):
        yield entry_id, {patient_id for _, patient_id in group}


def _orphan_rows(entry_id: int) -> dict:
    return {"ok": False, "broken_at": entry_id, "reason": (
        f"audit_entry_patients indexes patients for entry #{entry_id}, which the chain does not hold: "
        "index rows were added outside the service")}


def verify(anchors_path=None) -> dict:
    """Walk the chain, then hold it against the anchors (AUDIT_ANCHOR_FILE unless a path is given;
    a path given must exist). `broken_at` is the first entry found altered, missing or inserted
    (None when intact); `reason` says which, in words an administrator can act on; a problem with
    the anchor file makes the answer not ok too, and the anchors it does hold are still checked.
    The rows of audit_entry_patients must be exactly the patients each list entry names (record_list)."""
    required = anchors_path is not None
    if anchors_path is None and has_app_context():
        anchors_path = current_app.config.get("AUDIT_ANCHOR_FILE")
    result = {"ok": True, "entries": 0, "broken_at": None, "reason": None, "anchors_checked": 0}
    anchors, problem = load_anchors(anchors_path, required) if anchors_path else ([], None)
    if problem:
        result.update(ok=False, reason=problem)
    chain = chain_id()
    foreign = _foreign(anchors, chain)  # reported once the chain itself is walked: a break in it comes first
    if foreign:
        anchors = [a for a in anchors if a["chain"] is None or a["chain"] == chain]
    pinned: dict[int, list[dict]] = {}
    for a in anchors:
        pinned.setdefault(a["id"], []).append(a)
    prev = GENESIS
    expected_id = 1
    count = 0
    listed = _listed_rows()
    next_listed = next(listed, None)
    rows = db.session.execute(select(AuditEntry).order_by(AuditEntry.id).execution_options(yield_per=1000))
    for e in rows.scalars():
        count += 1
        if e.id != expected_id or e.prev_hash != prev or e.entry_hash != entry_hash(e, prev):
            broken = expected_id if e.id != expected_id else e.id
            return {**result, "ok": False, "entries": count, "broken_at": broken,
                    "reason": f"entry #{broken} was altered, removed or inserted outside the service"}
        if next_listed is not None and next_listed[0] < e.id:
            return {**result, **_orphan_rows(next_listed[0]), "entries": count}
        rows_of_e = set()
        if next_listed is not None and next_listed[0] == e.id:
            rows_of_e, next_listed = next_listed[1], next(listed, None)
        if rows_of_e != _names(e):
            return {**result, "ok": False, "entries": count, "broken_at": e.id, "reason": (
                f"the patients indexed for entry #{e.id} (audit_entry_patients) are not those its content "
                "names: index rows were added or removed outside the service")}
        for a in pinned.get(e.id, ()):
            result["anchors_checked"] += 1
            if a["entry_hash"] != e.entry_hash:
                return {**result, "ok": False, "entries": count, "broken_at": e.id,
                        "reason": (f"entry #{e.id} differs from the copy of the head taken at "
                                   f"{a['at']}: the chain was rewritten at or before it")}
        prev = e.entry_hash
        expected_id += 1
    result["entries"] = count
    beyond = [a for a in anchors if a["id"] > count]
    if beyond:
        a = max(beyond, key=lambda x: x["id"])
        result.update(ok=False, broken_at=count + 1,
                      reason=(f"the chain ends at entry #{count}, but the copy of the head taken at "
                              f"{a['at']} shows entry #{a['id']}: the newest entries were deleted"))
        result["anchors_checked"] += len(beyond)
    elif next_listed is not None:
        result.update(_orphan_rows(next_listed[0]))
    if foreign:
        result["anchors_checked"] += len(foreign)
        if result["broken_at"] is None:  # a cut of this chain, seen by its own anchors, comes first
            log = "is empty" if count == 0 else "begins with another entry #1"
            result.update(ok=False, reason=(
                f"{len(foreign)} copies of the head in the anchor file (the first taken at {foreign[0]['at']}) "
                f"were taken of another audit log: this database's {log}. Either they are another "
                "database's (give each database its own anchor file) or this log was deleted or rewritten "
                "from its first entry"))
    return result
