"""A secret shown once, on the page a form's POST redirects to (Post/Redirect/Get).

An activation code (a patient's, R-PAT-3; an invited pharmacist's) is made by a POST and must be
shown to the person who made it exactly once, on a page that a reload cannot send again. It
crosses from the POST to that GET in the session cookie, ENCRYPTED (Fernet: AES-128-CBC and
HMAC-SHA256, with a key derived from SECRET_KEY by HKDF): Flask's session cookie is only signed,
and a readable code there (in a proxy's log, a captured Set-Cookie) together with a date of birth
would open the patient's account (QA 2026-11-26). The token also names what it is for (purpose and
subject), so it is shown on no other page, and it expires after TTL_SECONDS. The page that shows
it pops it; any other page of the app drops an unshown one first.
"""

from __future__ import annotations

import base64
import json
import time

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app, request, session

KEY = "handover_once"
TTL_SECONDS = 60  # the redirect is followed at once; a browser that did not, is shown nothing
_MARK = "rems_takes_handover"


def wall_clock() -> int:
    """Seconds since 1970 (the wall clock: CLOCK_OFFSET_DAYS moves program dates, not security timers)."""
    return int(time.time())


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"]
    secret = secret.encode() if isinstance(secret, str) else secret
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"rems web hand-over v1").derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def give(purpose: str, subject: str, secret: str) -> None:
    """Keep `secret` for the next page, the one `shows(purpose)` for this `subject`."""
    plain = json.dumps({"purpose": purpose, "subject": subject, "secret": secret}).encode()
    session[KEY] = _fernet().encrypt_at_time(plain, wall_clock()).decode()


def take(purpose: str, subject: str) -> str | None:
    """The secret handed over for this purpose and subject, once; None when there is none, it was
    shown already, it is older than TTL_SECONDS, or it was made for something else."""
    token = session.pop(KEY, None)
    if not isinstance(token, str):
        return None
    try:
        data = json.loads(_fernet().decrypt_at_time(token.encode(), TTL_SECONDS, wall_clock()))
    except (InvalidToken, ValueError):
        return None
    if not isinstance(data, dict) or data.get("purpose") != purpose or data.get("subject") != subject:
        return None
    secret = data.get("secret")
    return secret if isinstance(secret, str) else None


def shown_here(view):
    """Mark a view as a page that takes a hand-over; other pages drop an unshown one. Put it right
    under the route decorator, so the function the route registers carries the mark."""
    setattr(view, _MARK, True)
    return view


def _takes_handover(endpoint: str | None) -> bool:
    view = current_app.view_functions.get(endpoint) if endpoint else None
    return getattr(view, _MARK, False)


def init_app(app) -> None:
    cookie = app.config["SESSION_COOKIE_NAME"]

    @app.before_request
    def _drop_unshown():
        """A secret not taken by the page it was meant for leaves the cookie at the next request.
        A request without a session cookie (the API's) is not looked at: reading the session
        would add `Vary: Cookie` to its response for nothing."""
        if cookie in request.cookies and KEY in session and not _takes_handover(request.endpoint):
            session.pop(KEY)
