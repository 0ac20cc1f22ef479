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
    return Practice(admin=admin, prescriber=prescriber, pharmacy=pharmacy, pharmacist=api.add_pharmacist(pharmacy))
