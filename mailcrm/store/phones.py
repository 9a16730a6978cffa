"""Contacts by phone: a number in E.164 matched on every phone a contact has (``contacts.phones``).

The lookup goes through the contacts' search column (store/search.py), which holds every phone's
digits, and its trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL): at 50,000 contacts a LIKE
over the JSON text of ``phones`` read every contact.  The index narrows the rows; the exact
number is checked here against ``phones``.  Contacts changed earlier in the same transaction
have their search text refreshed only at commit, so they are checked directly.
"""

from __future__ import annotations

import json

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from mailcrm.store import search
from mailcrm.store.models import Contact

_MIN_DIGITS = 3  # a trigram index needs three characters


def _has(contact: Contact, base: str) -> bool:
    return any(str(p).split(";", 1)[0] == base for p in (contact.phones or []))


def contacts_with_phone(session: Session, phone: str) -> list[Contact]:
    """Live contacts (oldest first) one of whose phones is ``phone`` (E.164, any extension)."""
    base = phone.split(";", 1)[0]
    number = search.digits(base)
    if len(number) >= _MIN_DIGITS:
        # Digits need no LIKE escapes: FTS5 answers the pattern from its trigrams.
        rows = list(session.scalars(select(Contact).where(search.matches(session, f"%{number}%"),
                                                          Contact.status == "active")))
        seen = {c.id for c in rows}
        fresh = sorted(search.stale(session) - seen)  # read after the query: its autoflush may add some
        for i in range(0, len(fresh), 500):
            rows += session.scalars(select(Contact).where(Contact.id.in_(fresh[i:i + 500]), Contact.status == "active"))
    else:  # not a real number; the JSON text still narrows the rows
        pattern = json.dumps(base)[:-1].replace("%", r"\%").replace("_", r"\_") + "%"
        rows = list(session.scalars(select(Contact).where(cast(Contact.phones, String).like(f"%{pattern}", escape="\\"),
                                                          Contact.status == "active")))
    return sorted((c for c in rows if _has(c, base)), key=lambda c: c.id)


def contacts_by_phones(session: Session, phones: list[str]) -> dict[str, Contact | None]:
    """E.164 number -> the oldest live contact with it (None: nobody), for many numbers at once
    (one index lookup per number)."""
    out: dict[str, Contact | None] = dict.fromkeys(phones)
    for p in phones:
        found = contacts_with_phone(session, p)
        out[p] = found[0] if found else None
    return out
