"""Prescriber and pharmacy certification (R-PRES-1, R-PHAR-1)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from rems.clock import now, program, today
from rems.errors import ApiError
from rems.extensions import db
from rems.ids import is_digits
from rems.models import Pharmacy, PharmacyMember, Prescriber, User
from rems.services import accounts, audit, signatures
from rems.tasks import unit_of_work


def npi_valid(npi: str) -> bool:
    """R-PRES-1: 10 digits, Luhn check over "80840" + NPI."""
    if not is_digits(npi, 10):
        return False
    digits = [int(c) for c in "80840" + npi]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# USPS codes of the states, DC and the territories that license prescribers and pharmacies
US_STATES = frozenset("""AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM
NY NC ND OH OK OR PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR GU VI AS MP""".split())


def _state(value: str, field: str) -> str:
    state = value.strip().upper()
    if state not in US_STATES:
        raise ApiError.field(field, "is not a US state or territory code (like NY)")
    return state


def effective_status(obj) -> str:
    """pending | certified | suspended | revoked | expired (certification older than a year)."""
    if obj.status == "certified" and obj.certified_until is not None and obj.certified_until < today():
        return "expired"
    return obj.status


def require_certified(user: User) -> None:
    """Only a certified prescriber enrolls patients and records their care (R-PRES-1)."""
    if effective_status(user.prescriber) != "certified":
        raise ApiError(403, "PRESCRIBER_NOT_CERTIFIED",
                       "Only a certified prescriber can do this; sign the program attestation first.")


def register_prescriber(data: dict) -> Prescriber:
    state = _state(data["license_state"], "license_state")
    if not npi_valid(data["npi"]):
        raise ApiError.field("npi", "is not a valid NPI (10 digits with a valid check digit)", code="NPI_INVALID")
    with unit_of_work():
        if db.session.execute(select(Prescriber).where(Prescriber.npi == data["npi"])).scalar_one_or_none():
            raise ApiError(409, "NPI_TAKEN", "A prescriber with this NPI is already registered.",
                           errors=[{"field": "npi", "message": "is already registered"}])
        user = accounts.new_user(data["email"], "prescriber", data["first_name"], data["last_name"],
                                 data["password"])
        pres = Prescriber(user_id=user.id, npi=data["npi"], license_state=state,
                          license_number=data["license_number"], status="pending", created_at=now())
        db.session.add(pres)
        db.session.flush()
        audit.record("prescriber.registered", "prescriber", pres.id, after={"npi": pres.npi}, actor=user)
    return pres


_BLOCKED = {
    ("prescriber", "suspended"): "Your certification is suspended by the program administrator: you cannot sign the "
                                 "attestation until an administrator reinstates you (R-PRES-1, R-ADMIN-1).",
    ("prescriber", "revoked"): "Your certification was revoked by the program administrator: you can sign the "
                               "attestation again only after an administrator reinstates you (R-PRES-1, R-ADMIN-1).",
    ("pharmacy", "suspended"): "The pharmacy's certification is suspended by the program administrator: the "
                               "attestation can be signed again only after an administrator reinstates it "
                               "(R-PHAR-1, R-ADMIN-1).",
    ("pharmacy", "revoked"): "The pharmacy's certification was revoked by the program administrator: the "
                             "attestation can be signed again only after an administrator reinstates it "
                             "(R-PHAR-1, R-ADMIN-1).",
}


def _certify(obj, user: User, password: str, meaning: str, record_type: str, record: dict):
    """Sign and certify `obj`, which the caller read under its row lock (an administrator's suspension
    or revocation committed meanwhile is seen here, never overwritten)."""
    if obj.status in ("suspended", "revoked"):
        raise ApiError(409, "CERTIFICATION_BLOCKED", _BLOCKED[record_type, obj.status])
    before = {"status": effective_status(obj), "certified_until": obj.certified_until}
    _, doc = signatures.sign(user, password, meaning, record_type, obj.id, record)
    obj.status = "certified"
    obj.certified_at = now()
    obj.certified_until = today() + timedelta(days=program().certification_days - 1)
    audit.record(f"{record_type}.certified", record_type, obj.id, before=before,
                 after={"status": "certified", "certified_until": obj.certified_until}, actor=user)
    return doc


def attest_prescriber(user: User, password: str):
    """R-PRES-1: the signed program attestation certifies for 365 days (annual re-attestation)."""
    with unit_of_work():
        # the same row locks, in the same order, as an administrator's status change (admin.set_status):
        # a suspension or revocation at the same moment is waited for and seen, or waits for this one
        locked = db.session.get(User, user.id, with_for_update=True, populate_existing=True)
        pres = db.session.get(Prescriber, locked.prescriber.id, with_for_update=True, populate_existing=True)
        doc = _certify(pres, user, password, "prescriber_attestation", "prescriber",
                       {"npi": pres.npi, "name": user.full_name, "license_state": pres.license_state,
                        "license_number": pres.license_number, "program": program().code})
    return pres, doc


def pharmacy_by_ncpdp(ncpdp_id: str) -> Pharmacy | None:
    return db.session.execute(select(Pharmacy).where(Pharmacy.ncpdp_id == ncpdp_id)).scalar_one_or_none()


def register_pharmacy(data: dict) -> Pharmacy:
    """R-PHAR-1: the RSP registers the pharmacy; it stays pending until the RSP signs."""
    state = _state(data["address"]["state"], "address.state")
    if not npi_valid(data["npi"]):
        raise ApiError.field("npi", "is not a valid NPI (10 digits with a valid check digit)", code="NPI_INVALID")
    with unit_of_work():
        if pharmacy_by_ncpdp(data["ncpdp_id"]) is not None:
            raise ApiError(409, "NCPDP_TAKEN", "A pharmacy with this NCPDP ID is already registered.",
                           errors=[{"field": "ncpdp_id", "message": "is already registered"}])
        if db.session.execute(select(Pharmacy.id).where(Pharmacy.npi == data["npi"])).first() is not None:
            # each pharmacy location has its own NPI (type 2); a second registration is a mistake
            raise ApiError(409, "NPI_TAKEN", "A pharmacy with this NPI is already registered.",
                           errors=[{"field": "npi", "message": "is already registered"}])
        rsp = data["rsp"]
        user = accounts.new_user(rsp["email"], "pharmacist", rsp["first_name"], rsp["last_name"], rsp["password"])
        addr = data["address"]
        ph = Pharmacy(name=data["name"], ncpdp_id=data["ncpdp_id"], npi=data["npi"], address_line1=addr["line1"],
                      city=addr["city"], state=state, zip=addr["zip"], status="pending",
                      created_at=now())
        db.session.add(ph)
        db.session.flush()
        db.session.add(PharmacyMember(pharmacy_id=ph.id, user_id=user.id, is_rsp=True,
                                      license_number=rsp["license_number"], created_at=now()))
        audit.record("pharmacy.registered", "pharmacy", ph.id, after={"ncpdp_id": ph.ncpdp_id, "rsp": user.email},
                     actor=user)
    return ph


def attest_pharmacy(user: User, pharmacy: Pharmacy, password: str):
    """R-PHAR-1: the RSP's signed attestation certifies the pharmacy for 365 days. The pharmacy row is
    read again under its lock, as an administrator's certification change reads it (pharmacy_admin)."""
    with unit_of_work():
        pharmacy = db.session.get(Pharmacy, pharmacy.id, with_for_update=True, populate_existing=True)
        doc = _certify(pharmacy, user, password, "pharmacy_attestation", "pharmacy",
                       {"ncpdp_id": pharmacy.ncpdp_id, "name": pharmacy.name, "npi": pharmacy.npi,
                        "rsp": user.full_name, "program": program().code})
    return pharmacy, doc


def invite_pharmacist(rsp: User, pharmacy: Pharmacy, data: dict) -> tuple[User, str]:
    """R-PHAR-1: the RSP invites staff; each activates their own account with the code."""
    with unit_of_work():
        user = accounts.new_user(data["email"], "pharmacist", data["first_name"], data["last_name"],
                                 status="pending_activation")
        db.session.add(PharmacyMember(pharmacy_id=pharmacy.id, user_id=user.id, is_rsp=False,
                                      license_number=data["license_number"], created_at=now()))
        code = accounts.new_activation(user)
        audit.record("pharmacy.pharmacist_invited", "user", user.id,
                     after={"pharmacy": pharmacy.ncpdp_id, "email": user.email}, actor=rsp)
    return user, code


def status_changes(user: User) -> tuple[str, ...]:
    """R-ADMIN-1 / R-PRES-1: the status changes that apply to this account now. An active account
    can be suspended, a suspended one reinstated (`active`); a prescriber who holds a certification
    (signed, and not revoked since: certified, expired or suspended) can have it revoked. An account
    not activated yet has none (activating it would make it active again)."""
    if user.status == "pending_activation":
        return ()
    out = ["suspended" if user.status == "active" else "active"]
    pres = user.prescriber if user.role == "prescriber" else None
    if pres is not None and pres.status in ("certified", "suspended") and pres.certified_until is not None:
        out.append("revoked")
    return tuple(out)


def account_version(user: User) -> str:
    """What an administrator's form about this account was opened on (optimistic concurrency):
    the account's status and, for a prescriber, the certification's status and end, e.g.
    `active.certified.2027-11-25`. Any change to the account's status changes it."""
    pres = user.prescriber if user.role == "prescriber" else None
    until = pres.certified_until.isoformat() if pres is not None and pres.certified_until else ""
    return ".".join((user.status, pres.status if pres is not None else "", until))


def set_account_status(admin: User, user: User, status: str, reason: str) -> User:
    """R-ADMIN-1 / R-PRES-1: suspend, revoke or reinstate an account, in the caller's unit of work
    (admin.set_status, which checks first that the change applies). A suspended prescriber is also
    suspended as a prescriber, so none of their patients gets a new authorization. Revoking (a
    prescriber only) suspends the account and ends the certification: reinstated, the prescriber is
    `pending` and must sign the program attestation again (a reinstated suspension keeps it)."""
    pres = user.prescriber if user.role == "prescriber" else None
    before = {"status": user.status}
    if pres is not None:
        before["prescriber_status"] = pres.status
    user.status = "active" if status == "active" else "suspended"
    if user.status == "suspended":  # signed out everywhere: a reinstatement does not revive them
        accounts.end_sessions(user)
    if pres is not None:
        if status in ("suspended", "revoked") and pres.status != "revoked":
            pres.status = status
        elif status == "active" and pres.status == "suspended":
            # a certification it still holds (a revocation cleared its end: pending, sign again)
            pres.status = "certified" if pres.certified_until else "pending"
        elif status == "active" and pres.status == "revoked":
            pres.status, pres.certified_until = "pending", None
    after = {"status": user.status, "reason": reason}
    if pres is not None:
        after["prescriber_status"] = pres.status
    audit.record("account.status_changed", "user", user.id, before=before, after=after, actor=admin)
    return user
