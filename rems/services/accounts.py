"""Accounts: API tokens, activation, administrators."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from rems.clock import now
from rems.errors import ApiError
from rems.extensions import db
from rems.models import ActivationCode, ApiToken, User
from rems.security import limits
from rems.security.passwords import hash_password, password_problems, verify_password
from rems.security.tokens import digest, new_activation_code, new_token, normalise_code
from rems.services import audit
from rems.tasks import unit_of_work


def find_user(email: str) -> User | None:
    return db.session.execute(select(User).where(User.email == email.strip().lower())).scalar_one_or_none()


def authenticate(email: str, password: str) -> User:
    """Check credentials; the same INVALID_CREDENTIALS for unknown email and wrong password."""
    user = find_user(email)
    limits.check_allowed(user, email)
    # Always one argon2 operation, so an unknown email costs the same time as a wrong password.
    password_ok = verify_password(user.password_hash if user is not None else None, password)
    if user is None or not password_ok or user.status != "active":
        limits.note_failure(user, email)
        with unit_of_work():
            audit.record("auth.failed", "user", user.id if user else None,
                         after={"email": email[:254]}, actor=user)
        if password_ok and user.status == "suspended":  # the password proved who is asking: say why
            raise ApiError(403, "ACCOUNT_SUSPENDED", "This account is suspended. Contact the REMS program "
                                                     "administrator.")
        raise ApiError(401, "INVALID_CREDENTIALS", "The email or password is not correct.")
    limits.note_success(user)
    return user


def issue_token(email: str, password: str) -> tuple[str, ApiToken]:
    user = authenticate(email, password)
    token = new_token()
    with unit_of_work():
        row = ApiToken(user_id=user.id, token_hash=digest(token), created_at=now(),
                       expires_at=now() + timedelta(hours=current_app.config["TOKEN_TTL_HOURS"]))
        db.session.add(row)
        audit.record("auth.token_issued", "user", user.id, actor=user)
    return token, row


def revoke_token(token: ApiToken) -> None:
    with unit_of_work():
        token.revoked_at = now()
        audit.record("auth.token_revoked", "user", token.user_id, actor=token.user)


def validate_new_password(password: str, email: str | None, field: str = "password") -> None:
    problems = password_problems(password, email)
    if problems:
        raise ApiError.field(field, " ".join(problems), code="PASSWORD_POLICY")


def new_user(email: str, role: str, first_name: str, last_name: str, password: str | None = None,
             status: str = "active") -> User:
    """Create an account inside the caller's transaction (409 EMAIL_TAKEN if the email exists)."""
    email = email.strip().lower()
    if find_user(email) is not None:
        raise ApiError(409, "EMAIL_TAKEN", "An account with this email already exists.",
                       errors=[{"field": "email", "message": "is already registered"}])
    if password is not None:
        validate_new_password(password, email)
    user = User(email=email, role=role, first_name=first_name, last_name=last_name, status=status,
                password_hash=hash_password(password) if password else None, created_at=now())
    db.session.add(user)
    db.session.flush()
    return user


def new_activation(user: User) -> str:
    """A single-use activation code for `user`; only its hash is stored."""
    code = new_activation_code()
    db.session.add(ActivationCode(user_id=user.id, code_hash=digest(normalise_code(code)), created_at=now(),
                                  expires_at=now() + timedelta(days=current_app.config["ACTIVATION_TTL_DAYS"])))
    return code


def replace_activation(user: User) -> str:
    """A new activation code for `user`; every earlier code that could still work stops working
    (it expires now), so only the code just handed out activates the account."""
    db.session.execute(update(ActivationCode).where(
        ActivationCode.user_id == user.id, ActivationCode.used_at.is_(None),
        ActivationCode.expires_at > now()).values(expires_at=now()))
    return new_activation(user)


MAX_ACTIVATION_FAILURES = 5


def activate(code: str, password: str, date_of_birth=None) -> User:
    """Activate an account: the code works once, 5 failed attempts void it (api.md)."""
    row = db.session.execute(select(ActivationCode).where(
        ActivationCode.code_hash == digest(normalise_code(code)))).scalar_one_or_none()
    invalid = ApiError(400, "ACTIVATION_INVALID", "The activation code or date of birth is not correct, "
                       "or the code has expired or been used.")
    if row is None or row.used_at is not None or row.expires_at <= now() \
            or row.failed_attempts >= MAX_ACTIVATION_FAILURES:
        raise invalid
    user = row.user
    limits.check_allowed(user)
    if user.role == "patient" and (date_of_birth is None or user.patient.date_of_birth != date_of_birth):
        row_id = row.id
        db.session.rollback()
        fresh = db.session.get(ActivationCode, row_id)
        fresh.failed_attempts += 1
        audit.record("account.activation_failed", "user", fresh.user_id, actor=fresh.user)
        db.session.commit()
        raise invalid
    validate_new_password(password, user.email)
    with unit_of_work():
        row.used_at = now()
        user.password_hash = hash_password(password)
        user.status = "active"
        audit.record("account.activated", "user", user.id, actor=user)
    return user


def change_password(user: User, current: str, new: str, keep_session_id: int | None = None) -> User:
    """Change a signed-in user's password: the current one is re-checked; every other web session
    and API token of the account is revoked."""
    limits.check_allowed(user)
    if not verify_password(user.password_hash, current):
        limits.note_failure(user)
        raise ApiError.field("current_password", "is not correct", code="INVALID_CREDENTIALS", status=400)
    validate_new_password(new, user.email, field="new_password")
    with unit_of_work():
        user.password_hash = hash_password(new)
        limits.note_success(user)
        end_sessions(user, keep_session_id)
        audit.record("account.password_changed", "user", user.id, actor=user)
    return user


def end_sessions(user: User, keep_session_id: int | None = None) -> None:
    """Revoke every web session (but `keep_session_id`) and API token of the account, inside the
    caller's unit of work: after a password change, and when an administrator suspends the account
    (reinstated, it must sign in again rather than find its old sessions working)."""
    from rems.models import WebSession

    for row in db.session.execute(select(WebSession).where(
            WebSession.user_id == user.id, WebSession.revoked_at.is_(None))).scalars():
        if row.id != keep_session_id:
            row.revoked_at = now()
    for tok in db.session.execute(select(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))).scalars():
        tok.revoked_at = now()


def create_admin(email: str, password: str, first_name: str = "Program", last_name: str = "Administrator") -> User:
    with unit_of_work():
        user = new_user(email, "admin", first_name, last_name, password)
        audit.record("account.created", "user", user.id, after={"role": "admin", "email": user.email})
    return user


def me(user: User) -> dict:
    """The GET /me answer."""
    from rems.services.patients import patient_status

    out = {"id": user.id, "email": user.email, "role": user.role,
           "first_name": user.first_name, "last_name": user.last_name}
    if user.role == "prescriber":
        from rems.services.practice import effective_status

        out["status"] = effective_status(user.prescriber)
        out["certified_until"] = _iso(user.prescriber.certified_until)
        out["npi"] = user.prescriber.npi
    elif user.role == "pharmacist":
        from rems.services.practice import effective_status

        out["pharmacies"] = [{"ncpdp_id": m.pharmacy.ncpdp_id, "name": m.pharmacy.name,
                              "status": effective_status(m.pharmacy), "is_rsp": m.is_rsp,
                              "certified_until": _iso(m.pharmacy.certified_until)}
                             for m in user.memberships if m.active]
    elif user.role == "patient":  # R-AUD-1: the patient's own record, read as on the web home page
        out.update(patient_status(user.patient, reader=user))
    return out


def _iso(d):
    return d.isoformat() if d else None
