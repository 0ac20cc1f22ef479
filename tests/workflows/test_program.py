"""Program parameters: one object per program, selected by code (R-CYC-4, R-PAT-4, R-REM-1)."""

import pytest

from workflows import IPLEDGE_2021, IPLEDGE_2026, get_program


def test_R_CYC_4_R_PAT_4_programs_differ_only_where_the_fda_changed_them():
    assert get_program() is IPLEDGE_2026 and get_program("ipledge-2021") is IPLEDGE_2021
    assert (IPLEDGE_2026.missed_window_lockout_days, IPLEDGE_2021.missed_window_lockout_days) == (0, 19)
    assert not IPLEDGE_2026.ccgp_counseling_every_cycle and IPLEDGE_2021.ccgp_counseling_every_cycle
    with pytest.raises(KeyError):
        get_program("ipledge-1999")


def test_R_REM_1_reminder_lead_times_are_program_parameters():
    assert IPLEDGE_2026.window_closing_reminder_days == 2
    assert IPLEDGE_2026.next_test_reminder_after_rma_days == 23
    assert IPLEDGE_2026.certification_expiry_reminder_days == 30
