"""Plain, immutable facts the engine decides on. The service layer builds them from the database.

Instants (`*_at`) are timezone-aware UTC datetimes; clinical dates are program-local `date`s.
Every record carries `recorded_at`, the instant it was entered: R-CYC-1 uses it to decide which
cycle a record counts for.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

CGP = "can_get_pregnant"
CCGP = "cannot_get_pregnant"


@dataclass(frozen=True)
class PrescriberFacts:
    id: int
    npi: str
    status: str  # pending | certified | suspended | revoked
    certified_until: date | None = None


@dataclass(frozen=True)
class PharmacyFacts:
    id: int
    ncpdp_id: str
    status: str  # pending | certified | suspended | revoked
    certified_until: date | None = None


@dataclass(frozen=True)
class Visit:
    id: int
    recorded_at: datetime
    visit_date: date
    counseled: bool  # True: the prescriber documented counseling at this visit (R-PAT-4)


@dataclass(frozen=True)
class Contraception:
    id: int
    recorded_at: datetime
    start_date: date
    forms: tuple[str, ...] = ()
    abstinence: bool = False


@dataclass(frozen=True)
class PregnancyTest:
    id: int
    recorded_at: datetime
    kind: str  # screening | confirmation | monthly | post_treatment
    specimen_date: date
    result: str  # negative | positive
    setting: str  # medical | home


@dataclass(frozen=True)
class Attestation:
    """A signed monthly attestation (all answers correct), R-ATT-1."""
    id: int
    recorded_at: datetime


@dataclass(frozen=True)
class AttestationFailure:
    """A failed comprehension attempt (R-ATT-2)."""
    id: int
    recorded_at: datetime


@dataclass(frozen=True)
class CategoryChange:
    """R-PAT-2: the prescriber changed the patient's risk category (it applies from the next
    authorization on: the cycles before it keep the category they had)."""
    id: int
    recorded_at: datetime
    from_category: str
    to_category: str


@dataclass(frozen=True)
class Authorization:
    id: int
    recorded_at: datetime  # when the RMA was issued
    rma: str
    pharmacy_id: int
    days_supply: int
    do_not_dispense_after: date
    reversed_at: datetime | None = None


@dataclass(frozen=True)
class PatientFacts:
    id: int
    rems_id: str
    first_name: str
    last_name: str
    date_of_birth: date
    category: str  # CGP | CCGP (current category; `category_changes` says since when, R-PAT-2)
    prescriber_id: int
    enrolled_at: datetime  # start of the course
    consent_signed_at: datetime | None = None
    # R-PT-3: the day the prescriber enabled home testing (None: not enabled); a home test counts
    # only if collected on or after it
    home_testing_since: date | None = None
    last_dose_date: date | None = None  # R-END-1
    pregnancy_reported_at: datetime | None = None  # R-PT-4
    visits: tuple[Visit, ...] = ()
    contraception: tuple[Contraception, ...] = ()
    tests: tuple[PregnancyTest, ...] = ()
    attestations: tuple[Attestation, ...] = ()
    attestation_failures: tuple[AttestationFailure, ...] = ()
    authorizations: tuple[Authorization, ...] = ()
    category_changes: tuple[CategoryChange, ...] = ()  # of this course, R-PAT-2


@dataclass(frozen=True)
class DispenseRequest:
    """What the pharmacist asks (R-RMA-1), with the actors the service looked up.

    `patient` is None when the REMS ID is unknown or the date of birth does not match (R-RMA-6).
    `prescriber` is the prescriber whose NPI is on the prescription (None if no such prescriber).
    """
    patient: PatientFacts | None
    prescriber: PrescriberFacts | None
    pharmacy: PharmacyFacts | None
    pharmacist_is_member: bool
    days_supply: int | None = None  # None: an eligibility check, not an authorization request
    patient_prescriber: PrescriberFacts | None = None  # the patient's own prescriber
    extra: dict = field(default_factory=dict)
