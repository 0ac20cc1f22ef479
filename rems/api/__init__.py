"""JSON API v1 (api.md). Views are thin: validate, authorise, call one service, serialise."""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache, wraps

from flask import Blueprint, g, request
from sqlalchemy import String, bindparam, select
from sqlalchemy.orm import joinedload

from rems import policy
from rems.api.schema import F, json_schema, validate
from rems.clock import now
from rems.errors import ApiError
from rems.extensions import db
from rems.security.tokens import digest

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@dataclass
class EndpointDoc:
    method: str
    rule: str
    name: str
    summary: str
    action: str | None
    body: dict | None
    query: dict | None
    status: int
    raw_body: str | None = None
    headers: dict | None = None  # optional request headers: name -> (max length, description)
    response: dict | None = None  # JSON Schema of the success body, when declared


ENDPOINTS: list[EndpointDoc] = []


@lru_cache(maxsize=1)
def _token_statement():
    from rems.models import ApiToken

    return (select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash", type_=String()))
            .options(joinedload(ApiToken.user)))


def current_api_user():
    """The user behind the bearer token, or ApiError 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip() or len(token) > 200:
        raise ApiError(401, "UNAUTHORIZED", "A valid bearer token is required.")
    # One statement per request: the token joined with its user (statement built once per process).
    row = db.session.execute(_token_statement(), {"token_hash": digest(token.strip())}).scalar_one_or_none()
    if row is None or row.revoked_at is not None or row.expires_at <= now() or not row.user.is_active:
        raise ApiError(401, "UNAUTHORIZED", "The token is invalid, expired or revoked.")
    g.api_token = row
    return row.user


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


def json_body() -> dict:
    """The request body as a JSON object, or ApiError 400. Parsed here rather than with
    `request.get_json(silent=True)`, which lets a deeply nested body's RecursionError through
    (a 500) and accepts the non-JSON constants NaN and Infinity."""
    raw = request.get_data(cache=True)
    mimetype = request.mimetype
    if raw and not (mimetype == "application/json" or mimetype.endswith("+json")):  # api.md: JSON in and out
        raise ApiError(400, "BAD_REQUEST", "The body must be JSON sent with Content-Type: application/json.")
    try:
        data = json.loads(raw, parse_constant=_refuse_constant) if raw else None
    except (ValueError, RecursionError):
        data = None
    if not isinstance(data, dict):
        raise ApiError(400, "BAD_REQUEST", "The body must be a JSON object.")
    try:  # an unpaired surrogate escape ("\ud800") is JSON but not Unicode text: no database takes it
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(400, "BAD_REQUEST", "The body contains an unpaired surrogate escape (such as "
                                           "\\ud800): text must be valid Unicode.") from None
    return data


def endpoint(method: str, rule: str, *, action: str | None, summary: str, body: dict | None = None,
             query: dict | None = None, status: int = 200, raw_body: str | None = None,
             headers: dict | None = None, response: dict | None = None):
    """Register an API view. `action` None marks an open endpoint; otherwise policy decides roles."""

    def deco(fn):
        @wraps(fn)
        def view(**kwargs):
            if action is not None:
                g.user = current_api_user()
                policy.require_role(g.user, action)
            else:
                g.user = None
            if body is not None:
                data = json_body()
                kwargs["body"] = validate(body, data)
            if query is not None:
                kwargs["query"] = validate(query, request.args.to_dict())
            return fn(**kwargs)

        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=[method])
        ENDPOINTS.append(EndpointDoc(method, rule, fn.__name__, summary, action, body, query, status, raw_body,
                                     headers, response))
        return view

    return deco


def openapi_document() -> dict:
    paths: dict = {}
    for ep in ENDPOINTS:
        path = "/api/v1" + ep.rule.replace("<", "{").replace(">", "}")
        params = [{"name": p, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
                  for p in _path_params(ep.rule)]
        if ep.query:
            params += [{"name": k, "in": "query", "required": v.required, "schema": json_schema(v)}
                       for k, v in ep.query.items()]
        params += [{"name": k, "in": "header", "required": False, "description": text,
                    "schema": {"type": "string", "minLength": 1, "maxLength": length}}
                   for k, (length, text) in (ep.headers or {}).items()]
        success: dict = {"description": "Success"}
        if ep.response is not None:
            success["content"] = {"application/json": {"schema": ep.response}}
        op: dict = {"operationId": ep.name, "summary": ep.summary, "parameters": params,
                    "responses": {str(ep.status): success,
                                  "default": {"description": "Problem",
                                              "content": {"application/problem+json": {
                                                  "schema": {"$ref": "#/components/schemas/Problem"}}}}}}
        if ep.action is not None:
            op["security"] = [{"bearer": []}]
            op["x-policy-action"] = ep.action
        else:
            op["security"] = []
        if ep.body is not None:
            op["requestBody"] = {"required": True,
                                 "content": {"application/json": {"schema": json_schema(ep.body)}}}
        elif ep.raw_body:
            op["requestBody"] = {"required": True, "content": {ep.raw_body: {"schema": {
                "type": "string", "format": "binary"}}}}
        paths.setdefault(path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "REMS compliance workflow service", "version": "1.0.0"},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"Problem": {"type": "object", "required": ["type", "title", "status", "code"],
                                    "properties": {"type": {"type": "string"}, "title": {"type": "string"},
                                                   "status": {"type": "integer"}, "code": {"type": "string"},
                                                   "detail": {"type": "string"},
                                                   "errors": {"type": "array"}}}},
        },
    }


def _path_params(rule: str) -> list[str]:
    import re

    return [m.split(":")[-1] for m in re.findall(r"<([^>]+)>", rule)]


def init_app(app) -> None:
    from rems.api import routes  # noqa: F401  (register endpoints)
    from rems.extensions import csrf

    csrf.exempt(bp)
    app.register_blueprint(bp)


__all__ = ["F", "bp", "endpoint", "openapi_document"]
