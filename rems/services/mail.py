"""Email delivery: SMTP when REMS_SMTP_URL is set, otherwise .eml files in the instance folder."""
from __future__ import annotations

import smtplib
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import urlparse

from flask import current_app, render_template

from rems.clock import now


def build(to: str, subject: str, template: str, **context) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(now())  # RFC 5322: the origination date (the service's clock)
    msg["Message-ID"] = make_msgid(domain="rems.example")
    msg.set_content(render_template(f"email/{template}.txt", subject=subject, **context))
    msg.add_alternative(render_template(f"email/{template}.html", subject=subject, **context), subtype="html")
    return msg


def send(msg: EmailMessage) -> None:
    """Deliver one message; raises on SMTP failure so the caller (a task) can retry."""
    url = current_app.config.get("SMTP_URL")
    if not url:
        folder = Path(current_app.config["MAIL_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{msg['To'].replace('@', '_at_')}.eml"
        (folder / name).write_bytes(bytes(msg))
        return
    parsed = urlparse(url)
    smtp_cls = smtplib.SMTP_SSL if parsed.scheme == "smtps" else smtplib.SMTP
    with smtp_cls(parsed.hostname or "127.0.0.1", parsed.port or 25, timeout=10) as smtp:
        if parsed.scheme == "smtp+starttls":
            smtp.starttls()
        if parsed.username:
            smtp.login(parsed.username, parsed.password or "")
        smtp.send_message(msg)
