"""Prescriber pages in a real browser, at desktop and phone width: a 100-character unbroken name
must not push the worklist's columns, the admin Users table's Status and Suspend columns, or the
page headings off screen (rems/static/css); the positive-result confirmation (R-PT-4) shows when
Positive is chosen."""

from __future__ import annotations

from datetime import date

import pytest

from rems.extensions import db
from rems.services import enrollment
from tests.e2e.conftest import DESKTOP, PHONE, sign_in
from tests.support.factories import PASSWORD

pytestmark = pytest.mark.browser

LONG_LAST_NAME = "Q" * 100


def _no_sideways_scroll(page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], width


def _on_screen(page, selector: str) -> None:
    """The element's right edge is inside the viewport (not pushed off by a long name)."""
    right = page.locator(selector).first.evaluate("e => e.getBoundingClientRect().right")
    assert right <= page.viewport_size["width"], (selector, right)


def _each_width(page, check) -> None:
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        check(size)
    page.set_viewport_size(DESKTOP)


def test_a_very_long_name_keeps_the_prescriber_pages_on_screen(live_server, page, factory):
    base = live_server
    pres = factory.prescriber()
    long_one, _ = enrollment.enroll(pres.user, {
        "first_name": "Wilhelmina", "last_name": LONG_LAST_NAME, "date_of_birth": date(2001, 1, 1),
        "email": "long.name@example.org", "category": "can_get_pregnant"})
    factory.patient(pres)
    db.session.commit()
    sign_in(page, base, pres.user.email, PASSWORD)

    page.goto(f"{base}/prescriber/")

    def worklist(size):
        _no_sideways_scroll(page)
        if size is DESKTOP:  # on a phone the table scrolls inside its own frame, as it always did
            for header in ("When", "What is left"):
                _on_screen(page, f'th:text-is("{header}")')

    _each_width(page, worklist)

    page.goto(f"{base}/prescriber/patients/{long_one.rems_id}")
    _each_width(page, lambda size: (_no_sideways_scroll(page), _on_screen(page, "h1")))

    page.goto(f"{base}/prescriber/patients/new")
    page.get_by_label("First name").fill("Wilhelmina")
    page.get_by_label("Last name").fill("R" * 100)
    page.get_by_label("Date of birth").fill("2002-02-02")
    page.get_by_label("Patient's email address").fill("other.long.name@example.org")
    page.get_by_label("Can get pregnant").check()
    page.get_by_role("button", name="Enroll").click()
    page.get_by_text("is enrolled").wait_for()
    _each_width(page, lambda size: (_no_sideways_scroll(page), _on_screen(page, "h1")))


def test_a_very_long_name_keeps_the_users_table_status_and_suspend_on_screen(live_server, page, factory):
    base = live_server
    admin = factory.admin()
    pres = factory.prescriber()
    enrollment.enroll(pres.user, {
        "first_name": "Wilhelmina", "last_name": LONG_LAST_NAME, "date_of_birth": date(2001, 1, 1),
        "email": "long.name@example.org", "category": "can_get_pregnant"})
    factory.patient(pres)
    db.session.commit()
    sign_in(page, base, admin.email, PASSWORD)
    page.goto(f"{base}/admin/users")

    def users(size):
        _no_sideways_scroll(page)
        if size is DESKTOP:  # a phone shows each row as a stacked card
            for header in ("Status", "Suspend or reinstate"):
                _on_screen(page, f'th:text-is("{header}")')
            _on_screen(page, 'button:text-is("Suspend")')

    _each_width(page, users)


def test_r_pt_4_the_positive_confirmation_shows_when_positive_is_chosen(live_server, page, factory):
    base = live_server
    pres = factory.prescriber()
    patient = factory.patient(pres)
    db.session.commit()
    sign_in(page, base, pres.user.email, PASSWORD)
    page.goto(f"{base}/prescriber/patients/{patient.rems_id}")
    page.get_by_text("Pregnancy test result").click()
    confirm = page.get_by_label("I confirm this result is positive")
    page.get_by_label("Negative", exact=True).check()
    assert not confirm.is_visible()
    page.get_by_label("Positive", exact=True).check()
    assert confirm.is_visible()
    page.get_by_role("button", name="Record the result").click()  # not ticked: nothing recorded
    assert page.locator("#test-confirm-error").is_visible()
    assert page.console_errors == []


def test_reloading_the_enrollment_confirmation_enrolls_nobody_again(live_server, page, factory):
    """Post/Redirect/Get in a real browser: the confirmation shows the one-time code (R-PAT-3) once;
    a reload sends no form (no second patient, no resubmission prompt), shows no code and offers a
    new one, whose own page a reload does not replace again."""
    import re

    from sqlalchemy import func, select

    from rems.models import AuditEntry, Patient

    base = live_server
    pres = factory.prescriber()
    db.session.commit()
    sign_in(page, base, pres.user.email, PASSWORD)
    page.goto(f"{base}/prescriber/patients/new")
    page.get_by_label("First name").fill("Rhea")
    page.get_by_label("Last name").fill("Reload")
    page.get_by_label("Date of birth").fill("2002-02-02")
    page.get_by_label("Patient's email address").fill("rhea.reload@example.org")
    page.get_by_label("Can get pregnant").check()
    page.get_by_role("button", name="Enroll").click()
    page.get_by_text("Rhea Reload is enrolled").wait_for()
    assert re.search(r"/prescriber/patients/[0-9]{10}/enrolled$", page.url), page.url
    code_re = re.compile(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}\b")
    code = code_re.search(page.inner_text("main")).group(0)
    page.reload()
    page.get_by_text("The activation code is not shown again").wait_for()
    assert code_re.search(page.inner_text("main")) is None
    db.session.rollback()  # read what the server committed
    assert db.session.execute(select(func.count()).select_from(Patient)).scalar_one() == 1
    assert db.session.execute(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "patient.enrolled")).scalar_one() == 1
    page.get_by_role("button", name="Issue a new activation code").click()
    page.get_by_text("A new activation code for Rhea Reload").wait_for()
    new_code = code_re.search(page.inner_text("main")).group(0)
    assert new_code != code and page.url.endswith("/activation-code")
    page.reload()
    page.get_by_text("The activation code is not shown again").wait_for()
    assert code_re.search(page.inner_text("main")) is None
    db.session.rollback()
    assert db.session.execute(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "patient.activation_code_replaced")).scalar_one() == 1
    assert page.console_errors == []
