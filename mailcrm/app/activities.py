"""Store operations for notes, calls, tags and special dates (timeline entries that are not mail).

Functions take an open Session and never commit (the caller owns the transaction).
"""

from __future__ import annotations

import datetime as dt
import difflib
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from mailcrm.app import last_touch
from mailcrm.app.contact_refs import find_contact_ref
from mailcrm.app.deals import contact_for, open_deals_of_contact
from mailcrm.domain.special_dates import DateSpec, describe
from mailcrm.errors import Invalid, NotFound
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.store import search
from mailcrm.store.models import Activity, Contact, ContactTag, EmailAddress, SpecialDate, Tag, utcnow


def log_call(session: Session, address: str, *, note: str | None = None, when: dt.datetime | None = None,
             user_id: int | None = None, region: str = DEFAULT_PHONE_REGION) -> Activity:
    """Record a call with the contact owning ``address`` (a call is a touch for cadence).

    ``region``: the user's phone region, for a phone number written without a country code.
    """
    contact = contact_for(session, address, region=region)
    deals = open_deals_of_contact(session, contact.id)
    act = Activity(contact_id=contact.id, deal_id=deals[0] if len(deals) == 1 else None, user_id=user_id,
                   kind="call", at=when or utcnow(), text=note or "", data={})
    session.add(act)
    session.flush()
    last_touch.call_logged(session, act)
    return act


def add_note(session: Session, address: str, text: str, *, user_id: int | None = None,
             region: str = DEFAULT_PHONE_REGION) -> Activity:
    """Add a note to the contact's timeline."""
    if not text.strip():
        raise Invalid("a note needs some text")
    contact = contact_for(session, address, region=region)
    act = Activity(contact_id=contact.id, user_id=user_id, kind="note", at=utcnow(), text=text.strip(), data={})
    session.add(act)
    session.flush()
    return act


def tag_row(session: Session, name: str, *, create: bool = True) -> Tag | None:
    """The tag called ``name`` (created when ``create``)."""
    name = name.strip()
    if not name:
        raise Invalid("empty tag name")
    row = session.scalar(select(Tag).where(Tag.name == name[:200]))
    if row is None and create:
        row = Tag(name=name[:200])
        session.add(row)
        session.flush()
    return row


def carried_tag(session: Session, name: str) -> Tag:
    """The existing tag ``name`` (any case, ё = е) that at least one contact carries.

    NotFound otherwise, naming the closest tags in use, so a typo (``тиатры``) is caught where a
    command would select people by it, instead of matching nobody in silence.
    """
    want = search.fold(name.strip())
    if not want:
        raise Invalid("empty tag name")
    used = dict(session.execute(select(Tag.name, Tag.id).where(Tag.id.in_(select(ContactTag.tag_id).distinct()))).all())
    folded = {search.fold(n): n for n in used}
    if want in folded:
        return session.get(Tag, used[folded[want]])  # type: ignore[return-value]
    close = difflib.get_close_matches(want, list(folded), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(folded[c]) for c in close)}?)" if close else (
        " (no contact has any tag yet)" if not used else "")
    raise NotFound(f"no contact has the tag {name.strip()!r}{hint}")


def tag_contact(session: Session, address: str, tags: list[str], region: str = DEFAULT_PHONE_REGION) -> list[str]:
    """Add tags to a contact; returns the contact's tags afterwards."""
    contact = contact_for(session, address, region=region)
    for name in tags:
        tag = tag_row(session, name)
        assert tag is not None
        if session.get(ContactTag, (contact.id, tag.id)) is None:
            session.add(ContactTag(contact_id=contact.id, tag_id=tag.id))
            session.add(Activity(contact_id=contact.id, kind="tag", at=utcnow(), text=f"+{tag.name}", data={}))
    session.flush()
    return contact_tags(session, contact.id)


def untag_contact(session: Session, address: str, tags: list[str], region: str = DEFAULT_PHONE_REGION) -> list[str]:
    """Remove tags from a contact; returns the contact's tags afterwards (NotFound: no such contact)."""
    contact = find_contact_ref(session, address, region)
    if contact is None:
        raise NotFound(f"no contact with address {address!r}")
    for name in tags:
        tag = tag_row(session, name, create=False)
        if tag is not None and session.get(ContactTag, (contact.id, tag.id)) is not None:
            session.execute(delete(ContactTag).where(ContactTag.contact_id == contact.id, ContactTag.tag_id == tag.id))
            search.mark(session, (contact.id,))
            session.add(Activity(contact_id=contact.id, kind="tag", at=utcnow(), text=f"-{tag.name}", data={}))
    session.flush()
    return contact_tags(session, contact.id)


def contact_tags(session: Session, contact_id: int) -> list[str]:
    """The tag names of a contact, sorted."""
    return list(session.scalars(select(Tag.name).join(ContactTag, ContactTag.tag_id == Tag.id)
                                .where(ContactTag.contact_id == contact_id).order_by(Tag.name)))


def add_special_date(session: Session, label: str, spec: DateSpec, *, address: str | None = None,
                     tag: str | None = None, region: str = DEFAULT_PHONE_REGION) -> SpecialDate:
    """Remember a date for a contact (by address) or for everyone with a tag."""
    if (address is None) == (tag is None):
        raise Invalid("give either ADDR or --tag TAG")
    if not label.strip():
        raise Invalid("a date needs a label")
    row = SpecialDate(label=label.strip()[:300], month=spec.month, day=spec.day, year=spec.year, rule=spec.rule,
                      status="active")
    if address is not None:
        contact = contact_for(session, address, region=region)
        row.contact_id = contact.id
        session.add(Activity(contact_id=contact.id, kind="date", at=utcnow(), text=f"{row.label}: {describe(spec)}",
                             data={}))
    else:
        row.tag_id = carried_tag(session, tag or "").id
    session.add(row)
    session.flush()
    return row


def dates_of_contacts(session: Session, contact_ids: list[int]) -> list[dict[str, Any]]:
    """The active special dates of these contacts (a contact card's), in calendar order."""
    rows = list(session.scalars(select(SpecialDate).where(SpecialDate.contact_id.in_(contact_ids),
                                                          SpecialDate.status == "active")))
    rows.sort(key=lambda d: (d.month is None, d.month or 0, d.day or 0, d.id))
    return [{"id": d.id, "label": d.label, "on": describe(DateSpec(d.month, d.day, d.year, d.rule))} for d in rows]


def list_special_dates(session: Session) -> list[dict[str, Any]]:
    """Every active special date with its contact (name, first address) or tag (and how many carry it)."""
    first_address = (select(func.min(EmailAddress.address)).where(EmailAddress.contact_id == Contact.id)
                     .correlate(Contact).scalar_subquery())
    tag_count = (select(func.count()).select_from(ContactTag).where(ContactTag.tag_id == Tag.id)
                 .correlate(Tag).scalar_subquery())
    rows = list(session.execute(
        select(SpecialDate, Contact.name, first_address, Tag.name, tag_count)
        .outerjoin(Contact, Contact.id == SpecialDate.contact_id)
        .outerjoin(Tag, Tag.id == SpecialDate.tag_id)
        .where(SpecialDate.status == "active").order_by(SpecialDate.id)
    ))
    # Fixed dates in calendar order, then rules (NULLs sort differently on SQLite and PostgreSQL).
    rows.sort(key=lambda r: (r[0].month is None, r[0].month or 0, r[0].day or 0, r[0].id))
    return [{"id": d.id, "label": d.label, "on": describe(DateSpec(d.month, d.day, d.year, d.rule)),
             "rule": d.rule, "month": d.month, "day": d.day, "year": d.year,
             "contact": ({"id": d.contact_id, "name": name, "address": addr} if d.contact_id else None),
             "tag": ({"name": tname, "contacts": count} if d.tag_id else None)}
            for d, name, addr, tname, count in rows]
