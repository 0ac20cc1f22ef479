"""Fluent builders for engine facts: `patient().cgp_ready().build()` is an eligible CGP patient.

Clinical days are ISO strings; each record is entered at 17:00 UTC that day (noon or 1 pm in
New York, so the local date is the same) unless `recorded` says otherwise.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from workflows import (
    CCGP,
    CGP,
    Attestation,
    AttestationFailure,
    Authorization,
    CategoryChange,
    Contraception,
    DispenseRequest,
    PatientFacts,
    PharmacyFacts,
    PregnancyTest,
    PrescriberFacts,
    Visit,
)

_ids = itertools.count(1)


def d(value: str | date) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def at(value: str | datetime, hour: int = 17) -> datetime:
    """'2026-11-02' -> 17:00 UTC that day; '2026-11-08T04:59' -> that UTC instant."""
    if isinstance(value, datetime):
        return value
    if "T" in value:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return datetime.combine(d(value), datetime.min.time(), tzinfo=UTC) + timedelta(hours=hour)


PRESCRIBER = PrescriberFacts(id=1, npi="1234567893", status="certified", certified_until=date(2027, 12, 31))
PHARMACY = PharmacyFacts(id=7, ncpdp_id="1234567", status="certified", certified_until=date(2027, 12, 31))


class PatientBuilder:
    def __init__(
        self, category: str = CGP, enrolled: str = "2026-10-01", dob: str = "1995-05-05", patient_id: int = 1
    ):
        self.facts = PatientFacts(
            id=patient_id,
            rems_id=f"P{patient_id:07d}",
            first_name="Ada",
            last_name="Lovelace",
            date_of_birth=d(dob),
            category=category,
            prescriber_id=PRESCRIBER.id,
            enrolled_at=at(enrolled, hour=15),
        )

    def _add(self, attr: str, record) -> PatientBuilder:
        self.facts = replace(self.facts, **{attr: (*getattr(self.facts, attr), record)})
        return self

    def consent(self, on: str = "2026-10-01") -> PatientBuilder:
        self.facts = replace(self.facts, consent_signed_at=at(on))
        return self

    def visit(self, day: str, counseled: bool = True, recorded: str | None = None) -> PatientBuilder:
        return self._add("visits", Visit(next(_ids), at(recorded or day), d(day), counseled))

    def contraception(
        self, start: str, forms=("iud", "male_condom"), abstinence: bool = False, recorded: str = "2026-10-01"
    ) -> PatientBuilder:
        return self._add(
            "contraception", Contraception(next(_ids), at(recorded), d(start), tuple(forms), abstinence)
        )

    def test(
        self,
        kind: str,
        specimen: str,
        result: str = "negative",
        setting: str = "medical",
        recorded: str | None = None,
    ) -> PatientBuilder:
        return self._add(
            "tests", PregnancyTest(next(_ids), at(recorded or specimen), kind, d(specimen), result, setting)
        )

    def attest(self, on: str) -> PatientBuilder:
        return self._add("attestations", Attestation(next(_ids), at(on)))

    def fail_attestation(self, on: str) -> PatientBuilder:
        return self._add("attestation_failures", AttestationFailure(next(_ids), at(on)))

    def rma(
        self,
        on: str,
        closes: str,
        days_supply: int = 30,
        reversed_on: str | None = None,
        number: str | None = None,
    ) -> PatientBuilder:
        ident = next(_ids)
        return self._add(
            "authorizations",
            Authorization(
                ident,
                at(on),
                number or f"RMA{ident:06d}",
                PHARMACY.id,
                days_supply,
                d(closes),
                at(reversed_on, hour=18) if reversed_on else None,
            ),
        )

    def home_testing(self, since: str | None = None) -> PatientBuilder:
        """R-PT-3: enabled on `since` (default: the day of enrollment)."""
        day = d(since) if since else self.facts.enrolled_at.date()
        self.facts = replace(self.facts, home_testing_since=day)
        return self

    def ended(self, last_dose: str) -> PatientBuilder:
        self.facts = replace(self.facts, last_dose_date=d(last_dose))
        return self

    def category(self, category: str) -> PatientBuilder:
        self.facts = replace(self.facts, category=category)
        return self

    def change_category(self, to: str, on: str) -> PatientBuilder:
        """R-PAT-2: a recorded change (the cycles before it keep their category)."""
        change = CategoryChange(next(_ids), at(on), self.facts.category, to)
        self.facts = replace(self.facts, category=to)
        return self._add("category_changes", change)

    def cgp_ready(self) -> PatientBuilder:
        """Enrolled Oct 1 2026; screening Oct 1; contraception since Sep 1; confirmation Oct 20
        (screening + 19); attested Oct 20: window Oct 20 - Oct 26."""
        return (
            self.consent()
            .visit("2026-10-01")
            .contraception("2026-09-01")
            .test("screening", "2026-10-01")
            .test("confirmation", "2026-10-20")
            .attest("2026-10-20")
        )

    def ccgp_ready(self) -> PatientBuilder:
        """Enrolled Oct 1 2026, counseled visit Oct 1: window Oct 1 - Oct 30."""
        self.facts = replace(self.facts, category=CCGP)
        return self.consent().visit("2026-10-01")

    def build(self) -> PatientFacts:
        return self.facts


def patient(**kwargs) -> PatientBuilder:
    return PatientBuilder(**kwargs)


def request(patient_facts: PatientFacts | None, days_supply: int | None = 30, **changes) -> DispenseRequest:
    base = DispenseRequest(
        patient=patient_facts,
        prescriber=PRESCRIBER,
        pharmacy=PHARMACY,
        pharmacist_is_member=True,
        days_supply=days_supply,
        patient_prescriber=PRESCRIBER if patient_facts else None,
    )
    return replace(base, **changes)
