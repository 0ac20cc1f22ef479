"""DOCUMENT_NOT_READY (R-DOC-1): the API's 409 for a PDF not downloadable says what is true of the
document's state, keeping the contract's status and code: pending is being prepared (later than
usual after LATE_AFTER), failed could not be prepared (no "try again shortly")."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from rems.clock import now
from rems.extensions import db
from rems.models import Document


def test_document_not_ready_says_pending_or_failed(api):
    pres = api.register_prescriber(certify=False)
    doc_id = api.call("POST", "/prescribers/me/attestation", as_=pres.email, json={"signature": api.sig()},
                      expect=200).get_json()["document_id"]

    def answer():
        resp = api.call("GET", f"/documents/{doc_id}/pdf", as_=pres.email, expect=409)
        body = resp.get_json()
        assert resp.mimetype == "application/problem+json" and body["code"] == "DOCUMENT_NOT_READY"
        return body

    pending = answer()  # rendering is off in the API tests: the document stays pending
    assert pending["document_status"] == "pending" and "is being prepared" in pending["detail"]
    assert "try again shortly" in pending["detail"]
    with api.app.app_context():
        db.session.execute(sa.update(Document).where(Document.id == doc_id)
                           .values(created_at=now() - timedelta(minutes=20)))
        db.session.commit()
    late = answer()
    assert "later than usual" in late["detail"] and "shortly" not in late["detail"]
    with api.app.app_context():
        db.session.execute(sa.update(Document).where(Document.id == doc_id)
                           .values(status="failed", error="render error"))
        db.session.commit()
    failed = answer()
    assert failed["document_status"] == "failed" and "could not be prepared" in failed["detail"]
    assert "shortly" not in failed["detail"] and "being prepared" not in failed["detail"]
