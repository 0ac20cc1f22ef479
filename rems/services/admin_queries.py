"""Read-only queries behind the administrator pages (R-ADMIN-1): accounts, the audit log and
pregnancy cases, filtered and paginated in SQL. The only write: a page that shows patients is
audited as a read of each of them (R-AUD-1, audit.record_list)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import false, func, or_, select
from sqlalchemy.orm import selectinload

from rems.clock import program
from rems.extensions import db
from rems.ids import is_digits
from rems.models import AuditEntry, AuditEntryPatient, Patient, PregnancyCase, User
from rems.models.accounts import ACCOUNT_STATUSES, ROLES
from rems.services import audit
from rems.tasks import unit_of_work
from workflows import window_close_instant

PER_PAGE = 50
TEXT_MAX = 100


def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _text(args, name: str) -> str:
    # a NUL cannot be in any stored text (and PostgreSQL refuses to compare with one: a 500)
    return (args.get(name) or "").replace("\x00", "").strip()[:TEXT_MAX]


def _page(args) -> int:
    raw = args.get("page") or "1"
    return max(1, min(int(raw), 10**6)) if is_digits(raw) and len(raw) < 8 else 1


def _date(args, name: str) -> date | None:
    try:
        return date.fromisoformat(args.get(name) or "")
    except ValueError:
        return None


@dataclass(frozen=True)
class Page:
    items: list
    page: int
    total: int
    per_page: int = PER_PAGE

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _paginate(stmt, page: int, per_page: int = PER_PAGE) -> Page:
    total = db.session.execute(select(func.count()).select_from(stmt.order_by(None).subquery())).scalar_one()
    page = min(page, max(1, -(-total // per_page)))  # past the end: the last page, not "page 99999 of 5"
    items = db.session.execute(stmt.limit(per_page).offset((page - 1) * per_page)).scalars().all()
    return Page(items, page, total, per_page)


def search_users(args) -> tuple[Page, dict]:
    """Accounts filtered by role, status and name/email; prescribers with their certification. The
    patients' accounts a page shows (names, emails) are a read of those patients, audited (R-AUD-1)."""
    role, status, q = args.get("role") or "", args.get("status") or "", _text(args, "q")
    stmt = (
        select(User).options(selectinload(User.prescriber), selectinload(User.patient).load_only(Patient.id))
        .order_by(User.last_name, User.first_name, User.id)
    )
    if role in ROLES:
        stmt = stmt.where(User.role == role)
    if status in ACCOUNT_STATUSES:
        stmt = stmt.where(User.status == status)
    if q:
        like = _like(q.casefold())
        stmt = stmt.where(
            or_(
                func.lower(User.email).like(like, escape="\\"),
                func.lower(User.first_name + " " + User.last_name).like(like, escape="\\"),
            )
        )
    filters = {
        "role": role if role in ROLES else "",
        "status": status if status in ACCOUNT_STATUSES else "",
        "q": q,
    }
    page = _paginate(stmt, _page(args))
    _audit_list("users.listed", [u.patient.id for u in page.items if u.patient is not None],
                {"list": "users", "page": page.page, "filters": filters})
    return page, filters


def audit_actions() -> list[str]:
    return list(
        db.session.execute(select(AuditEntry.action).distinct().order_by(AuditEntry.action)).scalars()
    )


def search_audit(args) -> tuple[Page, dict]:
    """Audit entries, newest first, filtered by action, actor (email or id), patient (REMS ID) and
    a program-local date range (R-AUD-1, R-TIME-1). A patient's entries are those about them and
    the lists that showed them (audit_entry_patients), so "who saw this patient" finds both. The
    page is a read of the patients it shows (its Patient column; the filter's patient), audited."""
    action, actor, patient = _text(args, "action"), _text(args, "actor"), _text(args, "patient")
    start, end = _date(args, "from"), _date(args, "to")
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
    if action:
        stmt = stmt.where(AuditEntry.action == action)
    if is_digits(actor) and len(actor) < 12:
        stmt = stmt.where(AuditEntry.actor_id == int(actor))
    elif actor:
        stmt = stmt.where(
            AuditEntry.actor_id.in_(select(User.id).where(func.lower(User.email) == actor.casefold()))
        )
    patient_id = None
    if patient:
        patient_id = db.session.execute(select(Patient.id).where(Patient.rems_id == patient)).scalar()
        listed = select(AuditEntryPatient.entry_id).where(AuditEntryPatient.patient_id == patient_id)
        stmt = stmt.where(or_(AuditEntry.patient_id == patient_id, AuditEntry.id.in_(listed))
                          if patient_id is not None else false())
    prog = program()
    # the calendar's first and last days bound nothing (and a day beyond them is an OverflowError: 500)
    if start and start > date.min:
        stmt = stmt.where(AuditEntry.at >= window_close_instant(start - timedelta(days=1), prog))
    if end and end < date.max:
        stmt = stmt.where(AuditEntry.at < window_close_instant(end, prog))
    filters = {
        "action": action,
        "actor": actor,
        "patient": patient,
        "from": start.isoformat() if start else "",
        "to": end.isoformat() if end else "",
    }
    page = _paginate(stmt, _page(args))
    shown = [patient_id] if patient_id is not None and page.items else []
    _audit_list("audit.listed", shown + [e.patient_id for e in page.items if e.patient_id is not None],
                {"list": "audit_log", "page": page.page, "filters": filters})
    return page, filters


def _audit_list(action: str, patient_ids: list[int], listing: dict) -> None:
    """R-AUD-1: the page about to be rendered read these patients' data (audit.record_list). The
    signed-in administrator is the actor; the rows keep what they held for the page."""
    with unit_of_work(expire=False):
        audit.record_list(action, patient_ids, listing)


def actor_emails(entries) -> dict[int, str]:
    ids = {e.actor_id for e in entries if e.actor_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def patient_ids(entries) -> dict[int, str]:
    ids = {e.patient_id for e in entries if e.patient_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(select(Patient.id, Patient.rems_id).where(Patient.id.in_(ids))).all())


def pregnancy_cases(show: str = "open") -> list[tuple[PregnancyCase, Patient]]:
    """R-PT-4: registry cases, open ones first; R-AUD-1: a read of each case's patient, audited."""
    stmt = (
        select(PregnancyCase, Patient)
        .join(Patient, Patient.id == PregnancyCase.patient_id)
        .options(selectinload(Patient.prescriber))
        .order_by(PregnancyCase.closed_at.is_not(None), PregnancyCase.opened_at.desc())
    )
    if show == "open":
        stmt = stmt.where(PregnancyCase.closed_at.is_(None))
    elif show == "closed":
        stmt = stmt.where(PregnancyCase.closed_at.is_not(None))
    cases = [tuple(r) for r in db.session.execute(stmt).all()]
    _audit_list("pregnancy_cases.listed", [p.id for _, p in cases], {"list": "pregnancy_cases", "show": show})
    return cases


def overview() -> dict:
    """Counts for the administrator's front page."""
    by_role = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    suspended = db.session.execute(
        select(func.count()).select_from(User).where(User.status == "suspended")
    ).scalar_one()
    open_cases = db.session.execute(
        select(func.count()).select_from(PregnancyCase).where(PregnancyCase.closed_at.is_(None))
    ).scalar_one()
    return {"by_role": by_role, "suspended": suspended, "open_cases": open_cases}
