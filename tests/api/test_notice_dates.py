"""A notice kept to be read later names its dates with their year, whenever it is read: the
pharmacy's "do not dispense" notice (R-PT-4, R-END-1) and a reminder's in-app copy (R-REM-2) are
stored text, read on a day not known when written (README: "read in the next year its date
lacked the year"). The live sentences keep naming the year only for another year's day."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from rems.extensions import db
from rems.models import Notification, ReminderSent, User
from rems.services import reminders
from tests.api.test_refusals import CCGP
from workflows.messages import kept, short


def test_the_do_not_dispense_notice_names_the_last_doses_year_even_in_its_own_year(api):
    prescriber, pharmacy = api.register_prescriber(), api.register_pharmacy()
    pharmacist = api.add_pharmacist(pharmacy)
    p = api.enroll(prescriber, CCGP)
    api.call("POST", f"/patients/{p.rems_id}/visits", as_=prescriber.email,
             json={"visit_date": api.day(0), "counseled": True, "signature": api.sig()}, expect=201)
    assert api.authorize(pharmacist, p, pharmacy).status_code == 201
    last = api.t0
    api.call("POST", f"/patients/{p.rems_id}/end-of-treatment", as_=prescriber.email,
             json={"last_dose_date": last.isoformat(), "reason": "course complete"}, expect=200)
    staff = db.session.execute(sa.select(User).where(User.email == pharmacist)).scalar_one()
    note = db.session.execute(sa.select(Notification).where(Notification.user_id == staff.id,
                                                            Notification.kind == "rma_stopped")).scalar_one()
    assert kept(last) == f"{short(last)}, {last.year}"
    assert note.body.endswith(f"treatment ended (last dose {kept(last)}).")  # not just "Nov 26"


def test_a_reminders_in_app_copy_names_the_year_and_its_email_the_live_form(app):
    with app.app_context():
        from rems.clock import today

        closes = today() + timedelta(days=2)
        row = ReminderSent(kind="window_closing", payload={"closes": closes.isoformat()})
        user = User(first_name="Pat")
        subject, _ = reminders.message(row, user)
        kept_subject, context = reminders.message(row, user, stored=True)
        assert kept_subject.endswith(f", {closes.year}") and context["closes"].endswith(str(closes.year))
        assert subject.endswith(str(closes.year)) == (closes.year != today().year)
