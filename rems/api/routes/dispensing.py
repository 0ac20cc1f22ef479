"""Pharmacy dispensing: eligibility, RMAs, reversal (R-RMA-1..6)."""
from __future__ import annotations

from flask import g, jsonify, request

from rems.api import F, endpoint
from rems.api.schema import REASON
from rems.ids import SEPARATORS
from rems.services import dispensing

# The REMS ID as printed or read aloud ("5568 799 828") is the same ID: spaces and dashes are dropped
# before the look-up, for every ID alike (R-RMA-6: unknown ID and wrong date of birth still answer alike).
REMS_ID = F("string", max_len=12, min_len=1, ignore=SEPARATORS,
            description="The patient's REMS ID (10 digits); spaces and dashes are ignored, then at most 12 "
                        "characters.")
LOOKUP = {"rems_id": REMS_ID, "date_of_birth": F("date"),
          "prescriber_npi": F("string", max_len=10, min_len=1, ignore=SEPARATORS,
                              description="The prescriber's NPI (10 digits); spaces and dashes are ignored, then "
                                          "at most 10 characters."),
          "pharmacy_ncpdp_id": F("string", max_len=7, min_len=1)}
AUTHORIZE = {**LOOKUP, "days_supply": F("integer", minimum=1, maximum=10_000),
             "quantity": F("integer", minimum=1, maximum=10_000)}


@endpoint("GET", "/eligibility", action="dispense.check", summary="May this patient be dispensed now?",
          query=LOOKUP)
def eligibility(query):
    return jsonify(dispensing.eligibility(g.user, query))


@endpoint("POST", "/authorizations", action="dispense.check", summary="Obtain a dispense authorization (RMA)",
          body=AUTHORIZE, status=201,
          headers={"Idempotency-Key": (200, "Replaying the same key and body answers as the first request did; "
                                            "the same key with another body is 422 IDEMPOTENCY_KEY_REUSED.")})
def authorize(body):
    status, payload = dispensing.authorize(g.user, body, request.headers.get("Idempotency-Key"))
    resp = jsonify(payload)
    resp.status_code = status
    if status >= 400:
        resp.mimetype = "application/problem+json"
    return resp


@endpoint("GET", "/authorizations/<rma>", action="authorization.read", summary="One RMA")
def get_authorization(rma):
    return jsonify(dispensing.serialize(dispensing.get_authorization(g.user, rma)))


@endpoint("POST", "/authorizations/<rma>/reversal", action="authorization.reverse", summary="Reverse an RMA",
          body={"reason": REASON})
def reverse(rma, body):
    return jsonify(dispensing.serialize(dispensing.reverse(g.user, rma, body["reason"])))
