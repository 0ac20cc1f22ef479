"""One policy function: may this user do this action to that object?

Every API endpoint and web route names an action from RULES; object checks go through `allowed`.
Role mismatch answers 403; an object the user may not see answers 404 (api.md conventions).
"""
from __future__ import annotations

from collections.abc import Callable

from rems.errors import ApiError


def _is_prescriber_of(user, patient) -> bool:
    return user.role == "prescriber" and user.prescriber is not None and patient.prescriber_id == user.prescriber.id


def _is_member(user, pharmacy_id, rsp_only=False) -> bool:
    return user.role == "pharmacist" and any(
        m.pharmacy_id == pharmacy_id and m.active and (m.is_rsp or not rsp_only) for m in user.memberships)


def _document_reader(user, doc) -> bool:
    if user.role == "admin" or doc.signature.signer_id == user.id:
        return True
    patient = doc.patient
    return patient is not None and (_is_prescriber_of(user, patient) or patient.user_id == user.id)


def _authorization_reader(user, rma) -> bool:
    return user.role == "admin" or _is_member(user, rma.pharmacy_id) or (
        user.role == "prescriber" and user.prescriber is not None and rma.prescriber_id == user.prescriber.id)


# action -> (roles allowed at all, object check or None)
RULES: dict[str, tuple[tuple[str, ...], Callable | None]] = {
    "account.self": (("prescriber", "pharmacist", "patient", "admin"), None),
    "prescriber.attest": (("prescriber",), None),
    "pharmacy.attest": (("pharmacist",), lambda u, ph: _is_member(u, ph.id, rsp_only=True)),
    "pharmacy.invite": (("pharmacist",), lambda u, ph: _is_member(u, ph.id, rsp_only=True)),
    "pharmacy.view": (("pharmacist", "admin"), lambda u, ph: u.role == "admin" or _is_member(u, ph.id)),
    "patient.enroll": (("prescriber",), None),
    "patient.list": (("prescriber", "admin"), None),
    "patient.read": (("prescriber", "admin"), lambda u, p: u.role == "admin" or _is_prescriber_of(u, p)),
    "patient.record": (("prescriber",), _is_prescriber_of),
    "patient.self": (("patient",), None),
    "dispense.check": (("pharmacist",), None),
    "authorization.read": (("pharmacist", "prescriber", "admin"), _authorization_reader),
    "authorization.reverse": (("pharmacist",), lambda u, rma: _is_member(u, rma.pharmacy_id)),
    "document.read": (("prescriber", "pharmacist", "patient", "admin"), _document_reader),
    "admin.manage": (("admin",), None),
    "pregnancy_case.close": (("admin",), None),
}


def allowed(user, action: str, obj=None) -> bool:
    roles, check = RULES[action]
    if user is None or not getattr(user, "is_active", False) or user.role not in roles:
        return False
    return obj is None or check is None or bool(check(user, obj))


def require_role(user, action: str) -> None:
    roles, _ = RULES[action]
    if user.role not in roles:
        raise ApiError(403, "FORBIDDEN", "Your role may not do this.")


def require(user, action: str, obj=None) -> None:
    """403 for the wrong role; 404 for an object this user may not see."""
    require_role(user, action)
    if obj is None or not allowed(user, action, obj):
        raise ApiError(404, "NOT_FOUND", "No such record.")
