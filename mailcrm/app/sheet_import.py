"""`mailcrm import contacts`: sheet rows -> contacts, addresses, companies and tags, in one transaction.

Reading the file is ``sheets.py``; this module decides and writes through the store
(rolled back for --dry-run).  It lives with the importers, not in ``store/``, because it
consumes the importers' row types: the store never imports ingest (tests/test_architecture.py).

Decisions per row: ``create`` (no address known), ``merge`` (one existing contact gets the
empty fields, new addresses, phones and tags), ``skip`` (nothing new, or the row's addresses
belong to different contacts).  Values from the sheet are the user's own typing, so they go
into ``Contact.user_fields`` and parsers never overwrite them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.errors import Invalid, Refused
from mailcrm.parse.addresses import domain_of, is_free_mail
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.store import repository as repo
from mailcrm.store.models import Contact, ContactTag, EmailAddress, Tag
from mailcrm.store.phones import contacts_with_phone
from mailcrm.transfer.sheets import BadRow, SheetRow, read_file

TEXT_FIELDS = ("name", "title", "city", "notes", "website")


@dataclass(frozen=True)
class Decision:
    """What happened (or would happen) to one row."""

    sheet: str
    row: int
    action: str  # create | merge | skip | bad
    email: str | None
    reason: str
    contact_id: int | None = None


def _tag(session: Session, name: str, cache: dict[str, int]) -> int:
    if name not in cache:
        row = session.scalar(select(Tag).where(Tag.name == name))
        if row is None:
            row = Tag(name=name[:200])
            session.add(row)
            session.flush()
        cache[name] = row.id
    return cache[name]


def _add_tags(session: Session, contact_id: int, tags: list[str], cache: dict[str, int]) -> list[str]:
    added: list[str] = []
    for t in tags:
        tid = _tag(session, t, cache)
        if session.get(ContactTag, (contact_id, tid)) is None:
            session.add(ContactTag(contact_id=contact_id, tag_id=tid))
            added.append(t)
    session.flush()
    return added


def apply_row(session: Session, row: SheetRow, tag_cache: dict[str, int]) -> Decision:
    """Create or merge one row's contact; returns the decision with its reason."""
    owners: dict[int, Contact] = {}
    for a in row.emails:
        c = repo.find_contact(session, a)
        if c is not None:
            owners[c.id] = c
    if not row.emails:  # a phone-only row: the contact that has one of its phones
        for p in row.phones:
            found = contacts_with_phone(session, p)
            if found:
                c = repo.resolve_contact(session, found[0])
                owners[c.id] = c
    key = row.emails[0] if row.emails else row.phones[0]
    if len(owners) > 1:
        ids = ", ".join(f"#{i}" for i in sorted(owners))
        return Decision(row.sheet, row.row, "skip", key, f"addresses belong to different contacts ({ids})")
    note = "; ".join(row.warnings)
    if not owners:
        contact = Contact(source="import", phones=list(row.phones), user_fields=[])
        locked: list[str] = []
        for f in TEXT_FIELDS:
            value = getattr(row, f)
            if value:
                setattr(contact, f, value[:2000] if f == "notes" else value[:300])
                locked.append(f)
        if row.phones:
            locked.append("phones")
        if row.company:
            company = repo.company_by_name(session, row.company, source="import")
            contact.company_id = company.id if company else None
            locked.append("company")
        contact.user_fields = locked
        session.add(contact)
        session.flush()
        for a in row.emails:
            session.add(EmailAddress(address=a, contact_id=contact.id, status="active"))
        session.flush()
        if row.emails and not row.company and not is_free_mail(row.emails[0]):
            # Same grouping as mail: a corporate domain makes a company (free-mail never does).
            contact.company_id = repo.company_for_domain(session, domain_of(row.emails[0])).id
        _add_tags(session, contact.id, row.tags, tag_cache)
        reason = "new contact" + (f"; {note}" if note else "")
        return Decision(row.sheet, row.row, "create", key, reason, contact.id)
    contact = next(iter(owners.values()))
    changed: list[str] = []
    locked_now = list(contact.user_fields or [])
    for f in TEXT_FIELDS:
        value = getattr(row, f)
        if value and not getattr(contact, f):
            setattr(contact, f, value[:2000] if f == "notes" else value[:300])
            changed.append(f)
            locked_now.append(f)
    if row.company and contact.company_id is None:
        company = repo.company_by_name(session, row.company, source="import")
        if company is not None:
            contact.company_id = company.id
            changed.append("company")
    have = list(contact.phones or [])
    new_phones = [p for p in row.phones if p not in have]
    if new_phones:
        contact.phones = have + new_phones
        changed.append("phones")
    for a in row.emails:
        if repo.find_address(session, a) is None:
            session.add(EmailAddress(address=a, contact_id=contact.id, status="active"))
            changed.append(f"address {a}")
    tags = _add_tags(session, contact.id, row.tags, tag_cache)
    if tags:
        changed.append("tags " + ", ".join(tags))
    if not changed:
        return Decision(row.sheet, row.row, "skip", key, f"already up to date (contact #{contact.id})",
                        contact.id)
    contact.user_fields = list(dict.fromkeys(locked_now))
    session.flush()
    reason = f"contact #{contact.id}: added " + ", ".join(changed) + (f"; {note}" if note else "")
    return Decision(row.sheet, row.row, "merge", key, reason, contact.id)


def import_rows(factory: sessionmaker[Session], rows: list[SheetRow], bad: list[BadRow], dry_run: bool = False
                ) -> dict[str, Any]:
    """Apply all rows in one transaction (rolled back when ``dry_run``); returns the report."""
    decisions: list[Decision] = [Decision(b.sheet, b.row, "bad", None, b.reason) for b in bad]
    session = factory()
    try:
        cache: dict[str, int] = {}
        for r in rows:
            try:
                decisions.append(apply_row(session, r, cache))
            except Refused:
                raise
            except Exception as exc:  # noqa: BLE001 - name the row; nothing half-imported
                # No savepoint per row: pysqlite's SAVEPOINT handling would commit a --dry-run.
                raise Invalid(f"{r.sheet} row {r.row}: {type(exc).__name__}: {str(exc)[:200]}; "
                                 "nothing was imported") from None
        if dry_run:
            session.rollback()
        else:
            session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
    order = {name: i for i, name in enumerate(dict.fromkeys([*(r.sheet for r in rows), *(b.sheet for b in bad)]))}
    decisions.sort(key=lambda d: (order.get(d.sheet, 0), d.row))
    counts = {k: sum(1 for d in decisions if d.action == k) for k in ("create", "merge", "skip", "bad")}
    return {"dry_run": dry_run, **counts, "rows": [asdict(d) for d in decisions]}


def import_file(factory: sessionmaker[Session], path: Path, region: str = DEFAULT_PHONE_REGION, tag: str | None = None,
                dry_run: bool = False) -> dict[str, Any]:
    """Read a sheet file and apply it (``--dry-run``: decide and report, write nothing)."""
    rows, bad = read_file(path, region, tag)
    report = import_rows(factory, rows, bad, dry_run=dry_run)
    report["file"] = str(path)
    return report
