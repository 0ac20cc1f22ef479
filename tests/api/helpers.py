"""Drive the HTTP API v1 the way a client would: every step is a request through the test client.

`Api` keeps one bearer token per account and clock offset (tokens expire after 12 service hours, so
moving the clock with `travel` makes the next call sign in again).
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from datetime import date, timedelta

from tests.support.factories import PASSWORD, _npi

_seq = itertools.count(1)
V1 = "/api/v1"
FORMS = ["iud", "male_condom"]


class Api:
    def __init__(self, app, client):
        self.app, self.client = app, client
        self._tokens: dict[tuple[str, int], dict] = {}
        self.t0 = self.today()  # "day 0" of the test; clinical dates are given as days from it

    # --- plumbing --------------------------------------------------------------------------
    def today(self) -> date:
        from rems.clock import today

        with self.app.app_context():
            return today()

    def day(self, n: int) -> str:
        """The ISO date of day `n` of the test (day 0: the service's today when the test started)."""
        return (self.t0 + timedelta(days=n)).isoformat()

    def headers(self, email: str | None) -> dict:
        if email is None:
            return {}
        key = (email, self.app.config.get("CLOCK_OFFSET_DAYS", 0))
        if key not in self._tokens:
            resp = self.client.post(f"{V1}/auth/token", json={"email": email, "password": PASSWORD})
            assert resp.status_code == 201, (email, resp.get_json())
            self._tokens[key] = {"Authorization": f"Bearer {resp.get_json()['token']}"}
        return self._tokens[key]

    def call(
        self,
        method: str,
        path: str,
        as_: str | None = None,
        json=None,
        expect: int | None = None,
        query: dict | None = None,
        headers: dict | None = None,
    ):
        hdrs = {**self.headers(as_), **(headers or {})}
        resp = self.client.open(V1 + path, method=method, json=json, query_string=query, headers=hdrs)
        if expect is not None:
            assert resp.status_code == expect, (method, path, resp.status_code, resp.get_json())
        return resp

    def sig(self):
        return {"password": PASSWORD}

    # --- program actors ----------------------------------------------------------------------
    def register_prescriber(self, certify: bool = True) -> Prescriber:
        n = next(_seq)
        email, npi = f"api-doctor{n}@example.org", _npi(700000 + n)
        body = self.call(
            "POST",
            "/prescribers",
            json={
                "email": email,
                "password": PASSWORD,
                "first_name": "Ada",
                "last_name": f"Api{n}",
                "npi": npi,
                "license_state": "NY",
                "license_number": f"AL{n}",
            },
            expect=201,
        ).get_json()
        assert body["status"] == "pending"
        if certify:
            out = self.call(
                "POST", "/prescribers/me/attestation", as_=email, json={"signature": self.sig()}, expect=200
            ).get_json()
            assert out["status"] == "certified" and out["document_id"]
        return Prescriber(email=email, npi=npi)

    def register_pharmacy(self, certify: bool = True) -> Pharmacy:
        n = next(_seq)
        ncpdp, rsp = f"{8000000 + n}", f"api-rsp{n}@example.org"
        body = self.call(
            "POST",
            "/pharmacies",
            json={
                "name": f"Api Pharmacy {n}",
                "ncpdp_id": ncpdp,
                "npi": _npi(800000 + n),
                "address": {"line1": "2 Market St", "city": "Troy", "state": "NY", "zip": "12180"},
                "rsp": {
                    "email": rsp,
                    "password": PASSWORD,
                    "first_name": "Rita",
                    "last_name": f"Rsp{n}",
                    "license_number": f"RL{n}",
                },
            },
            expect=201,
        ).get_json()
        assert body == {"ncpdp_id": ncpdp, "status": "pending"}
        if certify:
            out = self.call(
                "POST",
                f"/pharmacies/{ncpdp}/attestation",
                as_=rsp,
                json={"signature": self.sig()},
                expect=200,
            ).get_json()
            assert out["status"] == "certified"
        return Pharmacy(ncpdp=ncpdp, rsp=rsp)

    def add_pharmacist(self, pharmacy: Pharmacy) -> str:
        n = next(_seq)
        email = f"api-staff{n}@example.org"
        out = self.call(
            "POST",
            f"/pharmacies/{pharmacy.ncpdp}/pharmacists",
            as_=pharmacy.rsp,
            json={"email": email, "first_name": "Stan", "last_name": f"Staff{n}", "license_number": f"SL{n}"},
            expect=201,
        ).get_json()
        done = self.call(
            "POST",
            "/activate",
            json={"activation_code": out["activation_code"], "password": PASSWORD},
            expect=200,
        ).get_json()
        assert done == {"email": email, "role": "pharmacist"}
        return email

    def enroll(
        self,
        prescriber: Prescriber,
        category: str,
        dob: str = "1999-03-14",
        activate: bool = True,
        consent: bool = True,
    ) -> Patient:
        n = next(_seq)
        email = f"api-patient{n}@example.org"
        out = self.call(
            "POST",
            "/patients",
            as_=prescriber.email,
            json={
                "first_name": "Paula",
                "last_name": f"Api{n}",
                "date_of_birth": dob,
                "email": email,
                "category": category,
            },
            expect=201,
        ).get_json()
        assert out["status"] == "enrolled" and len(out["rems_id"]) == 10
        patient = Patient(
            rems_id=out["rems_id"], email=email, dob=dob, code=out["activation_code"], prescriber=prescriber
        )
        if activate:
            done = self.call(
                "POST",
                "/activate",
                json={"activation_code": patient.code, "password": PASSWORD, "date_of_birth": dob},
                expect=200,
            ).get_json()
            assert done == {"email": email, "role": "patient"}
            if consent:
                self.call("POST", "/me/consent", as_=email, json={"signature": self.sig()}, expect=201)
        return patient

    # --- clinical records -------------------------------------------------------------------
    def visit(self, p: Patient, day: int, counseled: bool = True, expect: int = 201):
        return self.call(
            "POST",
            f"/patients/{p.rems_id}/visits",
            as_=p.prescriber.email,
            json={"visit_date": self.day(day), "counseled": counseled, "signature": self.sig()},
            expect=expect,
        )

    def contraception(self, p: Patient, day: int, forms=None, expect: int = 201):
        return self.call(
            "POST",
            f"/patients/{p.rems_id}/contraception",
            as_=p.prescriber.email,
            json={"start_date": self.day(day), "forms": forms or FORMS},
            expect=expect,
        )

    def test(
        self,
        p: Patient,
        kind: str,
        day: int,
        result: str = "negative",
        setting: str = "medical",
        expect: int = 201,
    ):
        return self.call(
            "POST",
            f"/patients/{p.rems_id}/pregnancy-tests",
            as_=p.prescriber.email,
            json={"kind": kind, "specimen_date": self.day(day), "result": result, "setting": setting},
            expect=expect,
        )

    def status(self, p: Patient) -> dict:
        return self.call("GET", f"/patients/{p.rems_id}", as_=p.prescriber.email, expect=200).get_json()

    def correct_answers(self, admin: str) -> dict[str, str]:
        bank = self.call("GET", "/admin/comprehension-questions", as_=admin, expect=200).get_json()[
            "questions"
        ]
        return {q["id"]: next(c["id"] for c in q["choices"] if c["correct"]) for q in bank}

    def attest(self, p: Patient, admin: str, expect: int = 201, wrong: bool = False):
        questions = self.call("GET", "/me/comprehension", as_=p.email, expect=200).get_json()["questions"]
        assert questions, "the question bank is empty"
        key = self.correct_answers(admin)
        answers = {}
        for q in questions:
            right = key[q["id"]]
            answers[q["id"]] = right if not wrong else next(c["id"] for c in q["choices"] if c["id"] != right)
        return self.call(
            "POST",
            "/me/attestations",
            as_=p.email,
            json={"answers": answers, "contraception": {"forms": FORMS}, "signature": self.sig()},
            expect=expect,
        )

    # --- dispensing --------------------------------------------------------------------------
    def lookup(self, p: Patient, pharmacy: Pharmacy, **over) -> dict:
        return {
            "rems_id": p.rems_id,
            "date_of_birth": p.dob,
            "prescriber_npi": p.prescriber.npi,
            "pharmacy_ncpdp_id": pharmacy.ncpdp,
            **over,
        }

    def eligibility(self, pharmacist: str, p: Patient, pharmacy: Pharmacy, **over) -> dict:
        return self.call(
            "GET", "/eligibility", as_=pharmacist, query=self.lookup(p, pharmacy, **over), expect=200
        ).get_json()

    def authorize(
        self,
        pharmacist: str,
        p: Patient,
        pharmacy: Pharmacy,
        days_supply: int = 30,
        quantity: int = 60,
        headers=None,
        **over,
    ):
        return self.call(
            "POST",
            "/authorizations",
            as_=pharmacist,
            headers=headers,
            json={**self.lookup(p, pharmacy, **over), "days_supply": days_supply, "quantity": quantity},
        )


def codes(resp_or_body) -> set[str]:
    body = resp_or_body if isinstance(resp_or_body, dict) else resp_or_body.get_json()
    return {r["code"] for r in body["reasons"]}


@dataclass
class Prescriber:
    email: str
    npi: str


@dataclass
class Pharmacy:
    ncpdp: str
    rsp: str


@dataclass
class Patient:
    rems_id: str
    email: str
    dob: str
    code: str
    prescriber: Prescriber


def count_rows(app, *tables: str) -> dict[str, int]:
    from sqlalchemy import text

    from rems.extensions import db

    with app.app_context():
        with db.engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables}


def at_once(app, calls) -> list[tuple[int, dict]]:
    """Run each call (a function of a test client) in its own thread, app context and session,
    released together; returns (status, body) in the order of `calls`."""
    from rems.extensions import db

    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i, call) -> None:
        with app.app_context():
            client = app.test_client()
            barrier.wait()
            resp = call(client)
            results[i] = (resp.status_code, resp.get_json())
            db.session.remove()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results
