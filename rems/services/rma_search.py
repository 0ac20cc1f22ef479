"""What a pharmacist types to find an RMA of their pharmacies (dispensing.pharmacy_rmas).

At the counter a pharmacist may hold the whole RMA number or the patient's REMS ID, part of the RMA
number, or the patient's last name and date of birth. A search must not become a way to list every
RMA or to browse patients, so a partial number has at least MIN_DIGITS digits, and a name is only
searched together with an exact date of birth (case-insensitive name, as R-PAT-1 compares names).

The search always runs inside the pharmacist's own pharmacies' RMAs, newest first, on the index
(pharmacy_id, recorded_at, id) (migration 0010): a partial number (`LIKE '%1234%'`, which no btree
index serves) or a name and date of birth is checked on that pharmacy's RMAs only, never by a scan
of every authorization, and the page stops at its size (keyset.seek). A pg_trgm index would serve a
substring over all RMAs, but a search is never over all RMAs, and it would need an extension and a
migration (and nothing on SQLite).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, or_, select

from rems.errors import ApiError
from rems.ids import without_separators
from rems.models import Authorization, Patient
from rems.services.enrollment import name_key

MIN_DIGITS = 4  # fewer would match most of a pharmacy's RMAs: a list, not a search
RMA_DIGITS = 10

TOO_SHORT = (f"Type at least {MIN_DIGITS} digits of the RMA number, the whole RMA number or the "
             "patient's 10-digit REMS ID.")
NOT_A_NUMBER = ("Type an RMA number (or at least 4 of its digits) or the patient's 10-digit REMS ID. "
                "To find a patient by name, use the last name and date of birth fields.")
NEEDS_BIRTH_DATE = "Enter the patient's date of birth too: a name is searched only with the date of birth."
NEEDS_NAME = "Enter the patient's last name too: a date of birth is searched only with the last name."
BAD_DATE = "Enter the date of birth as a date, for example 2001-04-05."


@dataclass(frozen=True)
class Search:
    """A search that can run: its SQL condition on Authorization, and what was searched (kept in
    the audit entry of each patient it shows, R-AUD-1)."""

    condition: Any
    searched: dict


def _invalid(field: str, message: str, code: str) -> ApiError:
    return ApiError(422, code, message, errors=[{"field": field, "message": message}])


def _number(text: str):
    """The condition for an RMA number, part of one, or a REMS ID (spaces and dashes dropped)."""
    text = without_separators(text).upper()
    digits = text[3:] if text.startswith("RMA") else text
    if digits and not (digits.isascii() and digits.isdigit()):
        raise _invalid("find", NOT_A_NUMBER, "SEARCH_INVALID")
    if len(digits) < MIN_DIGITS:  # "RMA" alone too
        raise _invalid("find", TOO_SHORT, "SEARCH_TOO_SHORT")
    if len(digits) > RMA_DIGITS:
        raise _invalid("find", NOT_A_NUMBER, "SEARCH_INVALID")
    if text.startswith("RMA"):  # typed from the start: the first digits
        return Authorization.rma == text if len(digits) == RMA_DIGITS else Authorization.rma.startswith(text)
    if len(digits) == RMA_DIGITS:  # a REMS ID as printed, or an RMA number without its "RMA"
        return or_(Authorization.patient.has(Patient.rems_id == digits), Authorization.rma == f"RMA{digits}")
    return Authorization.rma.contains(digits)  # digits only: nothing for LIKE to read as a wildcard


def _birth_date(raw: date | str | None) -> date | None:
    if raw is None or isinstance(raw, date):
        return raw
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None


def parse(find: str | None = None, last_name: str | None = None,
          date_of_birth: date | str | None = None) -> Search | None:
    """The search typed, or None when nothing was typed (the latest RMAs). A search that could list
    everything or browse patients is refused with a message for its field (ApiError 422), before
    any query."""
    find = (find or "").strip()
    last = " ".join((last_name or "").split())
    birth = _birth_date(date_of_birth)
    if birth is None and isinstance(date_of_birth, str) and date_of_birth.strip():
        raise _invalid("date_of_birth", BAD_DATE, "VALIDATION_ERROR")
    if last and birth is None:
        raise _invalid("date_of_birth", NEEDS_BIRTH_DATE, "SEARCH_INCOMPLETE")
    if birth is not None and not last:
        raise _invalid("last_name", NEEDS_NAME, "SEARCH_INCOMPLETE")
    conditions, searched = [], {}
    if find:
        conditions.append(_number(find))
        searched["find"] = find
    if last:
        # name_key is "first|last" casefolded (R-PAT-1): the same casefold on both databases
        key = name_key("", last)  # "|last"
        # A scalar subquery per RMA (by primary key), not EXISTS: PostgreSQL would turn EXISTS into
        # a join that reads every patient (no index serves a last name with a date of birth);
        # this one it runs for the pharmacy's RMAs only, as it walks them on their index.
        conditions.append(select(Patient.id).where(
            Patient.id == Authorization.patient_id, Patient.date_of_birth == birth,
            Patient.name_key.endswith(key, autoescape=True)).correlate(Authorization).scalar_subquery().is_not(None))
        searched.update(last_name=last, date_of_birth=birth.isoformat())
    if not conditions:
        return None
    return Search(and_(*conditions) if len(conditions) > 1 else conditions[0], searched)


def described(find: str | None, last_name: str | None, date_of_birth: str | None) -> str:
    """The search in the page's words: '1234', 'Rivera, born 2001-04-05' or both."""
    parts = [p for p in ((find or "").strip(),) if p]
    last = " ".join((last_name or "").split())
    if last:
        parts.append(f"{last}, born {(date_of_birth or '').strip()}")
    return "; ".join(parts)

