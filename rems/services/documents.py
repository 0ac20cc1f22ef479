"""R-DOC-1: signed PDF attestations rendered with WeasyPrint, their SHA-256 stored and verifiable.

Rendering is fed plain values only and uses a URL fetcher that serves the project's own packaged
assets and refuses everything else (no file:, no network), so a hostile value in a record cannot
make the renderer read a local file or open a connection.
"""
from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app, render_template
from sqlalchemy import select

from rems import policy
from rems.clock import now, program
from rems.errors import ApiError
from rems.extensions import db
from rems.ids import parse_id
from rems.models import Document, Signature
from rems.services import audit
from rems.tasks import unit_of_work

ASSETS = Path(__file__).resolve().parent.parent / "static" / "pdf"
ASSET_SCHEME = "rems-asset:"
# The worker enforces soft/hard time limits (worker/celery_app.py); in-process rendering is bounded
# here: the caller stops waiting and the document is marked failed (the thread finishes on its own).
RENDER_TIMEOUT_SECONDS = 60
_renderer = ThreadPoolExecutor(max_workers=2, thread_name_prefix="rems-pdf")
TITLES = {
    "prescriber": "Prescriber program attestation",
    "pharmacy": "Pharmacy program attestation",
    "consent": "Patient informed consent",
    "attestation": "Patient monthly attestation",
    "visit": "Prescriber visit confirmation",
}


class FetchRefused(ValueError):
    pass


class RenderTimeout(RuntimeError):
    pass


def safe_url_fetcher(url: str, *args, **kwargs):
    """Serve only `rems-asset:NAME` from the packaged pdf assets; refuse every other URL."""
    if not url.startswith(ASSET_SCHEME):
        raise FetchRefused(f"refused to fetch {url[:80]!r}")
    name = url[len(ASSET_SCHEME):]
    path = (ASSETS / name).resolve()
    if path.parent != ASSETS.resolve() or not path.is_file():
        raise FetchRefused(f"no such asset {name[:40]!r}")
    from weasyprint.urls import URLFetcherResponse

    return URLFetcherResponse(url=url, body=path.read_bytes(),
                              headers={"Content-Type": "text/css" if name.endswith(".css") else
                                       "application/octet-stream"})


@lru_cache(maxsize=1)
def _fetcher():
    """WeasyPrint (>= 68) wants a URLFetcher instance; ours never opens anything itself and answers
    through `safe_url_fetcher` (a refusal is a skipped resource, not a failed document)."""
    from weasyprint.urls import URLFetcher

    class SafeFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            return safe_url_fetcher(url)

    return SafeFetcher(allowed_protocols=(), allow_redirects=False, fail_on_errors=False)


def manifestation(sig: Signature) -> dict:
    """The plain values printed on the attestation (R-SIG-1 manifestation)."""
    prog = program()
    local = sig.signed_at.astimezone(ZoneInfo(prog.timezone))
    return {
        "program": prog.name,
        "title": TITLES.get(sig.record_type, "Signed record"),
        "printed_name": sig.printed_name,
        "role": sig.role.capitalize(),
        "meaning": sig.meaning,
        "signed_local": local.strftime("%B %-d, %Y at %-I:%M:%S %p %Z"),
        "signed_utc": sig.signed_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "record_type": sig.record_type.replace("_", " "),
        "record_id": sig.record_id,
        "record_sha256": sig.record_sha256,
        "signature_id": sig.id,
        "post_treatment_days": prog.post_treatment_contraception_days,  # R-END-2, R-CON-3
        "guardian_name": _guardian_name(sig),
        "answered": _answered(sig),
    }


def _answered(sig: Signature) -> list[dict]:
    """R-ATT-1, R-SIG-1: a monthly attestation's questions with the answers chosen, as the signed
    record holds them (records signed before they held the words list only ids: nothing shown)."""
    if sig.record_type != "attestation":
        return []
    questions = (json.loads(sig.record_canonical).get("record") or {}).get("questions") or []
    return [q for q in questions if isinstance(q, dict) and q.get("question")]


def _guardian_name(sig: Signature) -> str | None:
    """R-PAT-3: the parent or guardian a patient under 18 named on the consent, from the signed
    record itself (the document of a minor's consent must say who agreed with them)."""
    if sig.record_type != "consent":
        return None
    record = json.loads(sig.record_canonical).get("record") or {}
    return record.get("guardian_name") or None


def render_html(values: dict) -> str:
    return render_template("pdf/attestation.html", **values)


def _write_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=ASSET_SCHEME, url_fetcher=_fetcher()).write_pdf()


def render_pdf(html: str, timeout: float = RENDER_TIMEOUT_SECONDS) -> bytes:
    """Render with a time limit; RenderTimeout when WeasyPrint takes longer."""
    future = _renderer.submit(_write_pdf, html)
    try:
        return future.result(timeout=timeout)
    except FuturesTimeout as exc:
        future.cancel()
        raise RenderTimeout(f"PDF rendering took longer than {timeout:g} s") from exc


LATE_AFTER = timedelta(minutes=10)  # a PDF still pending after this is said to be late (pages)
STALLED_AFTER = timedelta(minutes=15)  # a PDF still pending after this was never rendered
STALLED_BATCH = 1000


def stalled() -> list[int]:
    """R-DOC-1: documents still pending long after their signature (the broker was down when the
    render was queued, or its message was lost), for the reminder sweep to queue again."""
    return list(db.session.execute(
        select(Document.id).where(Document.status == "pending", Document.created_at < now() - STALLED_AFTER)
        .order_by(Document.id).limit(STALLED_BATCH)).scalars())


def late(doc: Document) -> bool:
    """R-DOC-1: a PDF still pending LATE_AFTER its signature: its page says so rather than "usually
    ready within a minute" (the sweep queues it again after STALLED_AFTER)."""
    return doc.status == "pending" and doc.created_at < now() - LATE_AFTER


def not_ready(doc: Document) -> str:
    """Why a document's PDF cannot be downloaded yet, true to its state (the DOCUMENT_NOT_READY
    answer): pending is being prepared (late ones are queued again by the reminder sweep after
    STALLED_AFTER); failed was tried and did not render: the worker retries it only after a
    temporary error (worker.celery_app: OSError, 3 times), and the sweep queues pending ones only."""
    if doc.status == "failed":
        return ("This document's PDF could not be prepared (status failed). The signed record itself is "
                "valid and stored. The PDF is tried again only after a temporary error; ask the program's "
                "administrator if it stays unavailable.")
    if late(doc):
        return (f"This document's PDF is still being prepared (status pending), later than usual; it is "
                f"queued again {int(STALLED_AFTER.total_seconds() // 60)} minutes after signing. "
                "The signed record itself is valid and stored; try again later.")
    # no time promised here: whether a pdf worker is running is the page's to say (health.pdf_workers)
    return ("This document's PDF is being prepared (status pending). The signed record itself is valid "
            "and stored; try again shortly.")


def render_document(document_id: int) -> None:
    """Task: render one document's PDF. Idempotent: a ready document is left alone."""
    doc = db.session.get(Document, document_id)
    if doc is None or doc.status == "ready":
        return
    sig = db.session.get(Signature, doc.signature_id)
    values = manifestation(sig)
    values["document_id"] = doc.id
    try:
        pdf = render_pdf(render_html(values))
    except Exception as exc:  # noqa: BLE001 - recorded on the document, then re-raised for retries
        doc.status, doc.error = "failed", str(exc)[:500]
        db.session.commit()
        raise
    doc.pdf = pdf
    doc.sha256 = hashlib.sha256(pdf).hexdigest()
    doc.status, doc.error, doc.rendered_at = "ready", None, now()
    db.session.commit()
    current_app.logger.info("document %s rendered (%d bytes)", doc.id, len(pdf))


def readable(user, doc_id) -> Document:
    doc = None
    parsed = parse_id(doc_id)
    if parsed is not None:
        doc = db.session.get(Document, parsed)
    policy.require(user, "document.read", doc)
    if doc.patient_id is not None:  # R-AUD-1: a signed patient record was read
        with unit_of_work():
            audit.record("document.read", "document", doc.id, patient_id=doc.patient_id, actor=user)
    return doc


def serialize(doc: Document) -> dict:
    sig = doc.signature
    return {"id": doc.id, "status": doc.status, "sha256": doc.sha256, "meaning": sig.meaning,
            "signed_at": sig.signed_at.isoformat(), "signer": sig.printed_name, "role": sig.role,
            "record_type": sig.record_type, "record_id": sig.record_id, "record_sha256": sig.record_sha256}


MAX_PDF_BYTES = 2 * 1024 * 1024


def verify(pdf_bytes: bytes) -> dict:
    """R-DOC-1: anyone holding the PDF can check it; the answer carries no personal data."""
    if len(pdf_bytes) > MAX_PDF_BYTES:
        raise ApiError(413, "PAYLOAD_TOO_LARGE", "That file is larger than any document we issue.")
    digest = hashlib.sha256(pdf_bytes).hexdigest()
    from sqlalchemy import select

    doc_id = db.session.execute(select(Document.id).where(Document.sha256 == digest,
                                                          Document.status == "ready")).scalar_one_or_none()
    return {"valid": doc_id is not None, "document_id": doc_id}
