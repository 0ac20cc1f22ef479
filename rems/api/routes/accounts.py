"""Accounts: tokens, activation, /me."""
from __future__ import annotations

from flask import g, jsonify

from rems.api import F, endpoint, openapi_document
from rems.api.schema import PASSWORD
from rems.services import accounts

TOKEN = {"email": F("string", max_len=254, min_len=1), "password": PASSWORD}
ACTIVATE = {"activation_code": F("string", max_len=40, min_len=1), "password": PASSWORD,
            "date_of_birth": F("date", required=False)}


@endpoint("POST", "/auth/token", action=None, summary="Sign in: get a bearer token", body=TOKEN, status=201)
def create_token(body):
    token, row = accounts.issue_token(body["email"], body["password"])
    return jsonify(token=token, token_type="Bearer", # noqa: S106 - not a password
                   expires_at=row.expires_at.isoformat(),
                   role=row.user.role), 201


@endpoint("DELETE", "/auth/token", action="account.self", summary="Sign out: revoke this token", status=204)
def delete_token():
    accounts.revoke_token(g.api_token)
    return "", 204


@endpoint("POST", "/activate", action=None, summary="Activate an account with its one-time code",
          body=ACTIVATE)
def activate(body):
    user = accounts.activate(body["activation_code"], body["password"], body.get("date_of_birth"))
    return jsonify(email=user.email, role=user.role)


@endpoint("GET", "/me", action="account.self", summary="Who am I, and my status")
def me():
    return jsonify(accounts.me(g.user))


@endpoint("GET", "/ping", action="account.self", summary="Authenticated no-op (benchmark baseline)")
def ping():
    return jsonify({"ok": True})


@endpoint("GET", "/openapi.json", action=None, summary="This API as OpenAPI 3.1")
def openapi():
    return jsonify(openapi_document())
