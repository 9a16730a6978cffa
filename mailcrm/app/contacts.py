"""User edits of contacts: field edits (locked against parsers) and merges (history kept)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from mailcrm.app import last_touch
from mailcrm.domain.leads import normalize_phone as phone_e164
from mailcrm.errors import Invalid, NotFound
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.store import repository as repo
from mailcrm.store import search
from mailcrm.store.models import Activity, Contact, ContactTag, DealContact, EmailAddress, Participant, SignatureSeen


def normalize_phone(text: str, region: str = DEFAULT_PHONE_REGION) -> str:
    """A phone typed by the user -> E.164 (extension kept as ;ext=N); NotFound if it is none."""
    out = phone_e164(text, region)
    if out is None:
        raise Invalid(f"not a phone number: {text!r}")
    return out


def edit_contact(session: Session, address: str, *, name: str | None = None, title: str | None = None,
                 company: str | None = None, phones: list[str] | None = None, region: str = DEFAULT_PHONE_REGION) -> dict[str, Any]:
    """Set fields the user typed; they are locked so parsed signatures never overwrite them."""
    contact = repo.find_or_create_contact(session, address, source="user")
    locked = set(contact.user_fields or [])
    if name is not None:
        contact.name = name.strip() or None
        locked.add("name")
    if title is not None:
        contact.title = title.strip() or None
        locked.add("title")
    if company is not None:
        contact.company_id = repo.company_by_name(session, company, source="user").id if company.strip() else None  # type: ignore[union-attr]
        locked.add("company")
    if phones is not None:
        contact.phones = [normalize_phone(p, region) for p in phones]
        locked.add("phones")
    contact.user_fields = sorted(locked)
    session.flush()
    return repo.contact_summary(session, contact)


def merge_contacts(session: Session, keep_address: str, drop_address: str) -> dict[str, Any]:
    """Merge the contact of ``drop_address`` into that of ``keep_address``; all history moves along."""
    keep = repo.find_contact(session, keep_address)
    drop = repo.find_contact(session, drop_address)
    if keep is None or drop is None:
        missing = keep_address if keep is None else drop_address
        raise NotFound(f"no contact with address {missing}")
    if keep.id == drop.id:
        raise Invalid("both addresses already belong to one contact")
    session.execute(update(EmailAddress).where(EmailAddress.contact_id == drop.id).values(contact_id=keep.id))
    search.mark(session, (keep.id,))  # its addresses moved by a Core update
    session.execute(update(Participant).where(Participant.contact_id == drop.id).values(contact_id=keep.id))
    session.execute(update(Activity).where(Activity.contact_id == drop.id).values(contact_id=keep.id))
    session.execute(update(SignatureSeen).where(SignatureSeen.contact_id == drop.id).values(contact_id=keep.id))
    for tag_id in session.scalars(select(ContactTag.tag_id).where(ContactTag.contact_id == drop.id)):
        if session.get(ContactTag, (keep.id, tag_id)) is None:
            session.add(ContactTag(contact_id=keep.id, tag_id=tag_id))
    for deal_id in session.scalars(select(DealContact.deal_id).where(DealContact.contact_id == drop.id)):
        if session.get(DealContact, (deal_id, keep.id)) is None:
            session.add(DealContact(deal_id=deal_id, contact_id=keep.id))
    for fieldname in ("name", "title", "website", "company_id", "city", "notes"):
        if not getattr(keep, fieldname) and getattr(drop, fieldname):
            setattr(keep, fieldname, getattr(drop, fieldname))
    keep.phones = list(dict.fromkeys(list(keep.phones or []) + list(drop.phones or [])))
    keep.user_fields = sorted(set(keep.user_fields or []) | set(drop.user_fields or []))
    drop.status = "merged"
    drop.merged_into_id = keep.id
    session.flush()
    last_touch.refresh(session, (keep.id, drop.id))  # their mail and calls moved: the kept touches follow
    session.expire(keep)
    return repo.contact_summary(session, session.get(Contact, keep.id))  # type: ignore[arg-type]
