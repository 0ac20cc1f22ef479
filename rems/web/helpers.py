"""Shared helpers for the web pages: the role decorator, form error plumbing, date sentences."""

from __future__ import annotations

from datetime import date
from functools import wraps

from flask import flash, g, redirect, request, url_for
from flask_login import current_user

from rems import policy
from rems.errors import ApiError
from workflows.messages import long


def sign_in_redirect():
    if g.get("session_expired"):
        flash("You were signed out because of inactivity. Please sign in again.", "info")
    return redirect(url_for("auth.sign_in", next=request.full_path if request.method == "GET" else None))


def role_required(action: str):
    """Every web route goes through the policy: not signed in -> sign-in page; wrong role -> 403."""

    def deco(fn):
        @wraps(fn)
        def view(*args, **kwargs):
            if not current_user.is_authenticated:
                return sign_in_redirect()
            policy.require_role(current_user, action)
            return fn(*args, **kwargs)

        view.rems_action = action
        return view

    return deco


def require(action: str, obj) -> None:
    """Object check through the policy (404 for something this user may not see)."""
    policy.require(current_user._get_current_object(), action, obj)


def apply_api_error(form, err: ApiError, fields: dict[str, str] | None = None) -> None:
    """Put a service error on the form: field errors on their fields, the rest as a form message.

    `fields` maps service field names to form field names when they differ. A wrong signing
    password (R-SIG-1) goes on the form's password field, so the error summary links to it. A
    server-side error (5xx) is not the user's to fix: it is raised again for the error page.
    """
    if err.status >= 500:
        raise err
    if err.code == "SIGNATURE_INVALID" and hasattr(form, "password"):
        form.password.errors = [*form.password.errors, err.detail]
        return
    fields = fields or {}
    placed = False
    for item in err.errors or []:
        name = fields.get(item.get("field"), item.get("field"))
        f = getattr(form, name, None) if name else None
        if f is not None and hasattr(f, "errors"):
            f.errors = list(f.errors or []) + [_sentence(f.label.text, item.get("message") or err.detail)]
            placed = True
    if not placed:
        form.form_errors.append(err.detail)


def _sentence(label: str, message: str) -> str:
    """Service field messages are fragments ("is not a valid NPI"): lead with the field's label."""
    message = message.strip()
    if message[:1].islower():
        return f"{label} {message}"
    return message


def long_date(d: date | str | None) -> str:
    """'Tuesday, Dec 2' (with the year when it is not this year's): the engine's long form
    (workflows.messages.long), so a page's own dates and its next steps read alike."""
    if d is None:
        return ""
    if isinstance(d, str):
        d = date.fromisoformat(d)
    from rems.clock import today

    return long(d, today())


def days_until(d: date | str | None) -> int | None:
    if d is None:
        return None
    if isinstance(d, str):
        d = date.fromisoformat(d)
    from rems.clock import today

    return (d - today()).days


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are accepted as a post-sign-in destination.

    Control characters and whitespace are refused too: browsers drop a tab or a newline from a
    URL, so "/<TAB>/evil.example" would leave as "//evil.example" (another site), and a newline
    cannot go into a Location header at all (it answered 500)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    return target


def long_datetime(dt) -> str:
    """An instant in the program's time zone: 'Tuesday, Dec 2 at 3:04 PM' (its day as long_date
    words it, the year named when it is not this year's)."""
    if dt is None:
        return ""
    from zoneinfo import ZoneInfo

    from rems.clock import program

    local = dt.astimezone(ZoneInfo(program().timezone))
    hour = local.strftime("%I").lstrip("0")
    return f"{long_date(local.date())} at {hour}:{local:%M %p}"


BADGE_TONES = {
    "ok": {
        "met",
        "ok",
        "active",
        "certified",
        "eligible",
        "authorized",
        "signed",
        "ready",
        "complete",
        "completed",
        "closed",
    },
    "warn": {"pending", "pending_activation", "unmet", "enrolled", "due", "open", "in_progress", "expiring"},
    "bad": {
        "refused",
        "suspended",
        "revoked",
        "reversed",
        "expired",
        "ended",
        "failed",
        "pregnancy_reported",
        "not_eligible",
    },
}


def badge_tone(status) -> str:
    """The colour family of a status badge: ok, warn, bad or neutral."""
    key = str(status).lower()
    return next((tone for tone, keys in BADGE_TONES.items() if key in keys), "neutral")
