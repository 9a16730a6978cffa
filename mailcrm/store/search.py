"""The contacts' search column, kept by the store.

SQLite's ``lower()`` and ``LIKE`` fold ASCII only, so ``Петров`` never matched ``петров`` there,
while PostgreSQL did. Instead of folding at query time (per backend, or in Python over every row),
each contact carries ``contacts.search_text``: its name, title, company, addresses, phones (as
written and as digits) and tags, folded once by :func:`fold` (Unicode case folding, ё = е,
accents dropped). A query is folded the same way and matched with one ``LIKE`` on both backends,
its ``%`` and ``_`` escaped.

The column is refreshed at commit for every contact whose row, addresses, tags or company changed
in the transaction: the session events below collect them from the flushes, and code that changes
those rows with Core statements (bypassing the unit of work) calls :func:`mark`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import Any

from sqlalchemy import ColumnElement, bindparam, event, inspect, literal_column, select, text, update
from sqlalchemy.orm import Session, UOWTransaction

from mailcrm.store.models import Company, Contact, ContactTag, EmailAddress, Tag

FTS_TABLE = "contact_search"  # SQLite only: FTS5, trigram tokenizer, rowid = contacts.id
PG_INDEX = "ix_contacts_search_trgm"  # PostgreSQL only: GIN pg_trgm index on contacts.search_text
_FTS_SEEN: dict[str, bool] = {}
_CONTACTS = "mailcrm.search.contacts"
_COMPANIES = "mailcrm.search.companies"
_CHUNK = 500
MARK = "/* search refresh */"  # on the refresh's SELECTs, so a query count can tell them apart
# A query of digits and the punctuation people write phone numbers with is matched as digits.
_PHONEISH = re.compile(r"^[\d\s()+\-./]+$")
_KEEP_MARKS = {"й", "ў", "ї"}  # letters of their own in Cyrillic alphabets, not и/у/і with a mark


def outside_models(name: str | None, type_: str, parent_names: Any) -> bool:
    """Alembic's ``include_name`` hook: False for the search index objects that have no model
    (the FTS5 table and its shadow tables, the pg_trgm index), so autogenerate leaves them alone."""
    return not (name or "").startswith((FTS_TABLE, PG_INDEX))


def fold(text: str | None) -> str:
    """``text`` folded for matching: case folded, ё as е, combining marks dropped (é → e)."""
    if not text:
        return ""
    out: list[str] = []
    for ch in unicodedata.normalize("NFC", text).casefold():
        if ch in _KEEP_MARKS or ch.isascii():
            out.append(ch)
            continue
        out.extend(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return "".join(out)


def digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


def search_text(name: str | None, title: str | None, company: str | None, addresses: Iterable[str],
                phones: Iterable[str], tags: Iterable[str]) -> str:
    """The folded text one contact is found by (one field per line)."""
    parts = [fold(name), fold(title), fold(company)]
    parts += [fold(a) for a in addresses]
    for p in phones:
        parts += [fold(p), digits(p), _national(p, None)]
    parts += [fold(t) for t in tags]
    return "\n".join(p for p in parts if p)


def _national(number: str, region: str | None) -> str:
    """The national significant number of ``number`` ("" when it does not parse)."""
    import phonenumbers  # here: `show ADDRESS` and most searches never read a phone (30 ms to load)

    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return ""
    return str(parsed.national_number) if phonenumbers.is_possible_number(parsed) else ""


def like_pattern(query: str, region: str | None = None) -> str | None:
    """The ``LIKE`` pattern (escape character ``\\``) for a user's query; None for a blank one.

    A phone-looking query (``8 (921) 555-99-99``) is matched by its digits, and by its national
    number when it parses as a phone number in ``region``.
    """
    query = query.strip()
    if not query:
        return None
    key = fold(query)
    if _PHONEISH.match(query) and len(digits(query)) >= 3:
        key = _national(query, region) or digits(query)
    key = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{key}%"


def mark(session: Session, contact_ids: Iterable[int | None]) -> None:
    """Refresh these contacts' search text at commit (after a Core write to their rows)."""
    session.info.setdefault(_CONTACTS, set()).update(i for i in contact_ids if i is not None)


@event.listens_for(Session, "after_flush")
def _collect(session: Session, flush_context: UOWTransaction) -> None:
    contacts: set[int] = session.info.setdefault(_CONTACTS, set())
    companies: set[int] = session.info.setdefault(_COMPANIES, set())
    for obj in (*session.new, *session.deleted):
        if isinstance(obj, Contact):
            contacts.add(obj.id)
        elif isinstance(obj, EmailAddress | ContactTag):
            contacts.add(obj.contact_id)
    for obj in session.dirty:
        # Only a change of what the text is made of: mail marks addresses and contacts (last inbound
        # and so on) far more often than it renames them.
        if isinstance(obj, Contact):
            if _changed(obj, _CONTACT_FIELDS):
                contacts.add(obj.id)
        elif isinstance(obj, EmailAddress):
            if _changed(obj, _ADDRESS_FIELDS):
                contacts.update(c for c in _history_values(obj, "contact_id") if c is not None)
        elif isinstance(obj, ContactTag):
            contacts.add(obj.contact_id)
        elif isinstance(obj, Company) and _changed(obj, _COMPANY_FIELDS):
            companies.add(obj.id)
    contacts.discard(None)


# The attributes search_text is made of (see search_text and rows_for).
_CONTACT_FIELDS = ("name", "title", "company_id", "company", "phones")
_ADDRESS_FIELDS = ("address", "contact_id", "contact")
_COMPANY_FIELDS = ("name",)


def _changed(obj: object, fields: tuple[str, ...]) -> bool:
    """Whether this flush changes any of ``fields`` of ``obj`` (read in after_flush: history is still there)."""
    attrs = inspect(obj).attrs
    return any(attrs[f].history.has_changes() for f in fields)


def _history_values(obj: object, field: str) -> set[int | None]:
    """The value of ``field`` now and before this flush (an address moved: both contacts' texts change)."""
    hist = inspect(obj).attrs[field].history
    return {*hist.added, *hist.unchanged, *hist.deleted}


@event.listens_for(Session, "before_commit")
def _refresh_at_commit(session: Session) -> None:
    # Flush first: rows added since the last flush are collected by that flush (commit's own flush
    # comes after this event, so a contact added and committed without a flush kept no search text).
    session.flush()
    if not (session.info.get(_CONTACTS) or session.info.get(_COMPANIES)):
        return
    refresh(session)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(_CONTACTS, None)
    session.info.pop(_COMPANIES, None)


def refresh(session: Session, contact_ids: Iterable[int] | None = None) -> int:
    """Recompute the search text of the marked contacts (or of ``contact_ids``); returns how many."""
    if contact_ids is None:
        ids = set(session.info.pop(_CONTACTS, set()))
        companies = session.info.pop(_COMPANIES, set())
        if companies:
            ids.update(session.scalars(select(Contact.id).where(Contact.company_id.in_(companies))))
    else:
        ids = set(contact_ids)
    ordered = sorted(ids)
    conn = session.connection()
    fts = has_fts(session)
    for i in range(0, len(ordered), _CHUNK):
        chunk = ordered[i:i + _CHUNK]
        rows = rows_for(conn, chunk)
        if rows:
            conn.execute(update(Contact.__table__).where(Contact.__table__.c.id == bindparam("cid"))  # type: ignore[arg-type]
                         .values(search_text=bindparam("text")), rows)
        if fts:
            conn.execute(text(f"DELETE FROM {FTS_TABLE} WHERE rowid IN ({','.join(str(int(c)) for c in chunk)})"))
            if rows:
                conn.execute(text(f"INSERT INTO {FTS_TABLE}(rowid, search_text) VALUES (:cid, :text)"), rows)
    return len(ordered)


def refresh_pending(session: Session) -> int:
    """Bring the search text of contacts written earlier in this transaction up to date now (a search
    inside the transaction that wrote them, such as a ``+find`` in the same ingest batch as the mail
    that created the contact, must see them); returns how many were refreshed."""
    session.flush()
    if not (session.info.get(_CONTACTS) or session.info.get(_COMPANIES)):
        return 0
    return refresh(session)


def stale(session: Session) -> set[int]:
    """Contacts changed in this transaction (flushed) whose search text is refreshed only at commit."""
    return set(session.info.get(_CONTACTS, ()))


def has_fts(session: Session) -> bool:
    """True when this SQLite store has the trigram table (decided once per database file)."""
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    key = str(bind.engine.url)
    if key not in _FTS_SEEN:
        _FTS_SEEN[key] = session.connection().execute(
            text("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = :n"), {"n": FTS_TABLE}).first() is not None
    return _FTS_SEEN[key]


def matches(session: Session, pattern: str) -> ColumnElement[bool]:
    """The WHERE clause selecting the contacts whose search text is ``LIKE pattern`` (from like_pattern).

    On SQLite with the trigram table, a pattern without escaped characters is answered by the
    index (FTS5 serves LIKE only without an ESCAPE clause); PostgreSQL's pg_trgm index serves the
    plain LIKE on the column.
    """
    if "\\" not in pattern and has_fts(session):
        return Contact.id.in_(select(literal_column("rowid")).select_from(text(FTS_TABLE))
                              .where(literal_column("search_text").like(pattern)))
    return Contact.search_text.like(pattern, escape="\\")


def rows_for(conn: Any, ids: list[int]) -> list[dict[str, Any]]:
    """``[{"cid": id, "text": search text}]`` for the contacts ``ids`` (three queries)."""
    c = Contact.__table__.c
    base = {cid: (name, title, company, phones) for cid, name, title, company, phones in conn.execute(
        select(c.id, c.name, c.title, Company.__table__.c.name, c.phones).prefix_with(MARK)
        .select_from(Contact.__table__.outerjoin(Company.__table__, Company.__table__.c.id == c.company_id))
        .where(c.id.in_(ids)))}
    addresses: dict[int, list[str]] = {}
    for cid, address in conn.execute(select(EmailAddress.contact_id, EmailAddress.address).prefix_with(MARK)
                                     .where(EmailAddress.contact_id.in_(ids))):
        addresses.setdefault(cid, []).append(address)
    tags: dict[int, list[str]] = {}
    for cid, tag in conn.execute(select(ContactTag.contact_id, Tag.name).prefix_with(MARK).join(Tag, Tag.id == ContactTag.tag_id)
                                 .where(ContactTag.contact_id.in_(ids))):
        tags.setdefault(cid, []).append(tag)
    return [{"cid": cid, "text": search_text(name, title, company, addresses.get(cid, ()), phones or (), tags.get(cid, ()))}
            for cid, (name, title, company, phones) in base.items()]

