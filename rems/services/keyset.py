"""Keyset ("seek") paging of a list newest first, on (instant, id) descending.

A page link carries the position of a row (its instant and id), not an offset: the next page is
the rows strictly older than that position, so one query of a fixed shape answers any page however
far back (no rows skipped or counted), and rows added meanwhile neither shift nor repeat a page.
A token is "<microseconds since 1970 UTC>.<id>"; one that does not parse is the caller's to
answer (a message and the first page), never an error page.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_

from rems.extensions import db

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TOKEN = re.compile(r"([0-9]{1,17})\.([0-9]{1,10})")
_MAX_ID = 2**31 - 1  # an INTEGER primary key


class BadToken(ValueError):
    """A page link that was cut short or made up."""


@dataclass(frozen=True)
class Position:
    at: datetime
    id: int

    @property
    def token(self) -> str:
        return f"{(self.at - _EPOCH) // timedelta(microseconds=1)}.{self.id}"

    @classmethod
    def of(cls, row, at_col, id_col) -> Position:
        return cls(getattr(row, at_col.key), getattr(row, id_col.key))


def parse(token: str | None) -> Position | None:
    """The position a page link names; None for no link (the first page); BadToken otherwise."""
    if token is None or token == "":
        return None
    m = _TOKEN.fullmatch(token)
    if m is None or int(m.group(2)) > _MAX_ID:
        raise BadToken(token)
    try:
        at = _EPOCH + timedelta(microseconds=int(m.group(1)))
    except OverflowError as err:
        raise BadToken(token) from err
    return Position(at, int(m.group(2)))


@dataclass(frozen=True)
class Page:
    """One page, newest first. `older` / `newer`: the tokens of the neighbouring pages (None: there
    is none); `latest`: these are the newest rows (the first page)."""

    rows: list[Any]
    older: str | None = None
    newer: str | None = None
    latest: bool = True


def seek(stmt, at_col, id_col, size: int, before: Position | None = None,
         after: Position | None = None) -> Page:
    """The page of `stmt`'s rows (a SELECT of one entity, not yet ordered) of `size` rows: the
    newest, those just older than `before`, or those just newer than `after`. One statement (size + 1
    rows tell whether there is more); a "newer" page that reaches the newest rows with fewer than
    `size` of them is the first page instead (a second statement on that path only)."""

    def token_of(row) -> str:
        return Position.of(row, at_col, id_col).token

    if after is not None:
        newer = or_(at_col > after.at, and_(at_col == after.at, id_col > after.id))
        rows = _rows(stmt.where(newer).order_by(at_col.asc(), id_col.asc()).limit(size + 1))
        if len(rows) > size:  # still newer rows above this page
            rows = rows[:size][::-1]
            return Page(rows, older=token_of(rows[-1]), newer=token_of(rows[0]), latest=False)
        if len(rows) == size:  # exactly the newest page; older rows follow (the link's own row)
            rows.reverse()
            return Page(rows, older=token_of(rows[-1]))
    if before is not None:
        older = or_(at_col < before.at, and_(at_col == before.at, id_col < before.id))
        stmt = stmt.where(older)
    rows = _rows(stmt.order_by(at_col.desc(), id_col.desc()).limit(size + 1))
    more, rows = len(rows) > size, rows[:size]
    return Page(
        rows,
        older=token_of(rows[-1]) if more else None,
        newer=token_of(rows[0]) if before is not None and rows else None,
        latest=before is None,
    )


def _rows(stmt) -> list:
    return list(db.session.execute(stmt).scalars().all())
