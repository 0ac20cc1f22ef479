"""Program definitions: every number and list of a REMS program lives here, one object per program.

The FDA changes REMS programs (2021, 2026); the service switches rule sets by configuration
(`REMS_PROGRAM`). No rule number may appear anywhere else in the code base.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction


@dataclass(frozen=True)
class Program:
    code: str
    name: str
    timezone: str = "America/New_York"  # R-TIME-1
    clinical_date_max_age_days: int = 365  # R-TIME-2
    certification_days: int = 365  # R-PRES-1, R-PHAR-1
    cgp_window_days: int = 7  # R-CYC-2
    ccgp_window_days: int = 30  # R-CYC-3
    contraception_lead_in_days: int = 30  # R-CON-2
    confirmation_after_screening_days: int = 19  # R-PT-2
    missed_window_lockout_days: int = 0  # R-CYC-4 (19 in ipledge-2021)
    ccgp_counseling_every_cycle: bool = False  # R-PAT-4 (True in ipledge-2021)
    max_days_supply: int = 30  # R-RMA-2
    refill_too_soon_fraction: Fraction = Fraction(3, 4)  # R-RMA-3
    post_treatment_test_after_days: int = 30  # R-END-1
    post_treatment_contraception_days: int = 30  # R-CON-3, R-END-2
    attestation_attempt_limit: int = 3  # R-ATT-2
    comprehension_questions_per_cycle: int = 3  # R-ATT-1 [D]
    adult_age_years: int = 18  # R-PAT-3
    primary_forms: frozenset[str] = field(default_factory=lambda: frozenset({  # R-CON-1
        "tubal_sterilization", "partner_vasectomy", "iud", "hormonal_implant",
        "hormonal_injection", "combined_pill", "patch", "vaginal_ring"}))
    secondary_forms: frozenset[str] = field(default_factory=lambda: frozenset({  # R-CON-1
        "male_condom", "diaphragm_spermicide", "cervical_cap_spermicide", "vaginal_sponge"}))
    home_test_kinds: frozenset[str] = frozenset({"monthly", "post_treatment"})  # R-PT-3
    # R-REM-1 reminder lead times
    window_closing_reminder_days: int = 2
    next_test_reminder_after_rma_days: int = 23
    certification_expiry_reminder_days: int = 30


IPLEDGE_2026 = Program(code="ipledge-2026", name="iPLEDGE REMS (2026 modification)")
IPLEDGE_2021 = Program(
    code="ipledge-2021",
    name="iPLEDGE REMS (2021)",
    missed_window_lockout_days=19,
    ccgp_counseling_every_cycle=True,
)

PROGRAMS: dict[str, Program] = {p.code: p for p in (IPLEDGE_2026, IPLEDGE_2021)}
DEFAULT_PROGRAM = IPLEDGE_2026.code


def get_program(code: str | None = None) -> Program:
    """Return the program definition for `code` (default `ipledge-2026`); KeyError if unknown."""
    return PROGRAMS[code or DEFAULT_PROGRAM]
