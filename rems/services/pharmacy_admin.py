"""An administrator suspends, revokes and reinstates a pharmacy's certification (R-ADMIN-1, R-PHAR-1).

Suspended or revoked, the pharmacy is not certified: the engine refuses every RMA request naming it
with PHARMACY_NOT_CERTIFIED (R-LOOP-1), its RSP cannot sign the attestation (practice._certify) and it
gets no certification-ending reminder (R-REM-1 selects certified pharmacies only). Reinstating a
suspension restores the certification it held (status and end date); reinstating a revocation leaves
it `pending`, so the RSP signs the pharmacy attestation again. As with accounts (admin.set_status),
the form carries the state it was opened on (`version`), the row is read again under its lock, only
the applicable changes are allowed, and the change, its reason and its before/after are audited
(R-AUD-1); the pharmacy's pharmacists are told in the app and by email.
"""
from __future__ import annotations

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from rems.clock import today
from rems.errors import ApiError
from rems.extensions import db
from rems.ids import is_digits
from rems.models import AuditEntry, Authorization, Pharmacy, PharmacyMember, User
from rems.services import admin_changes, audit, notify
from rems.services.practice import effective_status
from rems.tasks import unit_of_work

ACTIONS = ("suspend", "revoke", "reinstate")
STATUS_AFTER = {"suspend": "suspended", "revoke": "revoked"}
NOTE_KIND = "pharmacy_certification"


def certification_changes(ph: Pharmacy) -> tuple[str, ...]:
    """What applies now: a pending or certified (also expired) pharmacy can be suspended; one that holds
    a signed certification (certified, expired or suspended, with an end date) can have it revoked; a
    suspended or revoked one can be reinstated."""
    if ph.status in ("suspended", "revoked"):
        out = ["reinstate"]
    else:
        out = ["suspend"]
    if ph.status in ("certified", "suspended") and ph.certified_until is not None:
        out.append("revoke")
    return tuple(out)


def pharmacy_version(ph: Pharmacy) -> str:
    """What an administrator's form was opened on: `certified.2027-11-25`, `pending.` (optimistic concurrency)."""
    return f"{ph.status}.{ph.certified_until.isoformat() if ph.certified_until else ''}"


def serialize(ph: Pharmacy) -> dict:
    members = [m for m in ph.members if m.active]
    return {"ncpdp_id": ph.ncpdp_id, "name": ph.name, "npi": ph.npi, "status": effective_status(ph),
            "certified_until": ph.certified_until.isoformat() if ph.certified_until else None,
            "certification_changes": list(certification_changes(ph)), "version": pharmacy_version(ph),
            "pharmacists": [{"id": m.user.id, "email": m.user.email, "name": m.user.full_name,
                             "is_rsp": m.is_rsp, "status": m.user.status} for m in members]}


def _listing():
    return select(Pharmacy).options(selectinload(Pharmacy.members).selectinload(PharmacyMember.user))


def list_pharmacies() -> list[dict]:
    """Every pharmacy with its certification, the changes that apply and its pharmacists (no patient data)."""
    return [serialize(ph) for ph in db.session.execute(_listing().order_by(Pharmacy.name, Pharmacy.id)).scalars()]


def search(args):
    """The admin page's list: by name or NCPDP ID, paginated (admin_queries.Page)."""
    from rems.services.admin_queries import _like, _page, _paginate, _text

    q = _text(args, "q")
    stmt = _listing().order_by(Pharmacy.name, Pharmacy.id)
    if q:
        stmt = stmt.where(or_(func.lower(Pharmacy.name).like(_like(q.casefold()), escape="\\"),
                              Pharmacy.ncpdp_id == q))
    return _paginate(stmt, _page(args)), {"q": q}


def _locked(ncpdp_id, lock: bool) -> Pharmacy:
    stmt = select(Pharmacy).where(Pharmacy.ncpdp_id == ncpdp_id)
    if lock:  # read again under the row lock (PostgreSQL), whatever the session held
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    ph = db.session.execute(stmt).scalar_one_or_none() if isinstance(ncpdp_id, str) and is_digits(ncpdp_id, 7) else None
    if ph is None:
        raise ApiError(404, "NOT_FOUND", "No such pharmacy.")
    return ph


def _check(ph: Pharmacy, data: dict) -> None:
    action = data["action"]
    if action not in ACTIONS:
        raise ApiError.field("action", f"must be one of {', '.join(ACTIONS)}")
    if data.get("version") is not None and data["version"] != pharmacy_version(ph):
        raise conflict(ph, data["version"])
    if action not in certification_changes(ph):
        raise ApiError(409, "STATUS_CHANGE_NOT_ALLOWED", _not_applicable(ph, action))


def _not_applicable(ph: Pharmacy, action: str) -> str:
    name = f"{ph.name} (NCPDP {ph.ncpdp_id})"
    if action == "reinstate":
        return f"The certification of {name} is not suspended or revoked: there is nothing to reinstate."
    if ph.status == "revoked":
        return f"The certification of {name} is already revoked."
    if action == "suspend":
        return f"The certification of {name} is already suspended."
    return f"{name} holds no certification to revoke ({ph.status}: the pharmacy attestation is not signed)."


def conflict(ph: Pharmacy, opened: str) -> ApiError:
    """The form was opened on `opened`; say who changed the certification, when, and from what to what."""
    entry = db.session.execute(
        select(AuditEntry).where(and_(AuditEntry.object_type == "pharmacy", AuditEntry.object_id == str(ph.id),
                                      AuditEntry.action.in_(("pharmacy.certification_changed", "pharmacy.certified"))))
        .order_by(AuditEntry.id.desc()).limit(1)).scalar()
    by, at = admin_changes._actor(entry)
    now_ = pharmacy_version(ph)
    old, new = (opened.split(".", 1) + [""])[:2], now_.split(".", 1)
    parts = [f"{label} {admin_changes._words(a)} → {admin_changes._words(b)}"
             for label, a, b in zip(("certification", "certified until"), old, new, strict=True) if a != b]
    return ApiError(409, "VERSION_CONFLICT", f"The certification of {ph.name} (NCPDP {ph.ncpdp_id}) was changed{by}"
                                             f"{at} since you opened this page: {'; '.join(parts) or 'it changed'}. "
                                             "Review and try again.", version=now_)


def _date(d) -> str:
    return f"{d:%b} {d.day}, {d.year}"


def consequences(ph: Pharmacy, action: str) -> list[str]:
    """What suspending or revoking will do, in plain words, from the rules and the services."""
    name, members = ph.name, [m for m in ph.members if m.active and m.user.status == "active"]
    open_rmas = db.session.execute(select(func.count()).select_from(Authorization).where(
        Authorization.pharmacy_id == ph.id, Authorization.status == "authorized",
        Authorization.do_not_dispense_after >= today())).scalar_one()
    who = ", ".join(m.user.full_name + (" (RSP)" if m.is_rsp else "") for m in members) or "none active"
    out = [
        f"Every RMA request and eligibility check naming NCPDP {ph.ncpdp_id} will be refused with "
        "PHARMACY_NOT_CERTIFIED (R-PHAR-1, R-LOOP-1) until an administrator reinstates the certification.",
        f"Its pharmacists ({who}) keep their accounts: they can still sign in, see the pharmacy's RMAs and "
        "reverse them. Each is told by a message and an email.",
        ("It holds no RMA that can still be filled." if open_rmas == 0 else
         f"{open_rmas} RMA{'' if open_rmas == 1 else 's'} it already obtained that can still be filled "
         f"{'is' if open_rmas == 1 else 'are'} not withdrawn: each stays valid until its \"do not dispense after\" "
         "date unless the pharmacy reverses it."),
        "The Responsible Site Pharmacist cannot sign the pharmacy attestation, and the pharmacy gets no "
        "certification-ending reminders (R-REM-1), until it is reinstated.",
    ]
    if action == "revoke":
        until = (f" (valid until {_date(ph.certified_until)})"
                 if ph.certified_until is not None and effective_status(ph) == "certified" else "")
        out.append(f"Its certification{until} is revoked. Reinstating it later does not restore it: the "
                   "Responsible Site Pharmacist must sign the pharmacy attestation again (R-PHAR-1).")
    elif ph.certified_until is not None:
        out.append(f"Reinstating restores the certification it holds now (until {_date(ph.certified_until)}); "
                   f"{name} is not revoked.")
    else:
        out.append("Reinstating returns it to pending: it is not certified yet (the attestation is not signed).")
    return out


def preview(admin: User, ncpdp_id, data: dict) -> dict:
    """For the confirmation page: the pharmacy and what the change will do; refused as `change` would
    refuse it. Changes nothing."""
    ph = _locked(ncpdp_id, lock=False)
    _check(ph, data)
    return {"pharmacy": ph, "action": data["action"], "consequences": consequences(ph, data["action"])}


def change(admin: User, ncpdp_id, data: dict) -> dict:
    """R-ADMIN-1 / R-PHAR-1: suspend, revoke or reinstate, with the reason, in one transaction."""
    with unit_of_work():
        ph = _locked(ncpdp_id, lock=True)
        _check(ph, data)
        action, reason = data["action"], data["reason"]
        before = {"status": ph.status, "certified_until": ph.certified_until}
        if action in STATUS_AFTER:
            ph.status = STATUS_AFTER[action]  # the end date is kept: a reinstated suspension restores it
        elif ph.status == "revoked":
            ph.status, ph.certified_until = "pending", None  # R-PHAR-1: the RSP signs again
        else:
            ph.status = "certified" if ph.certified_until is not None else "pending"
        audit.record("pharmacy.certification_changed", "pharmacy", ph.id, before=before,
                     after={"status": ph.status, "certified_until": ph.certified_until, "reason": reason,
                            "action": action}, actor=admin)
        _tell_pharmacists(ph, action, reason)
    return serialize(ph)


def _tell_pharmacists(ph: Pharmacy, action: str, reason: str) -> None:
    """The RSP and staff (active accounts) get a message and its email, saying what it means for them."""
    label = f"{ph.name} (NCPDP {ph.ncpdp_id})"
    if action == "reinstate" and ph.status == "certified":
        title = f"{ph.name}: certification reinstated"
        body = (f"The program administrator reinstated the certification of {label}: it is certified until "
                f"{_date(ph.certified_until)} and RMAs can be obtained for it again.")
    elif action == "reinstate":
        title = f"{ph.name}: certification reinstated, attestation needed"
        body = (f"The program administrator reinstated {label}, which is not certified yet: its Responsible Site "
                "Pharmacist must sign the pharmacy attestation before RMAs can be obtained for it.")
    else:
        verb = "suspended" if action == "suspend" else "revoked"
        title = f"{ph.name}: certification {verb}"
        after = ("the Responsible Site Pharmacist must sign the pharmacy attestation again once an administrator "
                 "reinstates it" if action == "revoke" else "an administrator can reinstate it")
        body = (f"The program administrator {verb} the certification of {label}. Every RMA request for this "
                "pharmacy is refused (PHARMACY_NOT_CERTIFIED) and the attestation cannot be signed; RMAs already "
                f"issued are not withdrawn and can still be reversed. To be certified again, {after}.")
    body += f" Reason given: {reason.rstrip('.')}."
    for m in ph.members:
        if m.active and m.user.status == "active":
            notify.notify(m.user, NOTE_KIND, title, body)
