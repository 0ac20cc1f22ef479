"""Administrator views (R-ADMIN-1): thin; the services own every write and every query."""

from __future__ import annotations

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from rems.clock import local_time
from rems.errors import ApiError
from rems.services import admin, admin_changes, admin_queries, audit, practice, reports
from rems.web import messages
from rems.web.admin import bp
from rems.web.admin.charts import bar_chart
from rems.web.admin.forms import ActionForm, QuestionForm, ReasonForm, StatusForm, ToggleForm
from rems.web.helpers import apply_api_error, role_required


@bp.app_template_filter("short_dt")
def short_datetime(instant) -> str:
    """'2026-11-25 16:44 EST' in the program time zone, named (an auditor compares these times with
    other systems' logs), for dense tables."""
    from zoneinfo import ZoneInfo

    from rems.clock import program

    return instant.astimezone(ZoneInfo(program().timezone)).strftime("%Y-%m-%d %H:%M %Z") if instant else ""


bp.add_app_template_filter(local_time, "local_time")  # 'Nov 25, 2026 at 4:44 PM EST' (who did what, when)


def _user():
    return current_user._get_current_object()


def _status(*forms) -> int:
    return 422 if any(f is not None and (f.errors or f.form_errors) for f in forms) else 200


@bp.get("/")
@role_required("admin.manage")
def index():
    expiring = reports.certifications_expiring()
    return render_template(
        "admin/index.html",
        counts=admin_queries.overview(),
        expiring=expiring,
        horizon=reports.EXPIRY_HORIZON,
        page_title="Administration",
        new_messages=messages.newest_unread(),
    )


# ----- users ------------------------------------------------------------------------------------
def _render_users(failed_id=None, failed_form=None):
    page, filters = admin_queries.search_users(request.args)
    forms, changes = {}, {}
    for u in page.items:
        changes[u.id] = practice.status_changes(u)  # R-ADMIN-1: only what applies to the account now
        form = failed_form if u.id == failed_id else StatusForm(prefix=f"u{u.id}", formdata=None)
        if u.id != failed_id:
            form.status.data = "active" if u.status == "suspended" else "suspended"
        form.version.data = practice.account_version(u)  # what the page shows (optimistic concurrency)
        forms[u.id] = form
    return render_template(
        "admin/users.html", page=page, filters=filters, forms=forms, changes=changes, page_title="Users"
    ), _status(failed_form)


@bp.get("/users")
@role_required("admin.manage")
def users():
    return _render_users()


@bp.post("/users/<int:user_id>/status")
@role_required("admin.manage")
def user_status(user_id):
    """Suspend, revoke (R-PRES-1) or reinstate. Suspending and revoking show a confirmation page
    first, which posts here again with `confirm`; only that post changes anything."""
    form = StatusForm(prefix=f"u{user_id}")
    if form.validate_on_submit():
        status = "revoked" if request.form.get("revoke") else form.status.data  # R-PRES-1
        change = {"status": status, "reason": form.reason.data.strip(), "version": form.version.data or ""}
        try:
            if status != "active" and form.confirm.data != "1":
                preview = admin.preview_status(_user(), user_id, change)
                return _confirm_status(form, preview, change)
            u = admin.set_status(_user(), user_id, change)
        except ApiError as err:
            if err.status == 404:
                raise
            if err.status == 409:  # own account, a change that does not apply, or changed since: nothing to correct
                flash(err.detail, "error")
                return redirect(url_for(".users", **request.args))
            apply_api_error(form, err)
        else:
            verb = "suspended" if u["status"] == "suspended" else "reinstated"
            if u.get("prescriber_status") == "revoked":
                verb = "suspended and their certification revoked"
            elif status == "active" and u.get("prescriber_status") == "pending":
                verb = "reinstated; they must sign the prescriber attestation again"
            flash(f"{u['email']} was {verb}.", "success")
            return redirect(url_for(".users", **request.args))
    return _render_users(user_id, form)


def _confirm_status(form, preview, change):
    user, revoke = preview["user"], change["status"] == "revoked"
    role = (f"prescriber, NPI {user.prescriber.npi}" if user.role == "prescriber"
            else admin_changes.ROLE_NAMES[user.role])
    hidden = [(form.status.name, form.status.data), (form.reason.name, change["reason"]),
              (form.version.name, change["version"]), (form.confirm.name, "1")]
    return render_template(
        "admin/confirm.html", form=form, hidden=hidden + ([("revoke", "1")] if revoke else []),
        consequences=preview["consequences"], reason=change["reason"],
        title=f"{'Revoke the certification of' if revoke else 'Suspend'} {user.full_name}?",
        subject=f"{user.full_name} ({role}, {user.email})",
        action=url_for(".user_status", user_id=user.id, **request.args), cancel=url_for(".users", **request.args),
        button="Revoke the certification" if revoke else "Suspend the account",
        page_title="Confirm: " + ("revoke certification" if revoke else "suspend account"),
    )


# ----- question bank ----------------------------------------------------------------------------
def _question(question_id: int) -> dict:
    found = next((q for q in admin.list_questions() if q["id"] == str(question_id)), None)
    if found is None:
        abort(404)
    return found


@bp.get("/questions")
@role_required("admin.manage")
def questions():
    return render_template(
        "admin/questions.html",
        questions=admin.list_questions(),
        toggle=ToggleForm(),
        page_title="Comprehension questions",
    )


@bp.route("/questions/new", methods=["GET", "POST"])
@bp.route("/questions/<int:question_id>", methods=["GET", "POST"])
@role_required("admin.manage")
def question(question_id=None):
    existing = _question(question_id) if question_id is not None else None
    form, conflict = QuestionForm(), False
    if request.method == "GET" and existing:
        form.load(existing)
    if form.validate_on_submit():
        body = form.payload(existing)
        if existing:  # saved only if nobody saved the question since the editor was opened
            body["version"] = form.version.data or ""
        try:
            saved = admin.save_question(_user(), question_id, body)
        except ApiError as err:
            if err.code == "VERSION_CONFLICT":  # the typed text stays; the page shows the question as saved now
                form.version.data, conflict = err.extra["version"], True
                existing = _question(question_id)
            apply_api_error(form, err, {"choices": "choice_1"})
        else:
            flash(f"Question {saved['id']} saved.", "success")
            return redirect(url_for(".questions"))
    return render_template(
        "admin/question.html",
        form=form,
        existing=existing,
        conflict=conflict,
        page_title="Edit question" if existing else "New question",
    ), 409 if conflict else _status(form)


@bp.post("/questions/<int:question_id>/active")
@role_required("admin.manage")
def question_active(question_id):
    """Deactivate or reactivate, as the list asked (`active`), on the version the list showed."""
    existing = _question(question_id)
    form = ToggleForm()
    if form.validate_on_submit():
        body = {k: existing[k] for k in ("text", "explanation", "choices")}
        body["active"], body["version"] = form.active.data == "1", form.version.data or ""
        try:
            admin.save_question(_user(), question_id, body)
        except ApiError as err:
            if err.status != 409:
                raise
            flash(err.detail if err.code == "VERSION_CONFLICT" else
                  f"Question {question_id} stays active: {err.errors[0]['message']}.", "error")
        else:
            flash(f"Question {question_id} {'reactivated' if body['active'] else 'deactivated'}.", "success")
    elif form.csrf_token.errors:
        flash("The form expired; try again.", "error")
    else:  # not a post the list makes: which way to switch is not said
        flash(f"Nothing was changed: reload the page and use the button of question {question_id} again.", "error")
    return redirect(url_for(".questions"))


# ----- audit log --------------------------------------------------------------------------------
def _render_audit(verification=None):
    page, filters = admin_queries.search_audit(request.args)
    # a date the filter could not read is said, not silently dropped
    bad_dates = [label for name, label in (("from", "From"), ("to", "To"))
                 if (request.args.get(name) or "").strip() and not filters[name]]
    return render_template(
        "admin/audit.html",
        page=page,
        filters=filters,
        bad_dates=bad_dates,
        actions=admin_queries.audit_actions(),
        emails=admin_queries.actor_emails(page.items),
        rems_ids=admin_queries.patient_ids(page.items),
        verify_form=ActionForm(),
        verification=verification,
        page_title="Audit log",
    )


@bp.get("/audit")
@role_required("admin.manage")
def audit_log():
    return _render_audit()


@bp.post("/audit/verify")
@role_required("admin.manage")
def audit_verify():
    if not ActionForm().validate_on_submit():
        abort(400)
    return _render_audit(audit.verify())


@bp.post("/audit/anchor")
@role_required("admin.manage")
def audit_anchor():
    """R-AUD-1: copy the chain's head to the anchor file now (the worker does it every 5 minutes)."""
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        item = audit.anchor(current_app.config["AUDIT_ANCHOR_FILE"])
    except OSError:
        current_app.logger.exception("audit anchor: the anchor file cannot be written")
        flash("The anchor file cannot be written: check AUDIT_ANCHOR_FILE and its folder's permissions.",
              "error")
    except audit.AnchorFileMismatch:
        current_app.logger.error("audit anchor: the anchor file holds another audit log's copies")
        flash("Nothing was copied: the anchor file holds copies of another database's audit log (or this "
              "log was rewritten from its first entry). Verify the chain below; give this database its "
              "own anchor file (AUDIT_ANCHOR_FILE).", "error")
    else:
        flash(f"The head of the chain (entry #{item['id']}) is copied outside the database." if item
              else "The newest copy outside the database already shows the head of the chain.", "success")
    return redirect(url_for(".audit_log", **request.args))


# ----- reports ----------------------------------------------------------------------------------
@bp.get("/reports")
@role_required("admin.manage")
def reports_page():
    items = [(r, bar_chart(r.chart, r.chart_unit)) for r in reports.all_reports()]
    return render_template("admin/reports.html", items=items, page_title="Program reports")


@bp.get("/reports/<key>.csv")
@role_required("admin.manage")
def report_csv(key):
    build = reports.REPORTS.get(key)
    if build is None:
        abort(404)
    report = build()
    return Response(
        reports.to_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="rems-{key}.csv"'},
    )


# ----- pregnancy cases --------------------------------------------------------------------------
def _render_cases(failed_id=None, failed_form=None):
    show = request.args.get("show", "open")
    show = show if show in ("open", "closed", "all") else "open"
    cases = admin_queries.pregnancy_cases(show)
    forms = {
        c.id: failed_form if c.id == failed_id else ReasonForm(prefix=f"c{c.id}", formdata=None)
        for c, _ in cases
        if c.closed_at is None
    }
    return render_template(
        "admin/cases.html", cases=cases, forms=forms, show=show, page_title="Pregnancy cases"
    ), _status(failed_form)


@bp.get("/pregnancy-cases")
@role_required("pregnancy_case.close")
def cases():
    return _render_cases()


@bp.post("/pregnancy-cases/<int:case_id>/close")
@role_required("pregnancy_case.close")
def close_case(case_id):
    """R-PT-4: closing shows a confirmation page first, which posts here again with `confirm`."""
    form = ReasonForm(prefix=f"c{case_id}")
    if form.validate_on_submit():
        try:
            if form.confirm.data != "1":
                return _confirm_close(form, admin.preview_close(case_id))
            admin.close_case(_user(), case_id, form.reason.data.strip())
        except ApiError as err:
            if err.status == 404:
                raise
            if err.status == 409:  # already closed
                flash(err.detail, "error")
                return redirect(url_for(".cases"))
            apply_api_error(form, err)
        else:
            flash(f"Pregnancy case #{case_id} closed.", "success")
            return redirect(url_for(".cases"))
    return _render_cases(case_id, form)


def _confirm_close(form, preview):
    case, patient = preview["case"], preview["patient"]
    reason = form.reason.data.strip()
    return render_template(
        "admin/confirm.html", form=form, hidden=[(form.reason.name, reason), (form.confirm.name, "1")],
        consequences=preview["consequences"], reason=reason,
        title=f"Close pregnancy case #{case.id}?",
        subject=f"{patient.first_name} {patient.last_name} (REMS ID {patient.rems_id}), opened "
                f"{local_time(case.opened_at)}",
        action=url_for(".close_case", case_id=case.id), cancel=url_for(".cases"),
        button="Close the case", page_title=f"Confirm: close case #{case.id}",
    )
