"""Companies and what signatures teach: grouping, suggestions, contact field fill-in.

Certain groupings (same corporate domain, same normalised company name) are applied;
uncertain ones (a domain company whose signatures name another company, a contact whose
signature names a new employer) become CompanySuggestion rows for the user to accept.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from mailcrm.errors import UsageError
from mailcrm.parse.addresses import normalize_address
from mailcrm.parse.facts import Address, Signature
from mailcrm.store import repository as repo
from mailcrm.store.models import Company, CompanySuggestion, Contact, EmailAddress, Message

FILLABLE = ("name", "title", "website")


def learn_signature(session: Session, contact: Contact | int, message: Message, sig: Signature) -> None:
    """Keep the signature, fill empty contact fields, group the contact by its company.

    Nothing is flushed here (issue 26): the signature row is written with the message's other
    rows after the batch flush (``message_rows``), so ``contact`` and ``message`` may still be
    pending, and a company the signature names is linked through ``Contact.company`` (found with
    the batch's one ``companies_by_name`` lookup, or created pending).
    """
    if not isinstance(contact, Contact):
        found = session.get(Contact, contact)
        if found is None:
            return
        contact = found
    repo.add_signature(session, message, contact, {
        "seen_at": message.date, "text": sig.text[:4000], "name": sig.name, "title": sig.title,
        "company": sig.company, "phones": list(sig.phones), "website": sig.website,
    })
    locked = set(contact.user_fields or [])
    for fieldname in FILLABLE:
        value = getattr(sig, fieldname)
        if value and not getattr(contact, fieldname) and fieldname not in locked:
            setattr(contact, fieldname, value[:300])
    if sig.phones and "phones" not in locked:
        have = list(contact.phones or [])
        new = [p for p in sig.phones if p not in have]
        if new:
            contact.phones = have + new
    if sig.company and "company" not in locked:
        _group_by_signature(session, contact, sig.company, message)


def _company_of(session: Session, contact: Contact) -> Company | None:
    """The contact's company as linked now: through ``Contact.company`` (maybe pending) or its id."""
    linked = contact.company
    if contact.company_id is not None and (linked is None or (linked.id is not None and linked.id != contact.company_id)):
        return session.get(Company, contact.company_id)
    return linked


def _group_by_signature(session: Session, contact: Contact, company_name: str, message: Message) -> None:
    with session.no_autoflush:  # pending rows of the batch cannot change these answers
        named = repo.company_by_name(session, company_name, create=False)
        current = _company_of(session, contact)
        if current is None:
            company = named or repo.company_by_name(session, company_name, source="signature", flush=False)
            contact.company = company
            if company is not None and company.id is not None:
                contact.company_id = company.id  # readable before the next flush (as the ledger reads it)
            return
    if named is not None and named is current:
        return
    if current.source == "domain" and current.name == current.domain and named is None:
        # First signature seen at this domain: the company gets its real name.
        current.name = company_name.strip()[:300]
        current.key = repo.normalize_company(company_name) or current.key
        repo.remember_company_name(session, current)
        return
    target = named
    kind = "merge" if named is not None and current.source == "domain" else "contact_company"
    # Two spellings of one company ("ООО «Ромашка»", "Ромашка") are one proposal, not two.  Asked
    # without a flush: proposals this transaction added wait in ``session.info`` until it flushes.
    key = repo.normalize_company(company_name)
    added: dict[tuple[int, str], CompanySuggestion] = session.info.setdefault(_PROPOSED, {})
    earlier = added.get((id(contact), key))
    if earlier is not None and earlier in session:
        return
    if contact.id is not None:
        with session.no_autoflush:
            if any(repo.normalize_company(name or "") == key for name in session.scalars(
                    select(CompanySuggestion.company_name).where(
                        CompanySuggestion.contact_id == contact.id, CompanySuggestion.status == "pending"))):
                return
    # A new proposal (rare): it names the contact, companies and message by id, so flush first.
    if contact.id is None or current.id is None or message.id is None or (target is not None and target.id is None):
        session.flush()
    proposal = CompanySuggestion(
        contact_id=contact.id, company_id=current.id, other_company_id=target.id if target else None,
        company_name=company_name.strip()[:300], kind=kind,
        reason=f"signature in message {message.id} names {company_name.strip()!r}, contact is at {current.name!r}",
    )
    session.add(proposal)
    added[(id(contact), key)] = proposal


_PROPOSED = "mailcrm.company_suggestions_added"


def propose_new_contacts(session: Session, contact_id: int, addresses: tuple[Address, ...], reason: str) -> None:
    """"No longer works here, write to X": propose X as a new contact at the same company."""
    contact = session.get(Contact, contact_id)
    for a in addresses:
        if repo.find_address(session, a.address) is not None:
            continue
        session.add(CompanySuggestion(
            contact_id=contact_id, company_id=contact.company_id if contact else None, kind="new_contact",
            company_name=None, reason=reason, data={"address": a.address, "name": a.name},
        ))


def propose_new_addresses(session: Session, contact_id: int, addresses: tuple[Address, ...], reason: str) -> None:
    """"This address is no longer in use, my new one is X": propose X as another address of the same
    contact when it looks like that person's (it shares a name part with their old addresses); any
    other address it names ("write to info@") is proposed as a new contact, as for someone who left."""
    own = {a.address for a in session.scalars(select(EmailAddress).where(EmailAddress.contact_id == contact_id))}
    same: list[Address] = []
    others: list[Address] = []
    for a in addresses:
        (same if _resembles(a.address, own) else others).append(a)
    for a in same:
        if repo.find_address(session, a.address) is None:
            session.add(CompanySuggestion(contact_id=contact_id, company_id=None, kind="new_address", company_name=None,
                                          reason=reason, data={"address": a.address, "name": a.name}))
    if others:
        propose_new_contacts(session, contact_id, tuple(others), reason)


def _resembles(address: str, own: set[str]) -> bool:
    """Whether ``address``'s local part shares a name part (3+ letters) with one of ``own``'s."""
    def parts(a: str) -> set[str]:
        return {p for p in re.split(r"[^a-zа-яё]+", a.partition("@")[0].lower()) if len(p) >= 3}

    mine = parts(address)
    return any(mine & parts(o) for o in own)


# -- reading and deciding -----------------------------------------------------------------
def list_companies(session: Session) -> list[dict[str, Any]]:
    """Active companies with people counts."""
    q = (
        select(Company, func.count(Contact.id))
        .outerjoin(Contact, (Contact.company_id == Company.id) & (Contact.status == "active"))
        .where(Company.status == "active")
        .group_by(Company.id)
        .order_by(Company.name)
    )
    return [{"id": c.id, "name": c.name, "domain": c.domain, "people": n, "source": c.source}
            for c, n in session.execute(q)]


def company_card(session: Session, name: str) -> dict[str, Any]:
    """People and the merged timeline of one company (by name, normalised name or domain)."""
    company = session.scalar(select(Company).where(Company.domain == name.lower())) or repo.company_by_name(
        session, name, create=False)
    if company is None:
        company = session.scalar(select(Company).where(func.lower(Company.name) == name.lower()))
    if company is None:
        raise UsageError(f"no company named {name!r}")
    people = list(session.scalars(select(Contact).where(Contact.company_id == company.id,
                                                        Contact.status == "active").order_by(Contact.name)))
    ids = [p.id for p in people]
    return {
        "id": company.id, "name": company.name, "domain": company.domain,
        "people": [repo.contact_summary(session, p) for p in people],
        "timeline": repo.timeline(session, ids) if ids else [],
    }


def list_suggestions(session: Session, status: str = "pending") -> list[dict[str, Any]]:
    """Pending grouping proposals."""
    rows = session.scalars(select(CompanySuggestion).where(CompanySuggestion.status == status)
                           .order_by(CompanySuggestion.id))
    out = []
    for s in rows:
        contact = session.get(Contact, s.contact_id) if s.contact_id else None
        company = session.get(Company, s.company_id) if s.company_id else None
        out.append({"id": s.id, "kind": s.kind, "contact": contact.name if contact else None,
                    "contact_id": s.contact_id, "company": company.name if company else None,
                    "proposed": s.company_name or s.data.get("address"), "reason": s.reason, "status": s.status})
    return out


def decide_suggestion(session: Session, suggestion_id: int, accept: bool) -> dict[str, Any]:
    """Accept (apply) or reject one proposal."""
    s = session.get(CompanySuggestion, suggestion_id)
    if s is None or s.status != "pending":
        raise UsageError(f"no pending suggestion {suggestion_id}")
    s.status = "accepted" if accept else "rejected"
    if accept:
        contact = session.get(Contact, s.contact_id) if s.contact_id else None
        if s.kind == "merge" and s.company_id and s.other_company_id:
            merge_companies(session, keep_id=s.other_company_id, drop_id=s.company_id)
        elif s.kind == "contact_company" and contact is not None and s.company_name:
            contact.company_id = repo.company_by_name(session, s.company_name, source="signature").id  # type: ignore[union-attr]
        elif s.kind == "new_address" and contact is not None and s.data.get("address"):
            address = normalize_address(s.data["address"])
            owner = repo.find_address(session, address)
            if owner is not None and owner.contact_id != contact.id:
                raise UsageError(f"{address} already belongs to another contact; merge the two instead")
            if owner is None:
                session.add(EmailAddress(address=address, contact_id=contact.id, status="active"))
        elif s.kind == "new_contact" and s.data.get("address"):
            new = repo.find_or_create_contact(session, s.data["address"], s.data.get("name"), source="suggestion")
            if contact is not None and contact.company_id and new.company_id is None:
                new.company_id = contact.company_id
    return {"id": s.id, "status": s.status}


def merge_companies(session: Session, keep_id: int, drop_id: int) -> None:
    """Move everyone from ``drop_id`` to ``keep_id``; the dropped company stays as 'merged'."""
    keep, drop = session.get(Company, keep_id), session.get(Company, drop_id)
    if keep is None or drop is None or keep.id == drop.id:
        raise UsageError("merge needs two different companies")
    for c in session.scalars(select(Contact).where(Contact.company_id == drop.id)):
        c.company_id = keep.id
    drop.status = "merged"
    drop.merged_into_id = keep.id
    if drop.domain and not keep.domain:
        domain, drop.domain = drop.domain, None
        session.flush()  # release the unique domain before moving it
        keep.domain = domain
