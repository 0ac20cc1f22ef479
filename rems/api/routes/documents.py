"""Signed PDF attestations (R-DOC-1)."""
from __future__ import annotations

from flask import Response, g, jsonify, request

from rems.api import endpoint
from rems.errors import ApiError
from rems.services import documents


@endpoint("GET", "/documents/<doc_id>", action="document.read", summary="A signed document's status")
def get_document(doc_id):
    return jsonify(documents.serialize(documents.readable(g.user, doc_id)))


@endpoint("GET", "/documents/<doc_id>/pdf", action="document.read", summary="The signed PDF")
def get_pdf(doc_id):
    doc = documents.readable(g.user, doc_id)
    if doc.status != "ready":
        raise ApiError(409, "DOCUMENT_NOT_READY", documents.not_ready(doc), document_status=doc.status)
    return Response(doc.pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": f'inline; filename="rems-document-{doc.id}.pdf"'})


@endpoint("POST", "/documents/verify", action=None, summary="Check a PDF against the service",
          raw_body="application/pdf")
def verify():
    data = request.get_data(cache=False)
    if not data:
        raise ApiError(400, "BAD_REQUEST", "Send the PDF bytes as the request body.")
    return jsonify(documents.verify(data))
