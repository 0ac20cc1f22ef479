"""Prescriber and pharmacy registration and certification (R-PRES-1, R-PHAR-1)."""
from __future__ import annotations

from flask import g, jsonify

from rems import policy
from rems.api import F, endpoint
from rems.api.schema import NAME, PASSWORD, SIGNATURE
from rems.services import practice

STATE = F("string", pattern=r"[A-Za-z]{2}", max_len=2, min_len=2)
LICENSE = F("string", max_len=40, min_len=1)
PRESCRIBER = {"email": F("email"), "password": PASSWORD, "first_name": NAME, "last_name": NAME,
              "npi": F("string", pattern=r"[0-9]{10}", max_len=10), "license_state": STATE,
              "license_number": LICENSE}
PHARMACY = {"name": NAME, "ncpdp_id": F("string", pattern=r"[0-9]{7}", max_len=7),
            "npi": F("string", pattern=r"[0-9]{10}", max_len=10),
            "address": F("object", props={"line1": NAME, "city": NAME, "state": STATE,
                                          "zip": F("string", pattern=r"[0-9]{5}(-[0-9]{4})?", max_len=10)}),
            "rsp": F("object", props={"email": F("email"), "password": PASSWORD, "first_name": NAME,
                                      "last_name": NAME, "license_number": LICENSE})}
SIGN = {"signature": SIGNATURE}
INVITE = {"email": F("email"), "first_name": NAME, "last_name": NAME, "license_number": LICENSE}


@endpoint("POST", "/prescribers", action=None, summary="Register a prescriber", body=PRESCRIBER, status=201)
def register_prescriber(body):
    pres = practice.register_prescriber(body)
    return jsonify(id=pres.id, status=pres.status), 201


@endpoint("POST", "/prescribers/me/attestation", action="prescriber.attest",
          summary="Sign the prescriber attestation (certifies for a year)", body=SIGN)
def attest_prescriber(body):
    pres, doc = practice.attest_prescriber(g.user, body["signature"]["password"])
    return jsonify(status="certified", certified_until=pres.certified_until.isoformat(), document_id=doc.id)


@endpoint("POST", "/pharmacies", action=None, summary="Register a pharmacy and its RSP", body=PHARMACY,
          status=201)
def register_pharmacy(body):
    ph = practice.register_pharmacy(body)
    return jsonify(ncpdp_id=ph.ncpdp_id, status=ph.status), 201


def _pharmacy(action: str, ncpdp_id: str):
    ph = practice.pharmacy_by_ncpdp(ncpdp_id) if len(ncpdp_id) <= 7 else None
    policy.require(g.user, action, ph)
    return ph


@endpoint("POST", "/pharmacies/<ncpdp_id>/attestation", action="pharmacy.attest",
          summary="The RSP signs the pharmacy attestation", body=SIGN)
def attest_pharmacy(ncpdp_id, body):
    ph, doc = practice.attest_pharmacy(g.user, _pharmacy("pharmacy.attest", ncpdp_id),
                                       body["signature"]["password"])
    return jsonify(status="certified", certified_until=ph.certified_until.isoformat(), document_id=doc.id)


@endpoint("POST", "/pharmacies/<ncpdp_id>/pharmacists", action="pharmacy.invite",
          summary="The RSP invites a pharmacist", body=INVITE, status=201)
def invite_pharmacist(ncpdp_id, body):
    user, code = practice.invite_pharmacist(g.user, _pharmacy("pharmacy.invite", ncpdp_id), body)
    return jsonify(id=user.id, activation_code=code), 201
