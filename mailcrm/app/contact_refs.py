"""A contact named on the command line by address or by phone number (a lead may have only a phone).

A reference without "@" that reads as a phone number is normalised to E.164 (phonenumbers, the
user's region for local numbers) and matched on every phone of every live contact.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from mailcrm.domain.leads import normalize_phone
from mailcrm.errors import Invalid, NotFound
from mailcrm.parse.addresses import is_valid_address, normalize_address
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.store import repository as repo
from mailcrm.store.models import Contact
from mailcrm.store.phones import contacts_with_phone

_PHONE_CHARS = re.compile(r"^[+\d\s().\-]+(?:\s*(?:ext\.?|доб\.?|x|#)\s*\d+)?$", re.I)


def phone_of(ref: str, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """E.164 of ``ref`` when it is written as a phone number (None for an address or anything else)."""
    ref = ref.strip()
    if "@" in ref or not _PHONE_CHARS.match(ref) or sum(ch.isdigit() for ch in ref) < 5:
        return None
    return normalize_phone(ref, region)


def find_contact_ref(session: Session, ref: str, region: str = DEFAULT_PHONE_REGION) -> Contact | None:
    """The contact with this address, or with this phone among its phones; None when nobody has it."""
    phone = phone_of(ref, region)
    if phone is None:
        return repo.find_contact(session, ref)
    matches = contacts_with_phone(session, phone)
    return repo.resolve_contact(session, matches[0]) if matches else None


def contact_for_ref(session: Session, ref: str, *, source: str = "cli", region: str = DEFAULT_PHONE_REGION) -> Contact:
    """The contact ``ref`` names; an unknown address or phone becomes a new contact."""
    phone = phone_of(ref, region)
    if phone is not None:
        found = find_contact_ref(session, ref, region)
        if found is not None:
            return found
        contact = Contact(source=source, phones=[phone], user_fields=[])  # phones and no address
        session.add(contact)
        session.flush()
        return contact
    a = normalize_address(ref)
    if not is_valid_address(a):
        if sum(ch.isdigit() for ch in ref) >= 5 and "@" not in ref:
            raise Invalid(f"not a phone number: {ref!r}")
        raise Invalid(f"not an email address or phone number: {ref!r}")
    return repo.find_or_create_contact(session, a, source=source)


def contact_card_ref(session: Session, ref: str, limit: int | None = None,
                     region: str = DEFAULT_PHONE_REGION, before: repo.Cursor | None = None) -> dict[str, Any]:
    """The card and timeline of the contact ``ref`` names (by address or phone); ``before``: the
    timeline from that keyset cursor on."""
    phone = phone_of(ref, region)
    if phone is None:
        return repo.contact_card(session, ref, limit, before)
    contact = find_contact_ref(session, ref, region)
    if contact is None:
        raise NotFound(f"no contact with phone {phone}")
    ids = [contact.id] + list(session.scalars(select(Contact.id).where(Contact.merged_into_id == contact.id)))
    card = repo.contact_summary(session, contact)
    card["timeline"] = repo.timeline(session, ids, limit, before)
    card["timeline_total"] = repo.timeline_size(session, ids) if limit else len(card["timeline"])
    return card
