"""Statements on the hot dispense path, run on the session's psycopg connection (PostgreSQL).

SQLAlchemy's per-execution work (execution context, result metadata built from the cursor's
description, row processors) cost about as much CPU as psycopg itself on the eligibility check
(bench/NOTES.md). These helpers run SQL that SQLAlchemy compiled once, inside the session's own
transaction, and still tell the engine's `before_cursor_execute` listeners (tracing, the
statement-count tests) about every statement. Driver errors are raised as SQLAlchemy raises them
(IntegrityError, OperationalError, ...), and a lost connection is invalidated in the pool.

Writes sent with the COMMIT: a service `defer`s writes whose outcome it does not need before the
end of its unit of work (the RMA row, the audit entry). `commit` sends them and the COMMIT to
PostgreSQL in ONE round trip (psycopg pipeline mode), so the row and chain locks they take are held
only while the server works, never while this process waits for a reply or for the GIL. Any other
commit (a plain session.commit(), SQLite) runs them with SQLAlchemy first (before_commit hook); a
rollback discards them with the rest of the transaction. A failed write fails the commit: nothing
of the transaction is kept.
"""
from __future__ import annotations

from collections import namedtuple
from contextlib import contextmanager
from datetime import UTC
from functools import lru_cache

import psycopg
from psycopg.rows import namedtuple_row, tuple_row
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from rems.models.types import UTCDateTime


def announce(conn: Connection, sql: str, params) -> None:
    """Tell the engine's statement listeners, as SQLAlchemy would (no cursor, no context)."""
    conn.dispatch.before_cursor_execute(conn, None, sql, params, None, False)


@contextmanager
def translated_errors(conn: Connection, sql: str):
    dbapi = conn.dialect.loaded_dbapi
    try:
        yield
    except dbapi.Error as exc:
        if conn.dialect.is_disconnect(exc, conn.connection.driver_connection, None):
            conn.invalidate(exc)
        raise sa_exc.DBAPIError.instance(sql, None, exc, dbapi.Error, dialect=conn.dialect) from exc


class Select:
    """A Core SELECT compiled once for `dialect`; `one(conn, params)` runs it on the driver
    connection and returns its single row as a named tuple (None-filled columns stay None).
    UTCDateTime columns come back in UTC, as SQLAlchemy's result processing would give them."""

    def __init__(self, stmt, dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        self.sql = str(compiled)
        self.defaults = dict(compiled.params)  # the literals SQLAlchemy bound (LIMIT 1, ...); the rest None
        columns = list(stmt.selected_columns)
        self.row = namedtuple("Row", [c.key for c in columns])
        self.utc = [i for i, c in enumerate(columns) if isinstance(c.type, UTCDateTime)]

    def one(self, conn: Connection, params: dict):
        params = {**self.defaults, **params}
        announce(conn, self.sql, params)
        with translated_errors(conn, self.sql):
            values = conn.connection.driver_connection.execute(self.sql, params).fetchone()
        if values is None:
            raise sa_exc.NoResultFound("No row was found when one was required")
        if self.utc:
            values = list(values)
            for i in self.utc:
                if values[i] is not None:
                    values[i] = values[i].astimezone(UTC)
        return self.row._make(values)


@lru_cache(maxsize=16)
def _compiled(stmt, dialect):
    return stmt.compile(dialect=dialect)


def rows(conn: Connection, stmt, params: dict, named: bool = False) -> list:
    """All rows of a Core SELECT (compiled once per process) in one fetchall on the driver's cursor,
    binary format: tuples, or named tuples when `named`. Values as psycopg loads them (timestamps
    in the session's time zone)."""
    compiled = _compiled(stmt, conn.dialect)
    values = compiled.construct_params(params)
    announce(conn, compiled.string, values)
    factory = namedtuple_row if named else tuple_row
    with translated_errors(conn, compiled.string), \
            conn.connection.driver_connection.cursor(row_factory=factory, binary=True) as cur:
        return cur.execute(compiled.string, values).fetchall()


class Deferred:
    """A write sent with the COMMIT. `run(conn)` does it with SQLAlchemy; on the pipeline,
    `driver_sql` with `driver_params()` is sent instead and, when `wants_row`, `took(row)` gets
    the statement's first row after the commit."""

    driver_sql: str
    wants_row = False

    def run(self, conn: Connection) -> None:
        raise NotImplementedError

    def driver_params(self):
        raise NotImplementedError

    def took(self, row) -> None:
        pass


@lru_cache(maxsize=64)
def _compiled_write(stmt, keys: tuple[str, ...], dialect) -> tuple[str, dict]:
    compiled = stmt.compile(dialect=dialect, column_keys=list(keys))
    return str(compiled), dict(compiled.params)


class Write(Deferred):
    """A Core INSERT/UPDATE (built once per process) with its values, without RETURNING."""

    def __init__(self, stmt, params: dict, dialect) -> None:
        self.stmt, self.params = stmt, params
        self.driver_sql, self._defaults = _compiled_write(stmt, tuple(sorted(params)), dialect)

    def run(self, conn: Connection) -> None:
        conn.execute(self.stmt, self.params)

    def driver_params(self):
        return {**self._defaults, **self.params}


_PENDING = "rems_commit_writes"


def defer(session: Session, write: Deferred) -> None:
    """Queue `write` for the commit of the session's transaction. It runs after the transaction's
    other statements, so later reads in the same transaction do not see it. Not inside a SAVEPOINT:
    rolling one back could not take its queued writes back, so that is refused."""
    if session.in_nested_transaction():
        raise RuntimeError("writes cannot be deferred inside a nested transaction (SAVEPOINT)")
    session.connection()  # begin the transaction the write belongs to, if it has not begun yet
    session.info.setdefault(_PENDING, []).append(write)


def commit(session: Session) -> None:
    """Commit the session's transaction with its deferred writes (services' unit of work)."""
    writes = session.info.get(_PENDING)
    conn = session.connection() if writes else None
    if writes and conn.dialect.name == "postgresql":
        session.flush()  # the ORM's changes first: they commit with the writes
        driver = conn.connection.driver_connection
        sent = [(w, w.driver_params()) for w in writes]
        for w, params in sent:
            announce(conn, w.driver_sql, params)
        with translated_errors(conn, ";\n".join(w.driver_sql for w, _ in sent)), driver.pipeline():
            cursors = [driver.execute(w.driver_sql, params) for w, params in sent]
            driver.commit()
        for (w, _), cur in zip(sent, cursors, strict=True):
            if w.wants_row:
                w.took(cur.fetchone())
        writes.clear()
    session.commit()  # on PostgreSQL after the pipeline: nothing left to send, the session's bookkeeping


def begin_write(session: Session) -> None:
    """SQLite: take the database's write lock now, for the rest of the transaction.

    PostgreSQL serialises writers with row and advisory locks (FOR UPDATE, the audit chain's
    lock); SQLite ignores FOR UPDATE, and Python's sqlite3 runs reads outside any transaction until
    the first INSERT/UPDATE. Two requests could then both read the chain's head (or both find no
    RMA this cycle) before either writes, and the second write fails on a unique constraint: a
    500 under concurrent use of the embedded default (QA 2026-11-26). BEGIN IMMEDIATE makes the
    reads that follow happen under the write lock; other writers wait for it (sqlite3's busy
    timeout), readers do not. A transaction that already wrote holds the lock already."""
    if session.get_bind().dialect.name != "sqlite":
        return
    raw = session.connection().connection.driver_connection
    if not raw.in_transaction:
        raw.execute("BEGIN IMMEDIATE")


@event.listens_for(Session, "before_commit")
def _run_pending(session: Session) -> None:
    writes = session.info.get(_PENDING)
    if writes:
        begin_write(session)  # SQLite: the audit chain's head is read under the write lock
        conn = session.connection()
        for w in writes:
            w.run(conn)
        writes.clear()


@event.listens_for(Session, "after_transaction_end")
def _discard_pending(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended: committed (written) or rolled back
        session.info.pop(_PENDING, None)


class KeepPreparedConnection(psycopg.Connection):
    """psycopg's connection, except that a ROLLBACK keeps the prepared statements.

    psycopg forgets every prepared statement at ROLLBACK and sends DEALLOCATE ALL, in case the
    rolled-back transaction created objects they refer to. Every read-only request ends in
    ROLLBACK (the session's teardown), so in real traffic a pooled connection lost the dispense
    statements after any such request and re-planned them (the request statement's planning costs
    more than its execution) until psycopg prepared them again, five executions later: a load of
    trivial and eligibility requests alternating cost 35% more CPU per request than the two
    loads apart (bench/NOTES.md, Round 5). Keeping them is safe because request and task
    transactions run no DDL: only `rems db upgrade` does, in its own process, which exits when a
    migration fails; and psycopg still forgets everything itself after a DROP, ALTER or DISCARD it
    executes. (A prepared statement survives a ROLLBACK on the server: PREPARE is not
    transactional.) Relies on psycopg's `_prepared` cache (pinned version;
    tests/perf/test_prepared.py fails if it changes); without it, psycopg's own rollback."""

    def rollback(self) -> None:
        cache = getattr(self, "_prepared", None)
        names, counts = getattr(cache, "_names", None), getattr(cache, "_counts", None)
        if names is None or counts is None:
            return super().rollback()
        # psycopg clears the cache (and queues DEALLOCATE ALL) only when it holds names: show it empty ones
        cache._names, cache._counts = type(names)(), type(counts)()
        try:
            return super().rollback()
        finally:
            cache._names, cache._counts = names, counts


@event.listens_for(Engine, "do_connect")
def _keep_prepared(dialect, conn_rec, cargs, cparams):
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return KeepPreparedConnection.connect(*cargs, **cparams)
    return None
