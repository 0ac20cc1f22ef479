"""Per-account progressive lockout for sign-in, signing and activation (api.md rate limits).

"After 10 failures in 15 minutes that account answers 429 for a while":
- failures are counted per account identifier (the normalised email) in a 15-minute moving window
  in the rate-limit storage (Redis or memory), for known and unknown emails alike, so a lockout
  cannot be used to discover which emails have accounts;
- for a real account the lock itself lives in the database (users.locked_until, on the service
  clock) so every worker process agrees; each further lockout since the last success is longer
  (15, 30, 45 ... minutes: users.failed_logins counts failures since the last success).
Per-address limits are Flask-Limiter's job (rems.security.ratelimit).
"""
from __future__ import annotations

import time
from datetime import timedelta

from flask import current_app, g, has_app_context
from limits import RateLimitItemPerMinute

from rems.clock import now
from rems.errors import ApiError
from rems.extensions import db
from rems.security.tokens import digest

MAX_FAILURES = 10
WINDOW_MINUTES = 15
LOCK_MINUTES = 15
WINDOW = RateLimitItemPerMinute(MAX_FAILURES, WINDOW_MINUTES, namespace="rems-account")


def _key(user=None, email: str | None = None) -> str:
    ident = getattr(user, "email", None) or email or ""
    return digest(ident.strip().lower())


def _strategy():
    if not has_app_context():
        return None
    from rems.security.ratelimit import strategy

    return strategy()


def _refuse(seconds: float):
    g.rems_retry_after = max(1, int(seconds))
    return ApiError(429, "RATE_LIMITED", "Too many failed attempts; try again later.",
                    retry_after=g.rems_retry_after)


def _window(key: str):
    """(failures in the window, seconds until it frees a slot) or None without storage."""
    strat = _strategy()
    if strat is None:
        return None
    try:
        stats = strat.get_window_stats(WINDOW, key)
    except Exception:  # noqa: BLE001 - storage down: the database lock still protects accounts
        current_app.logger.warning("rate-limit storage unreachable; account window skipped")
        return None
    return MAX_FAILURES - stats.remaining, stats.reset_time - time.time()


def _locked(user) -> bool:
    return user.locked_until is not None and user.locked_until > now()


def check_allowed(user, email: str | None = None) -> None:
    """429 when this account (or this unknown email) is locked out."""
    if user is not None:
        if _locked(user):
            raise _refuse((user.locked_until - now()).total_seconds())
        return
    window = _window(_key(email=email)) if email else None
    if window is not None and window[0] >= MAX_FAILURES:
        raise _refuse(window[1])


def note_failure(user, email: str | None = None) -> None:
    """Count a failure; for a real account, in its own transaction so it survives the refusal's rollback."""
    strat = _strategy()
    key = _key(user, email)
    if strat is not None:
        try:
            strat.hit(WINDOW, key)
        except Exception:  # noqa: BLE001 - storage down: fall back to the database count below
            strat = None
    if user is None:
        return
    from rems.models import User

    db.session.rollback()
    fresh = db.session.get(User, user.id)
    fresh.failed_logins = (fresh.failed_logins or 0) + 1
    window = _window(key) if strat is not None else None
    in_window = window[0] if window is not None else fresh.failed_logins
    if in_window >= MAX_FAILURES:
        lockouts = max(1, fresh.failed_logins // MAX_FAILURES)
        fresh.locked_until = now() + timedelta(minutes=LOCK_MINUTES * lockouts)
    db.session.commit()


def note_success(user) -> None:
    strat = _strategy()
    if strat is not None:
        try:
            strat.clear(WINDOW, _key(user))
        except Exception:  # noqa: BLE001, S110 - nothing to clear when the storage is down
            pass
    if user.failed_logins or user.locked_until:
        user.failed_logins = 0
        user.locked_until = None


def check_signing_allowed(user) -> None:
    check_allowed(user)


def note_signing_failure(user) -> None:
    """A wrong password at signing: counted like a failed sign-in and audited (21 CFR 11.300(d))."""
    from rems.services import audit

    note_failure(user)
    audit.record("signature.failed", "user", user.id, actor=user)
    db.session.commit()
