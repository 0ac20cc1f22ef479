"""What the prescriber is told after a record is saved: the engine's answer, not a green tick for
everything.

A saved record does not always meet the requirement it was entered for: a visit without
counseling, a confirmation test collected before the contraception lead-in ended (R-CON-2). The
service judges the record in its own transaction (rems.services.patients.RecordOutcome, from
workflows.records) and the view only words that verdict, with the engine's own sentences: a tired
prescriber reads the message, not the checklist. No rule lives here.
"""

from __future__ import annotations

from rems.services.patients import RecordOutcome

NOT_COUNSELED = "Counseling was not documented: record it when you counsel the patient."


def _positive(report) -> str:
    """R-PT-4, in what the service did (rems.services.patients.PregnancyReport): never a green tick."""
    told = ("the administrator has been notified" if report.admins_notified
            else "no active administrator account could be notified: tell the program's administrator")
    text = ("Positive pregnancy test recorded. Treatment has stopped: no RMA will be issued. Pregnancy "
            f"registry case #{report.case_id} is open and {told}.")
    if report.stopped_rmas:
        rmas = ", ".join(report.stopped_rmas)
        one = len(report.stopped_rmas) == 1
        text += (f" {'RMA' if one else 'RMAs'} {rmas} must not be dispensed: "
                 f"{'its pharmacy has' if one else 'their pharmacies have'} been notified.")
    return text


def outcome(action: str, saved: str, payload: dict, result: object) -> tuple[str, str]:
    """The flash message and its category once the service has saved the record; `result` is what
    the service returned (a RecordOutcome for a visit, a test or contraception)."""
    if isinstance(result, RecordOutcome) and result.pregnancy is not None:
        return _positive(result.pregnancy), "warning"  # R-PT-4: treatment stopped, never a green "success"
    if not isinstance(result, RecordOutcome) or result.counts:
        return saved, "success"
    reasons = list(result.reasons)
    notes = []
    if action == "visit" and not payload.get("counseled"):  # R-PAT-4: the visit says so itself
        if any(r.code == "COUNSELING_REQUIRED" for r in reasons):
            reasons = [r for r in reasons if r.code != "COUNSELING_REQUIRED"]
            notes.append(NOT_COUNSELED)
    if reasons:
        notes[:0] = [r.message for r in reasons]
        saved = f"{saved.rstrip('.')}, but it does not count."
    return " ".join([saved, *notes]), "warning"
