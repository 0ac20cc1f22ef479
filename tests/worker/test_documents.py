"""R-DOC-1: signed PDF attestations: content, the document endpoints, verification, and a renderer
that neither reads local files nor opens connections whatever a record contains."""
from __future__ import annotations

import hashlib
import io
import re
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from pypdf import PdfReader

from rems.extensions import db
from rems.models import Document, Signature
from rems.services import documents


def _text(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def _prescriber_document(factory):
    pres = factory.prescriber()
    doc = db.session.query(Document).join(Signature).filter(Signature.signer_id == pres.user_id).one()
    return pres, doc


def test_attestation_pdf_carries_the_manifestation(app, factory, client, token_for):
    """R-DOC-1 / R-SIG-1: program, printed name, date and time with zone, meaning, record ID and hash."""
    pres, doc = _prescriber_document(factory)
    assert doc.status == "ready" and doc.sha256 == hashlib.sha256(doc.pdf).hexdigest()
    sig = doc.signature
    text = _text(doc.pdf)
    flat = re.sub(r"\s+", "", text)
    assert app.config["PROGRAM"] and documents.program().name in text
    assert "Prescriber program attestation" in text
    assert sig.printed_name in text
    assert re.search(r"at \d{1,2}:\d{2}:\d{2} [AP]M E[SD]T", text)  # program-local time with its zone
    assert "UTC" in text
    assert re.sub(r"\s+", "", sig.meaning) in flat
    assert f"record ID {sig.record_id}" in text
    assert sig.record_sha256 in flat
    assert "/api/v1/documents/verify" in flat.replace("\u00ad", "")

    headers = token_for(pres.user)
    meta = client.get(f"/api/v1/documents/{doc.id}", headers=headers)
    assert meta.status_code == 200
    assert meta.get_json()["status"] == "ready" and meta.get_json()["sha256"] == doc.sha256
    pdf = client.get(f"/api/v1/documents/{doc.id}/pdf", headers=headers)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data == doc.pdf

    ok = client.post("/api/v1/documents/verify", data=pdf.data, content_type="application/pdf")
    assert ok.status_code == 200 and ok.get_json() == {"valid": True, "document_id": doc.id}
    middle = len(pdf.data) // 2
    tampered = pdf.data[:middle] + bytes([pdf.data[middle] ^ 1]) + pdf.data[middle + 1:]
    bad = client.post("/api/v1/documents/verify", data=tampered, content_type="application/pdf")
    assert bad.status_code == 200 and bad.get_json() == {"valid": False, "document_id": None}
    empty = client.post("/api/v1/documents/verify", data=b"", content_type="application/pdf")
    assert empty.status_code == 400


def test_documents_are_readable_only_by_those_allowed(app, factory, client, token_for):
    _, doc = _prescriber_document(factory)
    other = factory.prescriber()
    assert client.get(f"/api/v1/documents/{doc.id}").status_code == 401
    denied = client.get(f"/api/v1/documents/{doc.id}/pdf", headers=token_for(other.user))
    assert denied.status_code in (403, 404)
    assert client.get("/api/v1/documents/notanid", headers=token_for(other.user)).status_code in (403, 404)


class _Canary(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802
        _Canary.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body{color:red}")

    def log_message(self, *args):
        pass


@pytest.fixture
def canary():
    _Canary.hits = []
    server = HTTPServer(("127.0.0.1", 0), _Canary)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_hostile_values_neither_read_files_nor_open_connections(app, canary, tmp_path):
    """R-DOC-1: record values are plain text; the fetcher refuses file: and network URLs even
    when raw HTML reaches the renderer."""
    secret = tmp_path / "secret.txt"
    secret.write_text("CANARY-FILE-CONTENT-7731")
    url = f"http://127.0.0.1:{canary}/"
    hostile = (f'<img src="file://{secret}"><img src="file:///etc/passwd">'
               f'<style>@import url({url}x.css);</style><link rel="stylesheet" href="{url}y.css">')
    values = {"program": hostile, "title": hostile, "printed_name": hostile, "role": "Prescriber",
              "meaning": f"@import url({url}m.css); {hostile}", "signed_local": "now", "signed_utc": "now",
              "record_type": "visit", "record_id": 1, "record_sha256": "0" * 64, "signature_id": 1,
              "document_id": 1, "post_treatment_days": 30}
    pdf = documents.render_pdf(documents.render_html(values))
    assert '<img src="file://' in _text(pdf).replace("\n", "")  # printed as text, not loaded
    raw = documents.render_pdf(f"<html><head>{hostile}</head><body><p>hello</p>"
                               f'<p style="background: url({url}bg.png)">x</p>'
                               f'<img src="{url}i.png"></body></html>')
    assert "hello" in _text(raw)
    assert "CANARY-FILE-CONTENT" not in _text(pdf) + _text(raw)
    assert b"root:x:0:0" not in pdf + raw
    assert _Canary.hits == []
    for bad in (f"file://{secret}", url, "rems-asset:../../config.py", "rems-asset:nope.css",
                "data:text/css,x"):
        with pytest.raises(documents.FetchRefused):
            documents.safe_url_fetcher(bad)
    assert documents.safe_url_fetcher("rems-asset:attestation.css").read().startswith(b"@page")


def test_in_process_rendering_has_a_time_limit(app):
    with pytest.raises(documents.RenderTimeout):
        documents.render_pdf("<p>" + "slow " * 20000 + "</p>", timeout=0.001)


def test_render_document_is_idempotent(app, factory):
    _, doc = _prescriber_document(factory)
    before = (doc.sha256, doc.rendered_at)
    documents.render_document(doc.id)
    db.session.refresh(doc)
    assert (doc.sha256, doc.rendered_at) == before


def test_positive_pregnancy_test_emails_prescriber_and_admins_immediately(app, factory):
    """R-PT-4: the prescriber and every active administrator are notified (in-app and email)."""
    from sqlalchemy import select

    from rems.models import Notification
    from rems.services import patients
    from tests.worker import scenarios as s

    admin1, admin2 = factory.admin(), factory.admin()
    pres = factory.prescriber()
    patient = factory.patient(pres, "can_get_pregnant")
    before = len(s.inbox(app))
    patients.record_test(pres.user, patient, {"kind": "screening", "specimen_date": s.today(),
                                              "result": "positive", "setting": "medical"})
    mails = s.inbox(app)[before:]
    pregnancy = [m for m in mails if m["Subject"] == "Pregnancy reported"]
    assert sorted(m["To"] for m in pregnancy) == sorted([pres.user.email, admin1.email, admin2.email])
    assert all(patient.rems_id in s.text_of(m) for m in pregnancy)
    notes = db.session.execute(select(Notification).where(Notification.kind == "pregnancy_reported")
                               ).scalars().all()
    assert len(notes) == 3 and all(n.emailed_at is not None for n in notes)


def test_a_minors_consent_document_names_the_parent_or_guardian(app, factory):
    """R-PAT-3, R-DOC-1: a patient under 18 names a parent or guardian on the consent; the signed PDF
    of that consent says who (QA 2026-11-26: the name was in the signed record but not on the PDF)."""
    from rems.clock import today
    from rems.services import patient_self
    from tests.support.factories import PASSWORD

    def consent_pdf(patient) -> str:
        doc = (db.session.query(Document).join(Signature)
               .filter(Signature.signer_id == patient.user_id, Signature.record_type == "consent").one())
        assert doc.status == "ready"
        return _text(doc.pdf)

    minor = factory.patient(consent=False, dob=today().replace(year=today().year - 16))
    patient_self.sign_consent(minor.user, PASSWORD, "Jo Parent-Guardian")
    text = consent_pdf(minor)
    assert "Parent or guardian" in text and "Jo Parent-Guardian" in text
    assert "Parent or guardian" not in consent_pdf(factory.patient())  # an adult names nobody


def test_a_monthly_attestation_signs_the_words_of_its_questions_and_answers(app, factory):
    """R-SIG-1, R-ATT-1: the signed record holds each question and the answer chosen word for word
    (it held the question ids only, so editing a question in the bank afterwards changed what an
    already signed attestation meant; QA 2026-11-26); the PDF lists them."""
    import json

    from rems.models import ComprehensionQuestion
    from rems.services import admin
    from tests.worker import scenarios

    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    att, doc = scenarios.attest(patient)
    sig = db.session.get(Signature, att.signature_id)
    record = json.loads(sig.record_canonical)["record"]
    asked = [db.session.get(ComprehensionQuestion, int(q["id"])) for q in record["questions"]]
    assert len(asked) == 3
    for q, bank in zip(record["questions"], asked, strict=True):
        assert q["question"] == bank.text
        assert q["answer"] == next(c["text"] for c in bank.choices if c["correct"])
    signed_before = (sig.record_canonical, sig.record_sha256)
    # an administrator rewords the first question afterwards: the signed record is unchanged
    first = asked[0]
    admin.save_question(factory.admin(), first.id, {
        "text": "A reworded question?", "explanation": first.explanation, "active": True,
        "choices": [{"id": c["id"], "text": c["text"], "correct": c["correct"]} for c in first.choices]})
    db.session.expire_all()
    sig = db.session.get(Signature, att.signature_id)
    assert (sig.record_canonical, sig.record_sha256) == signed_before
    doc = db.session.get(Document, doc.id)
    assert doc.status == "ready"
    text = " ".join(_text(doc.pdf).split())
    assert "Questions answered" in text
    assert " ".join(record["questions"][0]["question"].split()) in text
    assert "A reworded question?" not in text
