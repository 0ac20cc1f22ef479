"""Messages: the in-app notifications every role receives (R-REM-2 reminders; R-PT-4 and R-END-1
notices: a prescriber told of a positive test, a pharmacist told not to fill an RMA). Each
notification is also emailed; this page keeps them where the person works."""

from __future__ import annotations

from typing import NamedTuple

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from rems.services import notify
from rems.web.helpers import role_required

bp = Blueprint("messages", __name__)

NAV = {role: [("messages.index", "Messages")] for role in ("prescriber", "pharmacist", "admin")}

EMPTY = {
    "patient": "You have no messages yet. Reminders about your tests and pharmacy window will appear here.",
    "prescriber": "You have no messages yet. Notices about your patients and your certification will appear here.",
    "pharmacist": "You have no messages yet. Notices about your pharmacy's authorizations (RMAs) and its "
                  "certification will appear here.",
    "admin": "You have no messages yet. Pregnancy reports and other notices will appear here.",
}


SHOWN = 3  # unread messages listed on a role's main page


class NewMessages(NamedTuple):
    shown: list
    more: bool  # there are more unread messages than those shown


def newest_unread() -> NewMessages:
    """For a main page's "New messages" box: the SHOWN newest unread messages, and whether there
    are more (one statement: SHOWN + 1 rows)."""
    rows = notify.unread(current_user._get_current_object(), limit=SHOWN + 1)
    return NewMessages(rows[:SHOWN], len(rows) > SHOWN)


def page(read_endpoint: str):
    """The messages page of the signed-in user (the patient's own page uses it too)."""
    user = current_user._get_current_object()
    return render_template("messages.html", notes=notify.inbox(user), read_url=url_for(read_endpoint),
                           empty=EMPTY.get(user.role, EMPTY["admin"]))


def mark_read(back_endpoint: str):
    count = notify.mark_all_read(current_user._get_current_object())
    flash("All messages are marked as read." if count else "There were no new messages.", "success")
    return redirect(url_for(back_endpoint))


@bp.get("/messages")
@role_required("account.self")
def index():
    return page("messages.read")


@bp.post("/messages/read")
@role_required("account.self")
def read():
    return mark_read("messages.index")
