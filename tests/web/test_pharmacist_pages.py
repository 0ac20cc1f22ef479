"""Pharmacist pages: access matrix, the dispense form (authorize / check only), RMAs and
reversal, the RSP's certification and invitations."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from rems.extensions import db
from rems.models import Authorization, Pharmacy, User
from rems.services import dispensing
from tests.support.factories import PASSWORD
from tests.web.conftest import text
from tests.worker import scenarios

PAGES = ["/pharmacy", "/pharmacy/rmas", "/pharmacy/manage"]


def _form(patient, pharmacy, **extra):
    data = {
        "pharmacy": pharmacy.ncpdp_id,
        "rems_id": patient.rems_id,
        "date_of_birth": patient.date_of_birth.isoformat(),
        "prescriber_npi": patient.prescriber.npi,
        "days_supply": "30",
        "quantity": "60",
        "mode": "authorize",
        "request_key": "k1",
    }
    data.update(extra)
    return data


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_goes_to_sign_in(web, path):
    assert web.get(path).headers["Location"].startswith("/sign-in")


@pytest.mark.parametrize("role", ["patient", "prescriber", "admin"])
def test_other_roles_are_refused(web, web_as, role):
    web_as(role)
    for path in PAGES:
        assert web.get(path).status_code == 403, path
    assert web.post("/pharmacy/0000001/invitations").status_code == 403
    assert web.post("/pharmacy/rmas/RMA1/reversal", {"RMA1-reason": "x"}, prefix="RMA1").status_code == 403


def test_pharmacist_sees_every_page(web, web_as):
    web_as("pharmacist")
    for path in PAGES:
        assert web.get(path).status_code == 200, path


def test_check_only_lists_every_reason(web, factory):
    ph, rsp = factory.pharmacy()
    patient = factory.patient()  # consent only: most requirements unmet
    web.sign_in(rsp)
    resp = web.post("/pharmacy", _form(patient, ph, mode="check"))
    assert resp.status_code == 200
    expected = dispensing.eligibility(
        rsp,
        {
            "rems_id": patient.rems_id,
            "date_of_birth": patient.date_of_birth,
            "prescriber_npi": patient.prescriber.npi,
            "pharmacy_ncpdp_id": ph.ncpdp_id,
            "days_supply": 30,
        },
    )
    page = text(resp)
    assert "Do not dispense" in page
    assert f"{len(expected['reasons'])} reasons:" in page
    for reason in expected["reasons"]:
        assert reason["message"] in page
    assert not db.session.execute(select(Authorization)).first()


def test_wrong_date_of_birth_looks_like_unknown_patient(web, factory):
    ph, rsp = factory.pharmacy()
    patient = factory.patient()
    web.sign_in(rsp)
    wrong = text(web.post("/pharmacy", _form(patient, ph, mode="check", date_of_birth="1991-02-03")))
    unknown = text(
        web.post(
            "/pharmacy", _form(patient, ph, mode="check", date_of_birth="1991-02-03", rems_id="0000000000")
        )
    )
    reasons = re.search(r"reasons?: (.*?) Pharmacy:", wrong).group(1)
    assert reasons == re.search(r"reasons?: (.*?) Pharmacy:", unknown).group(1)


def test_authorize_eligible_patient_shows_rma_and_last_day(web, factory):
    ph, rsp = factory.pharmacy()
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    scenarios.attest(patient)
    web.sign_in(rsp)
    check = text(web.post("/pharmacy", _form(patient, ph, mode="check")))
    assert "Eligible now" in check and "no authorization was issued" in check
    resp = web.post("/pharmacy", _form(patient, ph))
    assert resp.status_code == 200
    rma = db.session.execute(select(Authorization)).scalar_one()
    page = text(resp)
    assert "Authorized: you may dispense" in page and rma.rma in page
    last = rma.do_not_dispense_after
    assert f"Do not dispense after {last:%A}, {last:%b} {last.day}" in page
    again = text(web.post("/pharmacy", _form(patient, ph)))  # the same submission again (double click)
    assert rma.rma in again and len(db.session.execute(select(Authorization)).all()) == 1
    other = text(web.post("/pharmacy", _form(patient, ph, request_key="k2")))
    assert "No authorization was issued" in other  # R-RMA-1: one RMA per cycle
    rmas = text(web.get("/pharmacy/rmas"))
    assert rma.rma in rmas and patient.rems_id in rmas


def test_bad_input_keeps_values_and_shows_messages(web, factory):
    ph, rsp = factory.pharmacy()
    web.sign_in(rsp)
    resp = web.post(
        "/pharmacy",
        {
            "pharmacy": ph.ncpdp_id,
            "rems_id": "12ab",
            "date_of_birth": "not a date",
            "prescriber_npi": "",
            "days_supply": "-3",
            "mode": "check",
        },
    )
    assert resp.status_code == 400
    page = text(resp)
    assert "A REMS ID has 10 digits" in page and "Enter the prescriber's NPI" in page
    assert "Enter a whole number of days, 1 or more" in page
    assert 'value="12ab"' in resp.get_data(as_text=True)
    resp = web.post(
        "/pharmacy",
        {
            "pharmacy": ph.ncpdp_id,
            "rems_id": "1234567890",
            "date_of_birth": "2000-01-01",
            "prescriber_npi": "1234567893",
            "mode": "authorize",
        },
    )
    assert resp.status_code == 400 and "Enter the days' supply to get an authorization" in text(resp)
    # R-PRES-1: a mistyped NPI (wrong check digit) is named as such, not refused as "not certified"
    resp = web.post("/pharmacy", {"pharmacy": ph.ncpdp_id, "rems_id": "1234567890", "date_of_birth": "2000-01-01",
                                  "prescriber_npi": "1234567890", "mode": "check"})
    assert resp.status_code == 400 and "This NPI's check digit is wrong" in text(resp)
    resp = web.post("/pharmacy", _form_for_other_pharmacy(ph))
    assert resp.status_code == 400  # a pharmacy that is not one of the user's memberships


def test_rems_id_typed_with_spaces_or_dashes_is_the_same_id(web, factory):
    """R-RMA-1: the REMS ID as printed or read aloud ("5568 799 828") is accepted; it still has to be
    10 digits, and an unknown ID still looks like a wrong date of birth (R-RMA-6)."""
    ph, rsp = factory.pharmacy()
    patient = scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1)
    web.sign_in(rsp)
    r = patient.rems_id
    for typed in (f"{r[:4]} {r[4:7]} {r[7:]}", f"{r[:4]}-{r[4:7]}-{r[7:]}", f" {r[:5]} - {r[5:]} "):
        resp = web.post("/pharmacy", _form(patient, ph, mode="check", rems_id=typed))
        assert resp.status_code == 200 and "Eligible now" in text(resp), typed
    resp = web.post("/pharmacy", _form(patient, ph, mode="check", rems_id=f"{r[:4]} {r[4:9]}"))
    assert resp.status_code == 400 and "A REMS ID has 10 digits" in text(resp)
    wrong_dob = text(web.post("/pharmacy", _form(patient, ph, mode="check", date_of_birth="1991-02-03",
                                                 rems_id=f"{r[:4]} {r[4:7]} {r[7:]}")))
    unknown = text(web.post("/pharmacy", _form(patient, ph, mode="check", rems_id="0000-000-000")))
    assert re.search(r"reasons?: (.*?) Pharmacy:", wrong_dob).group(1) == re.search(
        r"reasons?: (.*?) Pharmacy:", unknown).group(1)
    assert db.session.execute(select(Authorization)).first() is None
    n = patient.prescriber.npi  # the NPI as printed on the prescription, too
    resp = web.post("/pharmacy", _form(patient, ph, rems_id=f"{r[:4]}-{r[4:7]}-{r[7:]}",
                                       prescriber_npi=f"{n[:4]} {n[4:7]} {n[7:]}"))
    assert "Authorized: you may dispense" in text(resp)
    assert db.session.execute(select(Authorization.patient_id)).scalar_one() == patient.id


def _form_for_other_pharmacy(ph):
    return {
        "pharmacy": "9999999",
        "rems_id": "1234567890",
        "date_of_birth": "2000-01-01",
        "prescriber_npi": "1234567890",
        "mode": "check",
    }


def test_reversal(web, factory):
    ph, rsp = factory.pharmacy()
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    scenarios.attest(patient)
    body = scenarios.authorize(patient, ph, rsp)
    rma = body["rma"]
    web.sign_in(rsp)
    resp = web.post(f"/pharmacy/rmas/{rma}/reversal", {}, prefix=rma)
    # one sentence per message, the RMA number once (not "RMA RMA0123...")
    assert resp.status_code == 400
    assert f"{rma} was not reversed. Give the reason for the reversal." in text(resp)
    assert f"RMA {rma}" not in text(resp)
    resp = web.post(
        f"/pharmacy/rmas/{rma}/reversal", {f"{rma}-reason": "Patient did not pick it up"}, prefix=rma
    )
    assert resp.status_code == 302
    row = db.session.execute(select(Authorization).where(Authorization.rma == rma)).scalar_one()
    assert row.status == "reversed" and row.reversal_reason == "Patient did not pick it up"
    page = text(web.get("/pharmacy/rmas"))
    assert "Reversed" in page and "Patient did not pick it up" in page
    again = web.post(f"/pharmacy/rmas/{rma}/reversal", {f"{rma}-reason": "again"}, prefix=rma)
    assert again.status_code == 400
    assert f"{rma} was not reversed. This RMA was already reversed: nothing was changed." in text(again)


def test_after_a_reversal_the_pharmacist_is_told_what_it_means_for_the_next_rma(web, factory, travel):
    """R-RMA-4: a reversal inside the window reopens the cycle until the window's last day; after
    the window (an RMA never picked up, R-CYC-4) that cycle was missed; after the end of treatment
    (R-END-1) no RMA follows. The message said 'open again if the window has not closed' in all
    three cases (QA finding): the service knows which holds."""
    from rems.web.helpers import long_date

    ph, rsp = factory.pharmacy()
    pres = factory.prescriber()
    inside = scenarios.ccgp_in_window(factory, pres, visit_days_ago=1)
    rma_inside = scenarios.authorize(inside, ph, rsp)
    late = scenarios.ccgp_in_window(factory, pres, visit_days_ago=29)  # its window closes today
    rma_late = scenarios.authorize(late, ph, rsp)["rma"]
    ended = scenarios.ccgp_in_window(factory, pres, visit_days_ago=1)
    rma_ended = scenarios.authorize(ended, ph, rsp)["rma"]
    scenarios.end_treatment(ended, last_dose_days_ago=0)
    travel(1)
    web.sign_in(rsp)

    def reverse(rma: str) -> str:
        resp = web.post(f"/pharmacy/rmas/{rma}/reversal", {f"{rma}-reason": "Never picked up"}, prefix=rma)
        assert resp.status_code == 302
        return text(web.get(resp.headers["Location"]))

    closes = long_date(rma_inside["do_not_dispense_after"])
    assert (f"{rma_inside['rma']} was reversed. The patient's cycle is open again: a corrected RMA can be "
            f"issued until {closes}.") in reverse(rma_inside["rma"])
    page = reverse(rma_late)
    assert f"{rma_late} was reversed. Its window closed on " in page
    assert "so the patient must complete a new cycle before another RMA can be issued." in page
    assert (f"{rma_ended} was reversed. Treatment has stopped for this patient: no new RMA can be issued."
            in reverse(rma_ended))
    assert "if the window has not closed" not in page


def _badges(resp) -> dict[str, str]:
    """{RMA: its badge's text} from the Recent RMAs page."""
    html = resp.get_data(as_text=True)
    return dict(re.findall(r'<h2 class="h3">(RMA[0-9]+) <span class="badge[^"]*">([^<]+)</span></h2>', html))


def test_rma_list_badges_follow_dispense_stop(web, factory, travel):
    """The badge says whether the RMA may be filled (dispensing.dispense_stop): "Authorized" only then;
    expired (R-RMA-1), reversed (R-RMA-4), a pregnancy reported (R-PT-4) or treatment ended (R-END-1)
    after it was issued. An expired RMA can still be reversed (one never picked up)."""
    from rems.services import patients

    ph, rsp = factory.pharmacy()
    pres = factory.prescriber()
    expired = scenarios.ccgp_in_window(factory, pres, visit_days_ago=29)  # window closes today
    rma_expired = scenarios.authorize(expired, ph, rsp)["rma"]
    travel(1)
    fine = scenarios.ccgp_in_window(factory, pres, visit_days_ago=1)
    rma_fine = scenarios.authorize(fine, ph, rsp)["rma"]
    ended = scenarios.ccgp_in_window(factory, pres, visit_days_ago=1)
    rma_ended = scenarios.authorize(ended, ph, rsp)["rma"]
    scenarios.end_treatment(ended, last_dose_days_ago=0)
    pregnant = scenarios.cgp_in_window(factory, pres, confirmation_days_ago=1)
    scenarios.attest(pregnant)
    rma_pregnant = scenarios.authorize(pregnant, ph, rsp)["rma"]
    patients.record_test(pres.user, pregnant, {"kind": "monthly", "specimen_date": scenarios.today(),
                                               "result": "positive", "setting": "medical"})
    reversed_ = scenarios.ccgp_in_window(factory, pres, visit_days_ago=1)
    rma_reversed = scenarios.authorize(reversed_, ph, rsp)["rma"]
    dispensing.reverse(rsp, rma_reversed, "wrong quantity")

    web.sign_in(rsp)
    resp = web.get("/pharmacy/rmas")
    page = text(resp)
    assert _badges(resp) == {
        rma_fine: "Authorized",
        rma_expired: "Expired",
        rma_ended: "Do not dispense",
        rma_pregnant: "Do not dispense",
        rma_reversed: "Reversed",
    }
    last_dose = scenarios.today()
    ended_sentence = f"Treatment ended (last dose {last_dose:%b} {last_dose.day}) after this RMA was issued."
    assert f"{ended_sentence} Do not dispense." in page
    assert "A pregnancy was reported after this RMA was issued: treatment has stopped. Do not dispense." in page
    assert page.count("Do not dispense.") == 2  # the alerts of the two stopped RMAs only
    for rma in (rma_fine, rma_expired, rma_ended, rma_pregnant):
        assert f"Reverse {rma}" in page, rma
    assert f"Reverse {rma_reversed}" not in page


def test_other_pharmacy_cannot_reverse(web, factory):
    ph, rsp = factory.pharmacy()
    _, other_rsp = factory.pharmacy()
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    scenarios.attest(patient)
    rma = scenarios.authorize(patient, ph, rsp)["rma"]
    web.sign_in(other_rsp)
    assert rma not in text(web.get("/pharmacy/rmas"))
    resp = web.post(f"/pharmacy/rmas/{rma}/reversal", {f"{rma}-reason": "mine now"}, prefix=rma)
    assert resp.status_code == 404


def test_rsp_signs_the_pharmacy_attestation(web, factory):
    ph, rsp = factory.pharmacy(certified=False)
    web.sign_in(rsp)
    page = text(web.get("/pharmacy/manage"))
    assert "cannot dispense until you sign the attestation" in page
    resp = web.post(
        f"/pharmacy/{ph.ncpdp_id}/attestation", {f"a{ph.id}-password": "not my password"}, prefix=f"a{ph.id}"
    )
    assert resp.status_code == 400 and "The password does not match" in text(resp)
    # the error summary (focused by app.js) links to the password field, which is marked invalid
    summary = _error_summary(resp)
    assert f'href="#a{ph.id}-password"' in summary and "The password does not match" in summary
    assert re.search(rf'id="a{ph.id}-password"[^>]*aria-invalid="true"|aria-invalid="true"[^>]*id="a{ph.id}-password"',
                     resp.get_data(as_text=True))
    resp = web.post(
        f"/pharmacy/{ph.ncpdp_id}/attestation", {f"a{ph.id}-password": PASSWORD}, prefix=f"a{ph.id}"
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Pharmacy, ph.id).status == "certified"


def _error_summary(resp) -> str:
    """The page's one error summary (the pattern of macros/forms.html: focused, links to fields)."""
    html = resp.get_data(as_text=True)
    found = re.findall(r'<div class="error-summary" role="alert" tabindex="-1">.*?</div>', html, flags=re.S)
    assert len(found) == 1, found
    return found[0]


def test_empty_invitation_gets_an_error_summary_linking_each_field(web, factory):
    ph, rsp = factory.pharmacy()
    web.sign_in(rsp)
    p = f"i{ph.id}"
    resp = web.post(f"/pharmacy/{ph.ncpdp_id}/invitations", {}, prefix=p)
    assert resp.status_code == 400
    summary = _error_summary(resp)
    for name in ("first_name", "last_name", "email", "license_number"):
        assert f'href="#{p}-{name}"' in summary, name
    assert f'href="#a{ph.id}-password"' not in summary  # the attestation form has no error


def test_rsp_invites_staff_and_the_code_is_shown_once(web, factory, app):
    ph, rsp = factory.pharmacy()
    web.sign_in(rsp)
    p = f"i{ph.id}"
    data = {
        f"{p}-first_name": "Noor",
        f"{p}-last_name": "Ali",
        f"{p}-email": "noor@example.org",
        f"{p}-license_number": "RPH-77",
    }
    posted = web.post(f"/pharmacy/{ph.ncpdp_id}/invitations", data, prefix=p)
    # Post/Redirect/Get (QA 2026-11-26: a reload sent the invitation again, answered "already
    # registered", and the code was lost); the code crosses encrypted (rems.web.handover)
    assert posted.status_code == 303 and posted.headers["Location"].endswith("/pharmacy/manage")
    resp = web.get(posted.headers["Location"])
    assert resp.status_code == 200
    code = re.search(r'<p class="code-once">([A-Z0-9-]+)</p>', resp.get_data(as_text=True)).group(1)
    assert resp.headers["Cache-Control"] == "no-store"
    reload = web.get("/pharmacy/manage")
    assert reload.status_code == 200 and code not in reload.get_data(as_text=True)  # shown once
    assert "already registered" not in text(reload)
    dup = web.post(f"/pharmacy/{ph.ncpdp_id}/invitations", data, prefix=p)
    assert dup.status_code == 400 and "already registered" in text(dup)
    web.sign_out()
    new = "noor's own long password"
    resp = web.post("/activate", {"activation_code": code, "password": new, "confirm": new})
    assert resp.status_code == 302
    staff = db.session.execute(select(User).where(User.email == "noor@example.org")).scalar_one()
    web.sign_in(staff.email, new)
    assert web.get("/pharmacy").status_code == 200
    # staff are not the RSP: the pharmacy's invitation and attestation are refused (policy object check)
    assert web.post(f"/pharmacy/{ph.ncpdp_id}/invitations", data, prefix=p).status_code == 404
    assert (
        web.post(
            f"/pharmacy/{ph.ncpdp_id}/attestation", {f"a{ph.id}-password": new}, prefix=f"a{ph.id}"
        ).status_code
        == 404
    )
    assert "Invite a pharmacist" not in text(web.get("/pharmacy/manage"))


def test_unknown_pharmacy_is_404(web, web_as):
    web_as("pharmacist")
    assert web.post("/pharmacy/12345678901/attestation", {"password": PASSWORD}).status_code == 404


def test_an_rma_older_than_the_latest_ones_can_be_found(web, factory, monkeypatch):
    """R-RMA-4: the list shows the latest RMAs only; one further back must stay reachable (to see
    whether it may be filled, or to reverse it): by its number or the patient's REMS ID, as typed."""
    from rems.models import AuditEntry
    from rems.services import dispensing

    ph, rsp = factory.pharmacy()
    first = scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1)
    second = scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1)
    web.sign_in(rsp)
    for p in (first, second):
        assert "Authorized: you may dispense" in text(web.post("/pharmacy", _form(p, ph, request_key=p.rems_id)))
    old = db.session.execute(select(Authorization).where(Authorization.patient_id == first.id)).scalar_one()
    monkeypatch.setattr(dispensing, "RECENT_RMAS", 1)  # only the latest RMA is listed
    latest = text(web.get("/pharmacy/rmas"))
    assert old.rma not in latest and "The last 1 authorizations" in latest
    r = first.rems_id
    for typed in (old.rma, old.rma.lower(), f"{r[:4]} {r[4:7]} {r[7:]}"):
        found = text(web.get("/pharmacy/rmas", query_string={"find": typed}))
        assert old.rma in found and second.rems_id not in found, typed
    nothing = web.get("/pharmacy/rmas", query_string={"find": "hello"})  # no number: says how to search
    assert nothing.status_code == 400 and "use the last name and date of birth" in text(nothing)
    assert old.rma not in text(nothing)
    # R-AUD-1: each search that showed the patient's RMAs is audited (three above)
    searched = db.session.execute(
        select(AuditEntry).where(AuditEntry.action == "authorization.searched")).scalars().all()
    assert len(searched) == 3 and {e.patient_id for e in searched} == {first.id}
    assert searched[0].after == {"find": old.rma, "rmas": [old.rma]}
    # a failed reversal of the found RMA shows it with its error; a reversal shows it reversed
    failed = web.post(f"/pharmacy/rmas/{old.rma}/reversal", {f"{old.rma}-reason": ""}, prefix=old.rma)
    assert failed.status_code == 400 and f"{old.rma} was not reversed." in text(failed)
    assert f'id="{old.rma}-reason"' in failed.get_data(as_text=True)
    done = web.post(f"/pharmacy/rmas/{old.rma}/reversal", {f"{old.rma}-reason": "never picked up"},
                    prefix=old.rma, follow_redirects=True)
    assert f"{old.rma} was reversed" in text(done) and "Reversed" in text(done)


# ----- the RMA list: keyset pages ("Older RMAs" / "Newer") ----------------------------------------
def _links(resp) -> dict[str, str]:
    """The list's page links by their text: {"Older RMAs": url, "Newer": url, "The latest": url}."""
    import html as html_lib

    nav = re.search(r'<nav class="pagination"[^>]*>(.*?)</nav>', resp.get_data(as_text=True), re.S)
    if nav is None:
        return {}
    return {re.sub(r"[^A-Za-z ]", "", label).strip(): html_lib.unescape(href)
            for href, label in re.findall(r'<a href="([^"]+)"[^>]*>([^<]+)</a>', nav.group(1))}


def _listed(resp) -> list[str]:
    return re.findall(r'<h2 class="h3">(RMA[0-9]{10})', resp.get_data(as_text=True))


def test_the_rma_list_pages_back_by_position_not_offset(web, factory, monkeypatch):
    """"Older RMAs" / "Newer" page through every RMA of the pharmacy, newest first, each exactly
    once, on (recorded_at, id): two RMAs of the same instant are both shown, in id order, and an
    RMA issued while the pharmacist reads the list shifts no page (an OFFSET would repeat one)."""
    import sqlalchemy as sa

    ph, rsp = factory.pharmacy()
    pres = factory.prescriber()
    issued = [scenarios.authorize(scenarios.ccgp_in_window(factory, pres, visit_days_ago=1), ph, rsp)["rma"]
              for _ in range(5)]
    rows = {a.rma: a for a in db.session.execute(select(Authorization)).scalars()}
    # the 3rd and 4th RMAs share one instant (the last of page one, the first of page two): only
    # the id orders them, and neither is lost nor shown twice at the page boundary
    db.session.execute(sa.update(Authorization).where(Authorization.rma == issued[2])
                       .values(recorded_at=rows[issued[3]].recorded_at))
    db.session.commit()
    newest_first = [a.rma for a in sorted(db.session.execute(select(Authorization)).scalars(),
                                          key=lambda a: (a.recorded_at, a.id), reverse=True)]
    assert newest_first == issued[::-1]
    monkeypatch.setattr(dispensing, "RECENT_RMAS", 2)
    web.sign_in(rsp)
    first = web.get("/pharmacy/rmas")
    assert _listed(first) == newest_first[:2] and set(_links(first)) == {"Older RMAs"}
    assert "The last 2 authorizations" in text(first)
    # an RMA issued now does not shift the older pages
    late = scenarios.authorize(scenarios.ccgp_in_window(factory, pres, visit_days_ago=1), ph, rsp)["rma"]
    second = web.get(_links(first)["Older RMAs"])
    assert second.status_code == 200 and _listed(second) == newest_first[2:4]
    assert set(_links(second)) == {"Newer", "Older RMAs"} and "Older authorizations issued" in text(second)
    third = web.get(_links(second)["Older RMAs"])
    assert _listed(third) == newest_first[4:] and set(_links(third)) == {"Newer"}
    back = web.get(_links(third)["Newer"])
    assert _listed(back) == newest_first[2:4]
    top = web.get(_links(back)["Newer"])  # the newest two above page two: the late RMA is one of them
    assert _listed(top) == [newest_first[0], newest_first[1]] and set(_links(top)) == {"Newer", "Older RMAs"}
    assert _listed(web.get(_links(top)["Newer"])) == [late, newest_first[0]]


def test_rma_search_results_page_too_and_each_page_is_audited(web, factory, monkeypatch):
    """A search keeps its words on the page links, and R-AUD-1 audits each page of it for the
    patient it shows (the RMAs shown on that page)."""
    from rems.models import AuditEntry
    from rems.services import keyset

    ph, rsp = factory.pharmacy()
    patient = scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1)
    wrong = scenarios.authorize(patient, ph, rsp)["rma"]
    dispensing.reverse(rsp, wrong, "wrong quantity")  # R-RMA-4: the cycle reopens for a corrected RMA
    right = scenarios.authorize(patient, ph, rsp)["rma"]
    other = scenarios.authorize(scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1),
                                ph, rsp)["rma"]
    monkeypatch.setattr(dispensing, "RECENT_RMAS", 1)
    web.sign_in(rsp)
    found = web.get("/pharmacy/rmas", query_string={"find": patient.rems_id})
    assert _listed(found) == [right] and set(_links(found)) == {"Older RMAs"}
    older = web.get(_links(found)["Older RMAs"])
    assert f"find={patient.rems_id}" in _links(found)["Older RMAs"]
    assert _listed(older) == [wrong] and other not in older.get_data(as_text=True)
    assert f"matching “{patient.rems_id}”, older ones" in text(older)
    searched = db.session.execute(select(AuditEntry).where(AuditEntry.action == "authorization.searched")
                                  .order_by(AuditEntry.id)).scalars().all()
    assert [e.after["rmas"] for e in searched] == [[right], [wrong]]
    assert {e.patient_id for e in searched} == {patient.id}
    # the oldest has no "Older RMAs"; a position past it is an empty page with a way back, not audited
    assert set(_links(older)) == {"Newer"}
    oldest = db.session.execute(select(Authorization).where(Authorization.rma == wrong)).scalar_one()
    past = web.get("/pharmacy/rmas", query_string={"find": patient.rems_id,
                                                   "before": keyset.Position(oldest.recorded_at, oldest.id).token})
    assert "No older authorizations match" in text(past) and set(_links(past)) == {"The latest"}
    assert len(db.session.execute(select(AuditEntry).where(
        AuditEntry.action == "authorization.searched")).all()) == 2


BAD_PAGE_LINKS = [
    {"before": "yesterday"}, {"before": "1.2.3"}, {"after": "-5.7"}, {"before": "123456789012345678.1"},
    {"before": "1795000000000000.99999999999"}, {"after": "1795000000000000.1", "before": "1795000000000000.2"},
    {"before": "1795000000000000.1\x00"}, {"after": "\u0661\u0662\u0663.\u0664"}, {"before": "1" * 5000},
]


def test_a_bad_page_link_shows_the_latest_with_a_message(web, factory):
    """A page token cut short, made up or doubled is the first page with a message, never a 500."""
    ph, rsp = factory.pharmacy()
    rma = scenarios.authorize(scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1),
                              ph, rsp)["rma"]
    web.sign_in(rsp)
    for query in BAD_PAGE_LINKS:
        resp = web.get("/pharmacy/rmas", query_string=query)
        assert resp.status_code == 200 and _listed(resp) == [rma], query
        assert ("This page link is not valid (it may have been cut short), so the latest authorizations "
                "are shown.") in text(resp), query
    assert "not valid" not in text(web.get("/pharmacy/rmas", query_string={"before": ""}))


def test_a_far_page_position_is_an_empty_or_full_page_not_an_error(web, factory):
    """Well-formed tokens far outside the list: before the first RMA ever (nothing older) or after
    the year 5000 (everything is older)."""
    ph, rsp = factory.pharmacy()
    rma = scenarios.authorize(scenarios.ccgp_in_window(factory, factory.prescriber(), visit_days_ago=1),
                              ph, rsp)["rma"]
    web.sign_in(rsp)
    nothing = web.get("/pharmacy/rmas", query_string={"before": "0.1"})
    assert nothing.status_code == 200 and _listed(nothing) == [] and "No older authorizations." in text(nothing)
    assert set(_links(nothing)) == {"The latest"}
    far = web.get("/pharmacy/rmas", query_string={"before": "99999999999999999.2147483647"})
    assert far.status_code == 200 and _listed(far) == [rma]
    newer = web.get("/pharmacy/rmas", query_string={"after": "99999999999999999.1"})
    assert newer.status_code == 200 and _listed(newer) == [rma] and "The last 50 authorizations" in text(newer)


def test_reversing_from_an_older_page_comes_back_to_that_page(web, factory, monkeypatch):
    """R-RMA-4 from the list's second page: the form carries the page, and after the reversal the
    pharmacist is back on it, the RMA marked reversed in its place (QA 2026-11-26: it jumped to a
    search for that RMA)."""
    ph, rsp = factory.pharmacy()
    pres = factory.prescriber()
    issued = [scenarios.authorize(scenarios.ccgp_in_window(factory, pres, visit_days_ago=1), ph, rsp)["rma"]
              for _ in range(3)]
    monkeypatch.setattr(dispensing, "RECENT_RMAS", 2)
    web.sign_in(rsp)
    older_url = _links(web.get("/pharmacy/rmas"))["Older RMAs"]
    older = web.get(older_url)
    assert _listed(older) == [issued[0]]
    action = re.search(rf'action="([^"]*/{issued[0]}/reversal[^"]*)"', older.get_data(as_text=True)).group(1)
    import html as html_lib

    resp = web.post(html_lib.unescape(action), {f"{issued[0]}-reason": "Not picked up"}, prefix=issued[0])
    assert resp.status_code == 302 and resp.headers["Location"].endswith(older_url.split("/pharmacy/rmas")[1])
    back = web.get(resp.headers["Location"])
    assert _listed(back) == [issued[0]] and "was reversed" in text(back) and "Not picked up" in text(back)
    # a made-up page in the form's address is not carried: the reversed RMA is shown by its number
    resp = web.post(f"/pharmacy/rmas/{issued[1]}/reversal?before=nonsense", {f"{issued[1]}-reason": "x"},
                    prefix=issued[1])
    assert resp.status_code == 302 and f"find={issued[1]}" in resp.headers["Location"]
