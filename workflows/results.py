"""What the engine answers: small frozen values the service layer serializes as they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Reason:
    """One unmet requirement: a stable refusal code (rule book list) and a sentence to read aloud."""

    code: str
    message: str


@dataclass(frozen=True)
class Requirement:
    """One requirement of the current cycle, met or not, with a sentence including its dates."""

    code: str
    met: bool
    detail: str


@dataclass(frozen=True)
class Window:
    """Program-local dates; both days included (R-TIME-1)."""

    opens: date
    closes: date

    def contains(self, day: date) -> bool:
        return self.opens <= day <= self.closes


@dataclass(frozen=True)
class PatientStatus:
    course_status: str  # enrolled | active | pregnancy_reported | post_treatment | completed
    cycle_number: int
    cycle_started_at: datetime
    first_authorization_pending: bool
    window: Window | None
    requirements: tuple[Requirement, ...]
    eligible: bool
    reasons: tuple[Reason, ...]
    next_steps: dict[str, tuple[str, ...]]
    attestation_attempts_left: int
    comprehension_cycle_key: str
    post_treatment_test_due: date | None = None
    category: str = ""
    today: date | None = None
    # R-CYC-1: the first clinical date that counts for this cycle; None in the first cycle, where
    # every record entered since enrollment counts whatever its date
    cycle_start_date: date | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reasons: tuple[Reason, ...]
    window: Window | None
    do_not_dispense_after: date | None
    cycle_number: int | None = None  # the patient's current cycle (None when the patient is unknown)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(r.code for r in self.reasons)


@dataclass(frozen=True)
class Verdict:
    ok: bool
    code: str | None = None
    message: str | None = None
    field: str | None = None

    @classmethod
    def allow(cls) -> Verdict:
        return cls(ok=True)

    @classmethod
    def refuse(cls, code: str, message: str, field_name: str | None = None) -> Verdict:
        return cls(ok=False, code=code, message=message, field=field_name)
