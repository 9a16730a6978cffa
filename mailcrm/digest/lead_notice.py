"""The "new lead" mail: one short message to the lead's user, sent through the digest relay.

The daemon's notifier sends each lead ``app.leads.pending_notices`` lists and records the outcome
with ``mark_notice``: a relay outage or a crash between commit and send only delays the mail.
"""

from __future__ import annotations

import datetime as dt
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid
from typing import Any

from mailcrm.app.leads import Notice

_WORDS = {
    "ru": {"subject": "Новая заявка", "form": "Форма", "name": "Имя", "email": "Почта", "phone": "Телефон",
           "company": "Компания", "message": "Сообщение", "deal": "Сделка", "call": "Позвоните сегодня."},
    "en": {"subject": "New lead", "form": "Form", "name": "Name", "email": "Email", "phone": "Phone",
           "company": "Company", "message": "Message", "deal": "Deal", "call": "Call them today."},
}


def notice_text(notice: Notice) -> tuple[str, str]:
    """(subject, text body) of a notice in the user's language."""
    w = _WORDS.get(notice.language, _WORDS["en"])
    d: dict[str, Any] = notice.data
    who = d.get("name") or d.get("email") or ", ".join(d.get("phones") or []) or "?"
    lines = [f"{w['form']}: {notice.form}"]
    for key, label in (("name", w["name"]), ("email", w["email"]), ("company", w["company"])):
        if d.get(key):
            lines.append(f"{label}: {d[key]}")
    for phone in d.get("phones") or []:
        lines.append(f"{w['phone']}: {phone}")
    if d.get("message"):
        lines += ["", f"{w['message']}:", str(d["message"])]
    fields = d.get("fields") or {}
    if fields:
        lines.append("")
        lines += [f"{k}: {v}" for k, v in fields.items()]
    utm = d.get("utm") or {}
    if utm:
        lines += ["", " ".join(f"{k}={v}" for k, v in utm.items())]
    if notice.deal_id:
        lines += ["", f"{w['deal']} #{notice.deal_id}: mailcrm deal show {notice.deal_id}"]
    lines += ["", w["call"]]
    return f"{w['subject']}: {who} ({notice.form})", "\n".join(lines) + "\n"


def build_notice(notice: Notice, *, from_address: str) -> EmailMessage:
    """The mail for one notice (Auto-Submitted, so responders stay quiet)."""
    subject, text = notice_text(notice)
    msg = EmailMessage()
    msg["From"] = formataddr(("mailcrm", from_address))
    msg["To"] = formataddr((notice.user_name or "", notice.user_email))
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid("lead", domain=from_address.rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834
    msg["X-Mailcrm-Lead"] = str(notice.lead_id)
    msg.set_content(text)
    return msg
