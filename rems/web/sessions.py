"""Server-side web sessions (api.md "Web sessions").

Sign-in creates a random session id; only its SHA-256 is stored (WebSession.sid_hash) and the id
itself lives in the signed Flask session cookie. Every request resolves the cookie's id to a live
WebSession: sign-out revokes it server-side, so a replayed cookie fails; idle and absolute timeouts
(SESSION_IDLE_MINUTES, SESSION_ABSOLUTE_HOURS) are checked here. Timeouts use the wall clock, not
the demo clock (CLOCK_OFFSET_DAYS moves program dates, not security timers).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

from flask import current_app, g, request, session
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from rems.extensions import db, login_manager
from rems.models import User, WebSession
from rems.security.tokens import digest
from rems.services import audit
from rems.tasks import unit_of_work

SESSION_KEY = "sid"
TOUCH_EVERY = timedelta(seconds=30)  # write last_seen_at at most this often


def wall_now() -> datetime:
    return datetime.now(UTC)


def start(user: User) -> WebSession:
    """Sign `user` in: a fresh session (the cookie's contents are replaced, rotating the id)."""
    sid = secrets.token_urlsafe(32)
    with unit_of_work():
        row = WebSession(
            sid_hash=digest(sid),
            user_id=user.id,
            created_at=wall_now(),
            last_seen_at=wall_now(),
            ip=(request.remote_addr or "")[:64] or None,
        )
        db.session.add(row)
        audit.record("auth.signed_in", "user", user.id, actor=user)
    session.clear()
    session[SESSION_KEY] = sid
    session.permanent = False
    g.web_session = row
    return row


def end() -> None:
    """Sign out: revoke the server-side session so the old cookie no longer works."""
    row = current()
    if row is not None and row.revoked_at is None:
        with unit_of_work():
            row.revoked_at = wall_now()
            audit.record("auth.signed_out", "user", row.user_id, actor=row.user)
    session.clear()
    g.pop("web_session", None)


def _expired(row: WebSession, at: datetime) -> bool:
    cfg = current_app.config
    return at - row.last_seen_at > timedelta(
        minutes=cfg["SESSION_IDLE_MINUTES"]
    ) or at - row.created_at > timedelta(hours=cfg["SESSION_ABSOLUTE_HOURS"])


def current() -> WebSession | None:
    """The live WebSession behind this request's cookie, or None (expired ones are revoked)."""
    if "web_session" in g:
        return g.web_session
    g.web_session = None
    sid = session.get(SESSION_KEY)
    if not isinstance(sid, str) or not sid or len(sid) > 100:
        return None
    row = db.session.execute(  # the session and its user in one statement
        select(WebSession).where(WebSession.sid_hash == digest(sid)).options(joinedload(WebSession.user))
    ).scalar_one_or_none()
    if row is None or row.revoked_at is not None:
        session.pop(SESSION_KEY, None)
        return None
    at = wall_now()
    if _expired(row, at):
        with unit_of_work():
            row.revoked_at = at
            audit.record("auth.session_expired", "user", row.user_id, actor=row.user)
        session.pop(SESSION_KEY, None)
        g.session_expired = True
        return None
    if not row.user.is_active:
        return None
    if at - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = at
        db.session.commit()
    g.web_session = row
    return row


def _load_user(*_args) -> User | None:
    row = current()
    return row.user if row is not None else None


def _fresh_request_state() -> None:
    """Per-request caches live on `g`; an app context can outlive one request (tests, CLI), so the
    previous request's user must never leak into this one."""
    for key in ("web_session", "session_expired", "_login_user", "user", "csrf_token"):
        g.pop(key, None)


def init_app(app) -> None:
    app.before_request(_fresh_request_state)
    login_manager.init_app(app)
    login_manager.session_protection = None  # the server-side session is the protection
    login_manager.user_loader(_load_user)
    login_manager.request_loader(_load_user)
