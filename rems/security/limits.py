"""Per-account progressive lockout for sign-in, signing and activation (api.md rate limits).

After 10 failures within 15 minutes the account answers 429 for a while; the window and count
are kept in the database (users.failed_logins / locked_until) so every worker process agrees.
Per-address limits are Flask-Limiter's job (see rems.security.ratelimit).
"""
from __future__ import annotations

from datetime import timedelta

from rems.clock import now
from rems.errors import ApiError
from rems.extensions import db

MAX_FAILURES = 10
LOCK_MINUTES = 15


def _locked(user) -> bool:
    return user.locked_until is not None and user.locked_until > now()


def check_allowed(user) -> None:
    if user is not None and _locked(user):
        raise ApiError(429, "RATE_LIMITED", "Too many failed attempts; try again in 15 minutes.")


def note_failure(user) -> None:
    """Count a failure in its own transaction, so it survives the refusal's rollback."""
    if user is None:
        return
    from rems.models import User

    db.session.rollback()
    fresh = db.session.get(User, user.id)
    fresh.failed_logins = (fresh.failed_logins or 0) + 1
    if fresh.failed_logins >= MAX_FAILURES:
        fresh.locked_until = now() + timedelta(minutes=LOCK_MINUTES * (fresh.failed_logins // MAX_FAILURES))
    db.session.commit()


def note_success(user) -> None:
    if user.failed_logins:
        user.failed_logins = 0
        user.locked_until = None


check_signing_allowed = check_allowed
note_signing_failure = note_failure
