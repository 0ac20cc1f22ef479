"""R-SIG-1 e-signatures: password re-entered at each signing; the signature row records signer,
printed name, role, meaning, UTC time and the SHA-256 of the canonical signed record.
R-DOC-1: each signature queues its PDF attestation after commit."""
from __future__ import annotations

from rems import tasks
from rems.clock import now, program
from rems.errors import ApiError
from rems.extensions import db
from rems.models import Document, Signature, User
from rems.security.passwords import verify_password
from rems.services import audit
from rems.services.canonical import canonical, sha256_hex

MEANINGS = {
    "prescriber_attestation": "I attest that I know the risks of isotretinoin and will follow every "
                              "requirement of the REMS program for each patient I prescribe it to.",
    "pharmacy_attestation": "As Responsible Site Pharmacist I attest that this pharmacy will dispense "
                            "isotretinoin only with a valid authorization and will train its staff.",
    "patient_consent": "I have read and understood the patient information and agree to the program's "
                       "requirements, including the risk of severe birth defects.",
    "counseling": "I counseled this patient about the risks of isotretinoin and the program's requirements.",
    "visit": "I confirm this office visit with the patient.",
    "monthly_attestation": "I answered this month's questions, confirm my contraception, and understand "
                           "I must not get pregnant or donate blood during treatment and for {after_days} "
                           "days after.",
}


def meaning(key: str) -> str:
    """The signature's meaning as printed; program numbers come from the program definition (R-END-2)."""
    return MEANINGS[key].format(after_days=program().post_treatment_contraception_days)


def check_password(user: User, password: str | None) -> None:
    """Re-authentication for a signature; 401 SIGNATURE_INVALID and nothing recorded."""
    from rems.security.limits import check_signing_allowed, note_signing_failure

    check_signing_allowed(user)
    if not isinstance(password, str) or not verify_password(user.password_hash, password):
        note_signing_failure(user)
        raise ApiError(401, "SIGNATURE_INVALID", "The password does not match; nothing was signed.")


def sign(user: User, password: str | None, meaning_key: str, record_type: str, record_id: int,
         record: dict, patient_id: int | None = None) -> tuple[Signature, Document]:
    """Sign `record` (already flushed) in the caller's transaction; queue its PDF after commit."""
    if user.role == "admin":  # R-ADMIN-1: an administrator never signs clinical records
        raise ApiError(403, "FORBIDDEN", "Administrators do not sign records.")
    check_password(user, password)
    body = canonical({"type": record_type, "id": record_id, "record": record})
    sig = Signature(signer_id=user.id, printed_name=user.full_name, role=user.role,
                    meaning=meaning(meaning_key), signed_at=now(), record_type=record_type,
                    record_id=record_id, record_sha256=sha256_hex(body), record_canonical=body)
    db.session.add(sig)
    db.session.flush()
    doc = Document(signature_id=sig.id, status="pending", patient_id=patient_id, created_at=now())
    db.session.add(doc)
    db.session.flush()
    audit.record("signature.created", "signature", sig.id, patient_id=patient_id,
                 after={"meaning": meaning_key, "record_type": record_type, "record_id": record_id,
                        "record_sha256": sig.record_sha256, "document_id": doc.id}, actor=user)
    tasks.enqueue("rems.render_document", doc.id)
    return sig, doc
