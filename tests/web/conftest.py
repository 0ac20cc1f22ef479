"""Web test helpers: sign in through the real sign-in form (CSRF on), post forms with a token.

def test_x(web, factory):
    user = factory.prescriber().user
    web.sign_in(user)
    resp = web.post("/prescriber/certification", {"password": PASSWORD})
"""

from __future__ import annotations

import html as html_lib
import re

import pytest

from tests.support.factories import PASSWORD

TOKEN_RE = re.compile(r'name="(?:[\w-]*-)?csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(html: str) -> str:
    m = TOKEN_RE.search(html)
    assert m, "no CSRF token on the page"
    return m.group(1)


class Web:
    """A Flask test client that speaks forms: every POST carries a CSRF token of this session."""

    def __init__(self, client):
        self.client = client
        self._token = None

    def get(self, url, **kw):
        return self.client.get(url, **kw)

    def token(self) -> str:
        if self._token is None:
            self._token = csrf_token(self.client.get("/sign-in").get_data(as_text=True))
        return self._token

    def post(self, url, data=None, prefix=None, follow_redirects=False, **kw):
        data = dict(data or {})
        data.setdefault(f"{prefix}-csrf_token" if prefix else "csrf_token", self.token())
        return self.client.post(url, data=data, follow_redirects=follow_redirects, **kw)

    def sign_in(self, user_or_email, password=PASSWORD):
        email = getattr(user_or_email, "email", user_or_email)
        self._token = None
        resp = self.post("/sign-in", {"email": email, "password": password})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
        self._token = None  # the session was replaced at sign-in
        return resp

    def sign_out(self):
        resp = self.post("/sign-out")
        self._token = None
        return resp


@pytest.fixture
def web(client):
    return Web(client)


@pytest.fixture
def web_as(web, factory):
    """Sign in a fresh actor of `role`; returns the user (patient role: the patient's user)."""

    def login(role: str):
        user = factory.user(role)
        web.sign_in(user)
        return user

    return login


def text(resp) -> str:
    """The page's text without tags and with collapsed spaces (for sentence assertions)."""
    html = resp.get_data(as_text=True)
    html = re.sub(r"<(script|style)[^>]*>.*?</\1>", " ", html, flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", html)).split())
