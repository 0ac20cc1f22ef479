"""Administration: question bank, audit verification, accounts, pregnancy cases (R-ADMIN-1)."""
from __future__ import annotations

from flask import g, jsonify

from rems.api import F, endpoint
from rems.api.schema import REASON
from rems.services import admin, audit, pharmacy_admin

CHOICE = F("object", props={"id": F("string", max_len=20, min_len=1), "text": F("string", max_len=300, min_len=1),
                            "correct": F("boolean")})
QUESTION = {"text": F("string", max_len=500, min_len=1), "explanation": F("string", max_len=1000, min_len=1),
            "choices": F("array", items=CHOICE, min_items=2, max_items=6), "active": F("boolean", required=False)}
VERSION = F("string", required=False, max_len=64, min_len=1, description=(
    "Optional optimistic concurrency: the `version` this change was decided on (from the list). When the "
    "object has changed since, nothing is saved and the answer is 409 VERSION_CONFLICT, with the current "
    "`version`. Without it the change applies to whatever the object is now."))
QUESTION_EDIT = {**QUESTION, "version": VERSION}
STATUS = {"status": F("string", enum=("active", "suspended", "revoked"), description=(
    "Allowed only where it applies (each account's `status_changes`): otherwise 409 STATUS_CHANGE_NOT_ALLOWED. "
    "`revoked` (a prescriber's certification, R-PRES-1) also suspends the account.")),
    "reason": REASON, "version": VERSION}
CERTIFICATION = {"action": F("string", enum=pharmacy_admin.ACTIONS, description=(
    "Allowed only where it applies (each pharmacy's `certification_changes`): otherwise 409 "
    "STATUS_CHANGE_NOT_ALLOWED. Suspended or revoked, every RMA request naming the pharmacy is refused with "
    "PHARMACY_NOT_CERTIFIED (R-PHAR-1); `reinstate` restores a suspended certification with its end date, and "
    "after a revocation leaves the pharmacy `pending` until its RSP signs the attestation again.")),
    "reason": REASON, "version": VERSION}


@endpoint("GET", "/admin/comprehension-questions", action="admin.manage", summary="The question bank")
def questions():
    return jsonify(questions=admin.list_questions())


@endpoint("POST", "/admin/comprehension-questions", action="admin.manage", summary="Add a question",
          body=QUESTION, status=201)
def add_question(body):
    return jsonify(admin.save_question(g.user, None, body)), 201


@endpoint("PUT", "/admin/comprehension-questions/<question_id>", action="admin.manage",
          summary="Edit a question", body=QUESTION_EDIT)
def edit_question(question_id, body):
    return jsonify(admin.save_question(g.user, question_id, body))


@endpoint("GET", "/admin/audit/verify", action="admin.manage", summary="Verify the audit chain")
def audit_verify():
    return jsonify(audit.verify())


@endpoint("GET", "/admin/users", action="admin.manage", summary="Accounts")
def users():
    return jsonify(users=admin.list_users())


@endpoint("POST", "/admin/users/<user_id>/status", action="admin.manage",
          summary="Suspend, revoke (a prescriber's certification) or reinstate",
          body=STATUS)
def user_status(user_id, body):
    return jsonify(admin.set_status(g.user, user_id, body))


@endpoint("GET", "/admin/pharmacies", action="admin.manage", summary="Pharmacies and their certification")
def pharmacies():
    return jsonify(pharmacies=pharmacy_admin.list_pharmacies())


@endpoint("POST", "/admin/pharmacies/<ncpdp_id>/certification", action="admin.manage",
          summary="Suspend, revoke or reinstate a pharmacy's certification (R-ADMIN-1, R-PHAR-1)", body=CERTIFICATION)
def pharmacy_certification(ncpdp_id, body):
    return jsonify(pharmacy_admin.change(g.user, ncpdp_id, body))


@endpoint("POST", "/admin/pregnancy-cases/<case_id>/close", action="pregnancy_case.close",
          summary="Close a pregnancy registry case (R-PT-4)", body={"reason": REASON})
def close_case(case_id, body):
    return jsonify(admin.close_case(g.user, case_id, body["reason"]))
