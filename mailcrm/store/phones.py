"""Contacts by phone: a number in E.164 matched on every phone a contact has (``contacts.phones``)."""

from __future__ import annotations

import json

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from mailcrm.store.models import Contact


def contacts_with_phone(session: Session, phone: str) -> list[Contact]:
    """Live contacts (oldest first) one of whose phones is ``phone`` (E.164, any extension).

    ``phones`` is a JSON list of E.164 strings; its text holds the quoted number, so a LIKE
    narrows the rows on both backends and the exact match is checked here.
    """
    base = phone.split(";", 1)[0]
    pattern = json.dumps(base)[:-1].replace("%", r"\%").replace("_", r"\_") + "%"
    rows = session.scalars(select(Contact).where(cast(Contact.phones, String).like(f"%{pattern}", escape="\\"),
                                                 Contact.status == "active").order_by(Contact.id))
    return [c for c in rows if any(str(p).split(";", 1)[0] == base for p in (c.phones or []))]


def contacts_by_phones(session: Session, phones: list[str]) -> dict[str, Contact | None]:
    """E.164 number -> the oldest live contact with it (None: nobody), for many numbers at once."""
    out: dict[str, Contact | None] = dict.fromkeys(phones)
    text = cast(Contact.phones, String)
    for i in range(0, len(phones), 100):
        chunk = phones[i:i + 100]
        likes = [text.like("%" + json.dumps(p)[:-1].replace("%", r"\%").replace("_", r"\_") + "%", escape="\\")
                 for p in chunk]
        for c in session.scalars(select(Contact).where(or_(*likes), Contact.status == "active").order_by(Contact.id)):
            for p in c.phones or []:
                base = str(p).split(";", 1)[0]
                if base in out and out[base] is None:
                    out[base] = c
    return out
