"""Electronic signatures (21 CFR 11.50, 11.70, 11.100, 11.200; R-SIG-1)."""
from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from tests.support.factories import PASSWORD


def _signatures(user):
    from rems.extensions import db
    from rems.models import Signature

    return db.session.execute(sa.select(Signature).where(Signature.signer_id == user.id)).scalars().all()


def test_signature_manifests_printed_name_time_and_meaning(client, factory, token_for):
    """11.50: the signed record shows who signed, when, and what the signature means."""
    prescriber = factory.prescriber()
    (sig,) = _signatures(prescriber.user)
    assert sig.printed_name == prescriber.user.full_name and sig.role == "prescriber"
    assert sig.signed_at.tzinfo is not None and "attest" in sig.meaning
    from rems.extensions import db
    from rems.models import Document

    doc = db.session.execute(sa.select(Document).where(Document.signature_id == sig.id)).scalar_one()
    body = client.get(f"/api/v1/documents/{doc.id}", headers=token_for(prescriber.user)).get_json()
    assert body["meaning"] == sig.meaning and body["signed_at"] == sig.signed_at.isoformat()
    assert body["signer"] == sig.printed_name


def test_signature_is_linked_to_the_exact_record(factory):
    """11.70: the signature carries the SHA-256 of the canonical signed record; it cannot be moved
    to another record without the hash disagreeing, and the row itself is append-only."""
    prescriber = factory.prescriber()
    (sig,) = _signatures(prescriber.user)
    assert sig.record_sha256 == hashlib.sha256(sig.record_canonical.encode()).hexdigest()
    assert f'"id":{sig.record_id}' in sig.record_canonical.replace(" ", "")


def test_administrators_cannot_sign(app, factory):
    """R-ADMIN-1 / 11.100: signatures belong to the clinicians and patients who make them."""
    from rems.errors import ApiError
    from rems.services.signatures import sign

    admin = factory.admin()
    with pytest.raises(ApiError) as err:
        sign(admin, PASSWORD, "visit", "visit", 1, {"x": 1})
    assert err.value.status == 403


def test_each_signing_needs_the_password_again(client, factory, token_for):
    """11.200(a)(1): both components (identity from the session, password re-entered) at each signing."""
    from rems.clock import today

    prescriber = factory.prescriber()
    patient = factory.patient(prescriber)
    headers = token_for(prescriber.user)
    url = f"/api/v1/patients/{patient.rems_id}/visits"
    body = {"visit_date": today().isoformat(), "counseled": True}
    assert client.post(url, json=body, headers=headers).status_code == 422  # no signature: refused
    body["signature"] = {"password": PASSWORD}
    assert client.post(url, json=body, headers=headers).status_code == 201
    assert client.post(url, json={**body, "signature": {"password": "a guess at it"}},
                       headers=headers).status_code == 401


def test_accounts_are_unique_per_email(client, factory):
    """11.100(a) / HIPAA 164.312(a)(2)(i): one person, one account identifier."""
    prescriber = factory.prescriber()
    resp = client.post("/api/v1/prescribers", json={
        "email": prescriber.user.email.upper(), "password": PASSWORD, "first_name": "Copy", "last_name": "Cat",
        "npi": "1234567893", "license_state": "NY", "license_number": "C1"})
    assert resp.status_code == 409
