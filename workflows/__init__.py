"""The REMS program rules engine: pure Python, no I/O, no clock reads (`now` is passed in)."""

from .clock import local_date, window_close_instant
from .engine import decide_dispense, evaluate_patient
from .facts import (
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
from .program import IPLEDGE_2021, IPLEDGE_2026, PROGRAMS, Program, get_program
from .records import EnteredFor, entered_for, not_counted_reasons
from .results import Decision, PatientStatus, Reason, Requirement, Verdict, Window
from .transitions import TRANSITIONS, check_transition

__all__ = [
    "CCGP",
    "CGP",
    "IPLEDGE_2021",
    "IPLEDGE_2026",
    "PROGRAMS",
    "TRANSITIONS",
    "Attestation",
    "AttestationFailure",
    "Authorization",
    "CategoryChange",
    "Contraception",
    "Decision",
    "DispenseRequest",
    "EnteredFor",
    "PatientFacts",
    "PatientStatus",
    "PharmacyFacts",
    "PregnancyTest",
    "PrescriberFacts",
    "Program",
    "Reason",
    "Requirement",
    "Verdict",
    "Visit",
    "Window",
    "check_transition",
    "decide_dispense",
    "entered_for",
    "evaluate_patient",
    "get_program",
    "local_date",
    "not_counted_reasons",
    "window_close_instant",
]
