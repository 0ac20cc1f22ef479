"""Problem+json errors for the API and friendly pages for people (architecture.md example 4)."""
from __future__ import annotations

from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from rems.extensions import db

TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
          405: "Method not allowed", 409: "Conflict", 413: "Payload too large", 415: "Unsupported media type",
          422: "Unprocessable entity", 429: "Too many requests", 500: "Internal server error",
          503: "Service unavailable"}
DEFAULT_CODES = {400: "BAD_REQUEST", 401: "UNAUTHORIZED", 403: "FORBIDDEN", 404: "NOT_FOUND",
                 405: "METHOD_NOT_ALLOWED", 409: "CONFLICT", 413: "PAYLOAD_TOO_LARGE",
                 415: "UNSUPPORTED_MEDIA_TYPE", 422: "VALIDATION_ERROR", 429: "RATE_LIMITED",
                 500: "INTERNAL_ERROR", 503: "UNAVAILABLE"}


class ApiError(Exception):
    """An error a service or view raises; rendered as problem+json (API) or a page (web)."""

    def __init__(self, status: int, code: str | None = None, detail: str | None = None,
                 errors: list[dict] | None = None, **extra):
        super().__init__(detail or code)
        self.status = status
        self.code = code or DEFAULT_CODES.get(status, "ERROR")
        self.detail = detail or TITLES.get(status, "Error")
        self.errors = errors or []
        self.extra = extra

    @classmethod
    def field(cls, field: str, message: str, code: str = "VALIDATION_ERROR", status: int = 422):
        return cls(status, code, message, errors=[{"field": field, "message": message}])


def problem(status: int, code: str, detail: str, errors=None, **extra):
    body = {"type": f"https://rems.example/problems/{code.lower().replace('_', '-')}",
            "title": TITLES.get(status, "Error"), "status": status, "code": code, "detail": detail}
    if errors:
        body["errors"] = errors
    body.update(extra)
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/healthz" or (
        request.accept_mimetypes.best == "application/json")


def _has_get(path: str) -> bool:
    from flask import current_app
    from werkzeug.exceptions import HTTPException as _Miss

    try:
        current_app.url_map.bind("localhost").match(path, method="GET")
    except _Miss:
        return False
    except Exception:  # a routing redirect or anything else: do not guess  # noqa: BLE001
        return False
    return True


def init_app(app):
    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        db.session.rollback()
        if wants_json():
            return problem(err.status, err.code, err.detail, err.errors, **err.extra)
        return render_template("errors/error.html", status=err.status, title=TITLES.get(err.status, "Error"),
                               detail=err.detail), err.status

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def _csrf_error(err: CSRFError):
        """A web form whose session ended (signed out in another tab, timed out) or whose page is
        stale: say so in words, and send a signed-out user to sign in and back to the page."""
        from flask import flash, redirect, url_for
        from flask_login import current_user

        from rems.web.helpers import safe_next

        db.session.rollback()
        if wants_json():
            return problem(400, "BAD_REQUEST", err.description)
        if not current_user.is_authenticated and request.blueprint != "auth":
            flash("Your session had ended, so the form was not sent. Sign in and fill it in again.", "warning")
            back = request.path if _has_get(request.path) else None  # the page the form was on, if it has one
            return redirect(url_for("auth.sign_in", next=safe_next(back)) if back else url_for("auth.sign_in"))
        if request.blueprint == "auth":  # the sign-in and activation pages themselves
            return render_template("errors/error.html", status=400, title=TITLES[400],
                                   detail=err.description), 400
        return render_template("errors/error.html", status=400, title="This form has expired",
                               detail="The page was open too long or was sent twice, so nothing was saved. "
                                      "Go back, reload the page and send the form again."), 400

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        db.session.rollback()
        status = err.code or 500
        if wants_json():
            resp = problem(status, DEFAULT_CODES.get(status, "ERROR"), err.description or TITLES.get(status, ""))
            if status == 429 and err.get_headers():
                for k, v in err.get_headers():
                    if k.lower() == "retry-after":
                        resp.headers[k] = v
            return resp
        return render_template("errors/error.html", status=status, title=TITLES.get(status, "Error"),
                               detail=err.description), status

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):  # pragma: no cover - last line of defence, logged
        db.session.rollback()
        app.logger.exception("unhandled error")
        if wants_json():
            return problem(500, "INTERNAL_ERROR", "Something went wrong on our side; nothing was saved.")
        return render_template("errors/error.html", status=500, title=TITLES[500],
                               detail="Something went wrong on our side; nothing was saved."), 500
