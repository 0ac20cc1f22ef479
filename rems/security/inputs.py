"""A NUL character in a URL path or a form field is refused (api.md: no client input may ever
produce a 500; ASVS V5).

PostgreSQL text cannot hold a NUL byte: one in a URL path or a form field reached a query or an
INSERT and answered 500 (SQLite stored it). The API's JSON schema refuses it field by field; this
hook covers paths and forms before any view runs, so nothing is read or written with it: a path
with one is a 404 (no id holds one), a form with one a 400. Query strings are each page's to read
(a bad page link shows the first page with a message; the search boxes drop the character).
"""
from __future__ import annotations

from flask import abort, request

MESSAGE = "The request contains a NUL character, which no field accepts. Nothing was saved."


def _has_nul(values) -> bool:
    return any("\x00" in key or any("\x00" in v for v in vs) for key, vs in values.lists())


def refuse_nul() -> None:
    if "\x00" in request.path:  # no record's id or number holds one: nothing is there
        abort(404)
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and _has_nul(request.form):
        abort(400, description=MESSAGE)


def init_app(app) -> None:
    app.before_request(refuse_nul)
