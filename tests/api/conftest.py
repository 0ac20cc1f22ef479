"""Fixtures of the HTTP API tests: an `Api` driver and a certified practice built through the API."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.api.helpers import Api, Pharmacy, Prescriber


@pytest.fixture
def api(app, client):
    return Api(app, client)


@dataclass
class Practice:
    admin: str
    prescriber: Prescriber
    pharmacy: Pharmacy
    pharmacist: str


@pytest.fixture
def practice(api, factory):
    """A certified prescriber, a certified pharmacy with an activated staff pharmacist, and an admin."""
    admin = factory.admin().email  # administrators are created with `rems users create-admin`
    prescriber = api.register_prescriber()
    pharmacy = api.register_pharmacy()
    return Practice(
        admin=admin, prescriber=prescriber, pharmacy=pharmacy, pharmacist=api.add_pharmacist(pharmacy)
    )


@pytest.fixture
def go(api, travel):
    """Move the service clock (with `travel`) to day `n` of the test."""
    state = {"day": 0}

    def to(n: int) -> None:
        travel(n - state["day"])
        state["day"] = n
        assert api.today() == api.t0 + __import__("datetime").timedelta(days=n)

    return to


@pytest.fixture(autouse=True)
def _skip_pdf_rendering(request, monkeypatch):
    """Signed PDFs (R-DOC-1) are rendered after commit; WeasyPrint costs ~0.3 s each, and these tests
    sign dozens of records. Documents stay `pending` here unless the test asks for `real_pdfs`."""
    if "real_pdfs" not in request.fixturenames:
        monkeypatch.setattr("rems.services.documents.render_document", lambda document_id: None)


@pytest.fixture
def real_pdfs():
    """Opt back in to rendering the PDF attestations in-process."""
