"""Statements on the hot dispense path, run on the session's psycopg connection (PostgreSQL).

SQLAlchemy's per-execution work (execution context, result metadata built from the cursor's
description, row processors) cost about as much CPU as psycopg itself on the eligibility check
(bench/NOTES.md). These helpers run SQL that SQLAlchemy compiled once, inside the session's own
transaction, and still tell the engine's `before_cursor_execute` listeners (tracing, the
statement-count tests) about every statement. Driver errors are raised as SQLAlchemy raises them
(IntegrityError, OperationalError, ...), and a lost connection is invalidated in the pool.
"""
from __future__ import annotations

from collections import namedtuple
from contextlib import contextmanager
from datetime import UTC

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

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
