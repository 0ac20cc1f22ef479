"""Accessibility (WCAG 2.1 AA) of every role's pages, checked on the HTML the server sends.

No browser and no network: each page is rendered with the Flask test client and parsed with the
standard library (tests/web/a11y_rules.py). A browser run with axe-core (README, "Accessibility")
covers what only a browser sees (computed colours, focus order); these rules keep the structure
from regressing in every test run.
"""

from __future__ import annotations

import pytest

from tests.support.factories import PASSWORD
from tests.web.a11y_rules import parse, problems
from tests.worker import scenarios


def assert_accessible(resp, expect_errors=False):
    html = resp.get_data(as_text=True)
    assert resp.status_code in (200, 400, 404, 409, 422), (resp.status_code, html[:500])
    found = problems(html)
    assert found == [], f"{resp.request.path}: " + "\n".join(found)
    title = next(n for n in parse(html).iter() if n.tag == "title").text()
    shows_errors = 'class="error-summary"' in html or 'class="error-message"' in html
    assert shows_errors == expect_errors, f"{resp.request.path}: errors shown {shows_errors}, title {title!r}"
    return html


def test_signed_out_pages(web):
    for path in ("/sign-in", "/activate", "/register/prescriber", "/register/pharmacy"):
        assert_accessible(web.get(path))
    assert_accessible(web.get("/no-such-page"))


def test_signed_out_forms_with_errors_title_error_first(web, factory):
    user = factory.prescriber().user
    html = assert_accessible(web.post("/sign-in", {"email": user.email, "password": "not the password"}),
                             expect_errors=True)
    assert "<title>Error: Sign in" in html
    assert_accessible(web.post("/activate", {}), expect_errors=True)
    assert_accessible(web.post("/register/prescriber", {}), expect_errors=True)
    assert_accessible(web.post("/register/pharmacy", {}), expect_errors=True)


def test_prescriber_pages_and_record_forms(web, factory):
    prescriber = factory.prescriber()
    patient = scenarios.cgp_in_window(factory, prescriber, confirmation_days_ago=2)
    web.sign_in(prescriber.user)
    for path in ("/prescriber/", "/prescriber/certification", "/prescriber/patients/new", "/messages",
                 "/account/password", f"/prescriber/patients/{patient.rems_id}"):
        assert_accessible(web.get(path))
    assert_accessible(web.post("/prescriber/patients/new", {}), expect_errors=True)
    assert_accessible(web.post("/account/password", {}), expect_errors=True)
    # a record form (visit and counseling) sent without its date or signature
    resp = web.post(f"/prescriber/patients/{patient.rems_id}/visit", {}, prefix="visit", follow_redirects=True)
    html = assert_accessible(resp, expect_errors=True)
    assert "<title>Error: " in html


def test_enrolling_a_patient_does_not_offer_the_prescribers_own_email(web, factory):
    web.sign_in(factory.prescriber().user)
    html = web.get("/prescriber/patients/new").get_data(as_text=True)
    email = next(n for n in parse(html).iter() if n.tag == "input" and n.attrs.get("name") == "email")
    assert email.attrs.get("autocomplete") == "off"


def test_pharmacist_pages_and_dispense_answers(web, factory):
    pharmacy, rsp = factory.pharmacy()
    ready = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    scenarios.attest(ready)
    not_ready = factory.patient()
    web.sign_in(rsp)
    for path in ("/pharmacy", "/pharmacy/rmas", "/pharmacy/manage", "/messages"):
        assert_accessible(web.get(path))
    assert_accessible(web.post("/pharmacy", {"pharmacy": pharmacy.ncpdp_id, "mode": "authorize"}), expect_errors=True)

    def dispense(patient, mode):
        return web.post("/pharmacy", {
            "pharmacy": pharmacy.ncpdp_id, "rems_id": patient.rems_id,
            "date_of_birth": patient.date_of_birth.isoformat(), "prescriber_npi": patient.prescriber.npi,
            "days_supply": "30", "quantity": "60", "mode": mode, "request_key": f"k-{patient.id}",
        })

    assert "RMA" in assert_accessible(dispense(ready, "authorize"))
    assert_accessible(dispense(not_ready, "check"))
    assert_accessible(web.get("/pharmacy/rmas"))


def test_admin_pages_and_question_form(web, factory):
    factory.patient()
    web.sign_in(factory.admin())
    ph, _ = factory.pharmacy()
    for path in ("/admin/", "/admin/users", "/admin/pharmacies", "/admin/questions", "/admin/questions/new",
                 "/admin/audit", "/admin/reports", "/admin/pregnancy-cases", "/messages"):
        assert_accessible(web.get(path))
    # a pharmacy's change without a reason, and one that does not apply: each error is read with its field
    for action in ("suspend", "close"):
        assert_accessible(web.post(f"/admin/pharmacies/{ph.ncpdp_id}/certification",
                                   {f"p{ph.ncpdp_id}-action": action, f"p{ph.ncpdp_id}-reason": ""},
                                   prefix=f"p{ph.ncpdp_id}"), expect_errors=True)
    html = assert_accessible(web.post("/admin/questions/new", {}), expect_errors=True)
    # the answers' error is read with the group of answers it belongs to
    fieldset = next(n for n in parse(html).iter() if n.tag == "fieldset" and n.attrs.get("id") == "correct")
    assert "correct-error" in fieldset.attrs.get("aria-describedby", "").split()


def test_patient_pages_and_monthly_questions(web, factory):
    patient = scenarios.cgp_in_window(factory, factory.prescriber(), confirmation_days_ago=1)
    web.sign_in(patient.user)
    for path in ("/patient", "/patient/monthly", "/patient/documents", "/patient/notifications", "/messages"):
        assert_accessible(web.get(path))
    html = assert_accessible(web.post("/patient/monthly", {"primary_forms": "iud", "password": PASSWORD}),
                             expect_errors=True)
    # each question is a group of radios with its question as the legend, its error tied to the group
    tree = parse(html)
    radios = [n for n in tree.iter() if n.tag == "input" and n.attrs.get("type") == "radio"]
    assert radios
    for radio in radios:
        group = next(a for a in radio.ancestors() if a.tag == "fieldset")
        refs = group.attrs.get("aria-describedby", "").split()
        assert any(r.endswith("-error") for r in refs), group.describe()


def test_patient_consent_form(web, factory):
    patient = factory.patient(consent=False)
    web.sign_in(patient.user)
    assert_accessible(web.get("/patient/consent"))
    assert_accessible(web.post("/patient/consent", {}), expect_errors=True)


def test_many_row_forms_on_one_page_keep_ids_unique(web, factory):
    """The question bank has one activate/deactivate form per question: its CSRF field has no id."""
    web.sign_in(factory.admin())
    html = web.get("/admin/questions").get_data(as_text=True)
    assert html.count('name="csrf_token"') > 2
    assert 'id="csrf_token"' not in html


@pytest.mark.parametrize("html, expected", [
    ('<input type="text" id="a">', "has no label"),
    ('<p class="error-message" id="e">Bad</p>', "is not referenced by any aria-describedby"),
    ('<input type="radio" name="q" id="r"><label for="r">Yes</label>', "not inside a fieldset"),
    ('<table><tr><th>Name</th></tr></table>', "has no scope"),
    ('<div class="flashes"><div class="alert"><p>Saved</p></div></div>', "not in a live region"),
    ('<h1>Two</h1>', "2 h1 elements"),
    ('<button aria-label="Revoke the certification of Ann">Revoke certification</button>', "but is named"),
])
def test_the_rules_catch_what_they_are_for(html, expected):
    page = ('<!doctype html><html lang="en"><head><title>Page · REMS</title></head><body>'
            '<a href="#main">Skip</a><header></header><main id="main"><h1>One</h1>'
            f'{html}</main><footer></footer></body></html>')
    assert any(expected in p for p in problems(page)), problems(page)
