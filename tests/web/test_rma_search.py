"""The pharmacist's RMA search (rems.services.rma_search): part of an RMA number, or the patient's
last name with the date of birth, only among the pharmacist's own pharmacies' RMAs (R-RMA-4: an
RMA older than the latest stays reachable), each search audited per patient shown (R-AUD-1), and
no search that lists everything or browses patients."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from rems.extensions import db
from rems.models import AuditEntry, Authorization
from rems.services import dispensing
from tests.web.conftest import text
from tests.worker import scenarios


def _listed(resp) -> list[str]:
    return re.findall(r'<h2 class="h3">(RMA[0-9]{10})', resp.get_data(as_text=True))


def _searched() -> list[AuditEntry]:
    return list(db.session.execute(select(AuditEntry).where(AuditEntry.action == "authorization.searched")
                                   .order_by(AuditEntry.id)).scalars())


def _renumber(old: str, new: str) -> None:
    db.session.execute(sa.update(Authorization).where(Authorization.rma == old).values(rma=new))
    db.session.commit()


@pytest.fixture()
def counter(factory):
    """Two pharmacies: ours (two patients' RMAs) and another (one RMA), with known numbers."""
    ph, rsp = factory.pharmacy()
    other_ph, other_rsp = factory.pharmacy()
    pres = factory.prescriber()
    first, second, elsewhere = (scenarios.ccgp_in_window(factory, pres, visit_days_ago=1) for _ in range(3))
    numbers = {"first": "RMA0000123456", "second": "RMA5551230000", "elsewhere": "RMA9999123456"}
    for patient, pharmacy, pharmacist, key in ((first, ph, rsp, "first"), (second, ph, rsp, "second"),
                                               (elsewhere, other_ph, other_rsp, "elsewhere")):
        _renumber(scenarios.authorize(patient, pharmacy, pharmacist)["rma"], numbers[key])
    return {"rsp": rsp, "first": first, "second": second, "elsewhere": elsewhere, **{f"{k}_rma": v
                                                                                   for k, v in numbers.items()}}


def test_part_of_an_rma_number_finds_it_among_the_pharmacys_own_rmas(web, counter):
    """R-RMA-4: 4 or more digits from anywhere in the number, or its first digits after "RMA",
    find the pharmacy's RMAs holding them; another pharmacy's RMA with the same digits is not shown."""
    web.sign_in(counter["rsp"])
    for typed in ("1234", "123 456", "0000-1234", "rma00001", "RMA0000123456"):
        found = web.get("/pharmacy/rmas", query_string={"find": typed})
        assert found.status_code == 200 and _listed(found) == [counter["first_rma"]], typed
    # the digits of the whole number without "RMA" find it too (10 digits: REMS ID or RMA number)
    assert _listed(web.get("/pharmacy/rmas", query_string={"find": "0000123456"})) == [counter["first_rma"]]
    assert _listed(web.get("/pharmacy/rmas", query_string={"find": "1230"})) == [counter["second_rma"]]
    assert set(_listed(web.get("/pharmacy/rmas", query_string={"find": "123"}))) == set()
    nothing = web.get("/pharmacy/rmas", query_string={"find": "7777"})
    assert _listed(nothing) == [] and "No RMA of your pharmacies matches “7777”" in text(nothing)
    # R-AUD-1: one entry per search that showed a patient, naming what was typed
    entries = _searched()
    assert len(entries) == 7 and {e.patient_id for e in entries} == {counter["first"].id, counter["second"].id}
    assert entries[0].after == {"find": "1234", "rmas": [counter["first_rma"]]}


@pytest.mark.parametrize("typed", ["1", "123", "RMA", "RMA123", "12-3", "1 2 3"])
def test_a_search_too_short_to_be_a_search_lists_nothing_and_says_why(web, counter, typed):
    """Fewer than 4 digits would list most of a pharmacy's RMAs: refused with a message, no RMA
    shown, nothing audited (R-AUD-1 has nothing to record)."""
    web.sign_in(counter["rsp"])
    resp = web.get("/pharmacy/rmas", query_string={"find": typed})
    assert resp.status_code == 400 and _listed(resp) == []
    assert "Type at least 4 digits of the RMA number" in text(resp)
    assert 'aria-invalid="true"' in resp.get_data(as_text=True)
    assert _searched() == []


@pytest.mark.parametrize("typed", ["hello", "RMA12345678901", "12345678901", "١٢٣٤٥", "RMA%", "12_4"])
def test_a_search_that_is_no_number_says_how_to_search(web, counter, typed):
    web.sign_in(counter["rsp"])
    resp = web.get("/pharmacy/rmas", query_string={"find": typed})
    assert resp.status_code == 400 and _listed(resp) == []
    assert "use the last name and date of birth fields" in text(resp) and _searched() == []


def test_last_name_and_date_of_birth_find_the_patients_rmas(web, counter):
    """A patient's last name (any case, extra spaces) with the exact date of birth finds their RMAs
    at this pharmacy; a wrong date of birth finds nothing; another pharmacy's patient is not shown."""
    first = counter["first"]
    web.sign_in(counter["rsp"])
    dob = first.date_of_birth.isoformat()
    for typed in (first.last_name, first.last_name.upper(), f"  {first.last_name.lower()} "):
        found = web.get("/pharmacy/rmas", query_string={"last_name": typed, "date_of_birth": dob})
        assert found.status_code == 200 and _listed(found) == [counter["first_rma"]], typed
        assert f"matching “{' '.join(typed.split())}, born {dob}”" in text(found)
    wrong_day = web.get("/pharmacy/rmas", query_string={"last_name": first.last_name, "date_of_birth": "2000-05-18"})
    assert wrong_day.status_code == 200 and _listed(wrong_day) == []
    # a prefix of the name is not the name: no browsing by the first letters
    assert _listed(web.get("/pharmacy/rmas", query_string={"last_name": first.last_name[:4],
                                                           "date_of_birth": dob})) == []
    elsewhere = counter["elsewhere"]
    assert _listed(web.get("/pharmacy/rmas", query_string={"last_name": elsewhere.last_name,
                                                           "date_of_birth": dob})) == []
    # with a number too, both must hold
    assert _listed(web.get("/pharmacy/rmas", query_string={"find": "1230", "last_name": first.last_name,
                                                           "date_of_birth": dob})) == []
    entries = _searched()
    assert len(entries) == 3 and {e.patient_id for e in entries} == {first.id}
    assert entries[0].after == {"last_name": first.last_name, "date_of_birth": dob, "rmas": [counter["first_rma"]]}


@pytest.mark.parametrize(("args", "message"), [
    ({"last_name": "Patient1"}, "Enter the patient's date of birth too"),
    ({"last_name": "Patient1", "date_of_birth": ""}, "Enter the patient's date of birth too"),
    ({"date_of_birth": "2000-05-17"}, "Enter the patient's last name too"),
    ({"last_name": "   ", "date_of_birth": "2000-05-17"}, "Enter the patient's last name too"),
    ({"last_name": "Patient1", "date_of_birth": "17/05/2000"}, "Enter the date of birth as a date"),
    ({"last_name": "Patient1", "date_of_birth": "2000-02-30"}, "Enter the date of birth as a date"),
    ({"last_name": "Patient1", "date_of_birth": "2000-05-17\x00"}, "Enter the date of birth as a date"),
])
def test_a_name_without_a_date_of_birth_is_not_searched(web, counter, args, message):
    """Names alone (or a date of birth alone) would let the list browse patients: a message on
    the missing field, no RMA shown, nothing audited."""
    web.sign_in(counter["rsp"])
    resp = web.get("/pharmacy/rmas", query_string=args)
    assert resp.status_code == 400 and _listed(resp) == [] and message in text(resp)
    assert _searched() == []


def test_a_name_search_pages_back_with_its_words(web, factory, monkeypatch):
    """The page links keep the name and date of birth; each page is audited (R-AUD-1)."""
    ph, rsp = factory.pharmacy()
    patient = scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1)
    wrong = scenarios.authorize(patient, ph, rsp)["rma"]
    dispensing.reverse(rsp, wrong, "wrong quantity")
    right = scenarios.authorize(patient, ph, rsp)["rma"]
    monkeypatch.setattr(dispensing, "RECENT_RMAS", 1)
    web.sign_in(rsp)
    found = web.get("/pharmacy/rmas", query_string={"last_name": patient.last_name,
                                                    "date_of_birth": patient.date_of_birth.isoformat()})
    assert _listed(found) == [right]
    older = re.search(r'<a href="([^"]+)" rel="next">', found.get_data(as_text=True)).group(1).replace("&amp;", "&")
    assert f"last_name={patient.last_name}" in older and "date_of_birth=2000-05-17" in older
    assert _listed(web.get(older)) == [wrong]
    assert [e.after["rmas"] for e in _searched()] == [[right], [wrong]]


def test_the_service_refuses_a_browsing_search_before_any_query(app, factory):
    """dispensing.pharmacy_rmas answers a problem (422 with a code and the field), never a page."""
    from rems.errors import ApiError

    ph, rsp = factory.pharmacy()
    for kwargs, code, field in (({"find": "12"}, "SEARCH_TOO_SHORT", "find"),
                                ({"find": "abcd"}, "SEARCH_INVALID", "find"),
                                ({"last_name": "Smith"}, "SEARCH_INCOMPLETE", "date_of_birth"),
                                ({"date_of_birth": date(2000, 5, 17)}, "SEARCH_INCOMPLETE", "last_name")):
        with pytest.raises(ApiError) as err:
            dispensing.pharmacy_rmas(rsp, [ph.id], **kwargs)
        assert (err.value.status, err.value.code, err.value.errors[0]["field"]) == (422, code, field)
