"""Store operations for deals: create, move, close, list, show, and attaching mail to them.

Functions take an open Session and never commit (the caller owns the transaction).  The
ingest worker calls ``attach_message_to_deals`` / ``open_deal_from_message`` inside its own
transaction after a message and its people are stored.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from mailcrm.app import last_touch
from mailcrm.app.contact_refs import contact_for_ref
from mailcrm.domain import deal_states
from mailcrm.errors import Invalid, NotFound
from mailcrm.parse.facts import DEFAULT_PHONE_REGION
from mailcrm.store import repository as repo
from mailcrm.store.models import (
    Activity,
    Company,
    Contact,
    Deal,
    DealContact,
    DealMessage,
    DealStage,
    DealThread,
    EmailAddress,
    Message,
    utcnow,
)

WON, LOST = "won", "lost"


def contact_for(session: Session, address: str, *, source: str = "cli", region: str = DEFAULT_PHONE_REGION) -> Contact:
    """The contact owning ``address`` (or this phone number, local ones read in ``region``); an unknown one becomes a contact."""
    return contact_for_ref(session, address, source=source, region=region)


def parse_amount(amount: str | None) -> Decimal | None:
    """"150000" / "150 000,50" -> Decimal (Invalid on junk)."""
    if amount is None:
        return None
    try:
        value = Decimal(amount.replace(" ", "").replace("\u00a0", "").replace(",", "."))
    except InvalidOperation:
        raise Invalid(f"--amount {amount!r}: expected a number such as 150000 or 1500.50") from None
    if value < 0 or value >= Decimal("1e12"):
        raise Invalid(f"--amount {amount!r}: out of range")
    return value


def get_deal(session: Session, deal_id: int) -> Deal:
    """The deal with this id (NotFound when there is none)."""
    deal = session.get(Deal, deal_id)
    if deal is None or deal.status == "deleted":
        raise NotFound(f"no deal #{deal_id}")
    return deal


def deal_contact_ids(session: Session, deal_id: int) -> list[int]:
    """Ids of the deal's people."""
    return list(session.scalars(select(DealContact.contact_id).where(DealContact.deal_id == deal_id)
                                .order_by(DealContact.contact_id)))


def _event(session: Session, deal: Deal, text: str, at: dt.datetime, data: dict[str, Any]) -> None:
    # A deal event lands on the timeline of each of the deal's people.
    ids: list[int | None] = [*deal_contact_ids(session, deal.id)] or [None]
    for cid in ids:
        session.add(Activity(contact_id=cid, deal_id=deal.id, user_id=deal.user_id, kind="deal", at=at, text=text,
                             data=data))


def add_people(session: Session, deal: Deal, contact_ids: list[int]) -> None:
    """Link contacts to a deal (idempotent)."""
    for cid in dict.fromkeys(contact_ids):
        if session.get(DealContact, (deal.id, cid)) is None:
            session.add(DealContact(deal_id=deal.id, contact_id=cid))
    session.flush()


def create_deal(
    session: Session,
    *,
    title: str,
    contact_ids: list[int],
    stage: str,
    user_id: int | None = None,
    company: str | None = None,
    amount: Decimal | None = None,
    currency: str | None = None,
    at: dt.datetime | None = None,
    source_message_id: int | None = None,
) -> Deal:
    """Open a deal with its people; the company defaults to the first person's company."""
    title = title.strip()
    if not title:
        raise Invalid("a deal needs a title")
    if currency is not None and (len(currency) != 3 or not currency.isalpha()):
        raise Invalid(f"--currency {currency!r}: expected a 3-letter code such as RUB")
    at = at or utcnow()
    company_id: int | None = None
    if company:
        c = repo.company_by_name(session, company, create=True)
        company_id = c.id if c else None
    elif contact_ids:
        first = session.get(Contact, contact_ids[0])
        company_id = first.company_id if first else None
    deal = Deal(user_id=user_id, title=title[:500], company_id=company_id, stage=stage, status="open",
                amount=amount, currency=currency.upper() if currency else None, opened_at=at,
                stage_changed_at=at, source_message_id=source_message_id)
    session.add(deal)
    session.flush()
    add_people(session, deal, contact_ids)
    session.add(DealStage(deal_id=deal.id, stage=stage, at=at, note="opened"))
    _event(session, deal, f"deal opened: {deal.title} ({stage})", at, {"stage": stage})
    session.flush()
    return deal


def move_deal(session: Session, deal_id: int, stage: str, *, at: dt.datetime | None = None,
              note: str | None = None, lost_reason: str | None = None, reopen: bool = False) -> Deal:
    """Put a deal in ``stage`` (history kept); "won"/"lost" also close it. A closed deal moves only
    with ``reopen`` (domain/deal_states.py); a refused move raises Invalid."""
    deal = get_deal(session, deal_id)
    why = deal_states.refusal(deal.status, deal.stage, stage, reopen=reopen)
    if why:
        raise Invalid(f"deal #{deal_id}: {why}")
    at = at or utcnow()
    if stage == LOST and not (lost_reason or deal.lost_reason):
        raise Invalid(f"deal #{deal_id}: say why it was lost (--reason TEXT)")
    old = deal.stage
    deal.stage = stage
    deal.stage_changed_at = at
    if stage in (WON, LOST):
        deal.status = stage
        deal.closed_at = at
        if lost_reason:
            deal.lost_reason = lost_reason
    elif reopen:
        deal.status, deal.closed_at = "open", None
    session.add(DealStage(deal_id=deal.id, stage=stage, at=at, note=note or lost_reason))
    text = f"deal {deal.title}: {old} → {stage}" + (" (reopened)" if reopen else "") + (f" ({lost_reason})" if lost_reason else "")
    _event(session, deal, text, at, {"from": old, "to": stage})
    session.flush()
    return deal


def reopen_deal(session: Session, deal_id: int, stage: str | None = None, *, at: dt.datetime | None = None) -> Deal:
    """Reopen a won or lost deal into ``stage`` (default: the stage it was in before it closed)."""
    deal = get_deal(session, deal_id)
    if stage is None:
        stage = session.scalar(select(DealStage.stage).where(DealStage.deal_id == deal.id,
                                                             DealStage.stage.not_in(deal_states.CLOSED))
                               .order_by(DealStage.at.desc(), DealStage.id.desc()).limit(1)) or "lead"
    return move_deal(session, deal_id, stage, at=at, note="reopened", reopen=True)


def deal_summary(session: Session, deal: Deal) -> dict[str, Any]:
    """A deal as a JSON-friendly dict (people, no timeline)."""
    people = session.execute(
        select(Contact.id, Contact.name, Contact.phones, EmailAddress.address)
        .join(DealContact, DealContact.contact_id == Contact.id)
        .outerjoin(EmailAddress, EmailAddress.contact_id == Contact.id)
        .where(DealContact.deal_id == deal.id).order_by(Contact.id, EmailAddress.id)
    ).all()
    by_id: dict[int, dict[str, Any]] = {}
    for cid, name, phones, address in people:
        # Phones too: a lead from a web form may have no address at all.
        p = by_id.setdefault(cid, {"id": cid, "name": name, "addresses": [], "phones": list(phones or [])})
        if address:
            p["addresses"].append(address)
    company = session.get(Company, deal.company_id) if deal.company_id else None
    return {
        "id": deal.id, "title": deal.title, "stage": deal.stage, "status": deal.status,
        "amount": deal.amount, "currency": deal.currency, "company": company.name if company else None,
        "opened_at": deal.opened_at, "stage_changed_at": deal.stage_changed_at, "closed_at": deal.closed_at,
        "lost_reason": deal.lost_reason, "source": deal.source, "people": list(by_id.values()),
    }


def list_deals(session: Session, stage: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
    """Deals (not deleted), newest first, optionally by stage or status."""
    q = select(Deal).where(Deal.status != "deleted").order_by(Deal.opened_at.desc(), Deal.id.desc())
    if stage:
        q = q.where(Deal.stage == stage)
    if status:
        q = q.where(Deal.status == status)
    return [deal_summary(session, d) for d in session.scalars(q)]


def deal_card(session: Session, deal_id: int, limit: int = 200) -> dict[str, Any]:
    """A deal with its people, stage history and timeline (its messages, its people's, its events)."""
    deal = get_deal(session, deal_id)
    card = deal_summary(session, deal)
    card["stages"] = [{"stage": s.stage, "at": s.at, "note": s.note} for s in session.scalars(
        select(DealStage).where(DealStage.deal_id == deal.id).order_by(DealStage.id))]
    ids = deal_contact_ids(session, deal.id)
    items = repo.timeline(session, ids, limit) if ids else []
    seen = {(i["type"], i["id"]) for i in items}
    for msg in session.scalars(select(Message).join(DealMessage, DealMessage.message_id == Message.id)
                               .where(DealMessage.deal_id == deal.id).order_by(Message.date.desc()).limit(limit)):
        if ("message", msg.id) not in seen:
            items.append({"type": "message", "id": msg.id, "at": msg.date, "kind": msg.kind,
                          "direction": msg.direction, "subject": msg.subject, "snippet": msg.snippet})
    for act in session.scalars(select(Activity).where(Activity.deal_id == deal.id, Activity.contact_id.is_(None))):
        items.append({"type": "activity", "id": act.id, "at": act.at, "kind": act.kind, "text": act.text,
                      "due": act.due, "data": act.data})
    items.sort(key=lambda i: (i["at"], i["id"]), reverse=True)
    # A deal event is stored once per person (each person's timeline has it); show it once here.
    seen_events: set[tuple[Any, str]] = set()
    unique = []
    for i in items:
        if i["type"] == "activity" and i["kind"] == "deal":
            if (i["at"], i["text"]) in seen_events:
                continue
            seen_events.add((i["at"], i["text"]))
        unique.append(i)
    card["timeline"] = unique[:limit]
    return card


# -- mail -> deals (called by the ingest worker inside its transaction) --------------------
def _link_message(session: Session, deal_id: int, message: Message) -> None:
    if session.get(DealMessage, (deal_id, message.id)) is None:
        session.info[_LINKED] = True  # parents looked up before this may be on a deal now: ask the store
        session.add(DealMessage(deal_id=deal_id, message_id=message.id))
        last_touch.deal_message(session, deal_id, message)


_LINKED = "mailcrm.deal_messages_linked"


class ThreadDeals:
    """Which thread keys belong to a deal, for the keys of an ingest batch looked up at once.

    Most mail belongs to no deal, and the identity map remembers only rows that exist, so
    without this every message of a batch costs one ``SELECT`` that finds nothing.  A key that
    was not looked up is asked of the session.  Rows added through ``add`` are remembered, so a
    deal opened by one message of the batch takes the later ones of its thread.
    """

    def __init__(self, deal_of: dict[str, int] | None = None, looked_up: set[str] | None = None) -> None:
        self.deal_of = deal_of or {}
        self.looked_up = looked_up or set()
        # Message-IDs of the batch's parents (In-Reply-To, References) -> (message row id, deal id)
        # of those on a deal; ``parents_looked_up`` holds every id asked about (``load_parents``).
        self.parent_deals: dict[str, list[tuple[int, int]]] = {}
        self.parents_looked_up: set[str] = set()

    def load_parents(self, session: Session, message_ids: Iterable[str]) -> "ThreadDeals":
        """Look up which of ``message_ids`` are on a deal, in one query (per 500); returns self."""
        wanted = sorted({m for m in message_ids if m})
        for i in range(0, len(wanted), 500):
            for mid, row_id, deal_id in session.execute(
                    select(Message.message_id, Message.id, DealMessage.deal_id)
                    .join(DealMessage, DealMessage.message_id == Message.id)
                    .where(Message.message_id.in_(wanted[i:i + 500]))):
                if mid is not None:
                    self.parent_deals.setdefault(mid, []).append((row_id, deal_id))
        self.parents_looked_up.update(wanted)
        return self

    def parents_known(self, session: Session, parents: list[str]) -> bool:
        """Whether ``load_parents`` answers for all of ``parents`` (no deal took a message since)."""
        return not session.info.get(_LINKED) and all(p in self.parents_looked_up for p in parents)

    @classmethod
    def load(cls, session: Session, keys: Iterable[str]) -> "ThreadDeals":
        """Look up every key in ``keys`` in one query (in chunks for the parameter limit)."""
        wanted = sorted({k for k in keys if k})
        deal_of: dict[str, int] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            deal_of.update((k, d) for k, d in session.execute(select(DealThread.thread_key, DealThread.deal_id)
                                           .where(DealThread.thread_key.in_(chunk))).all())
        return cls(deal_of, set(wanted))

    def deal(self, session: Session, key: str) -> int | None:
        """The deal the thread ``key`` belongs to, or None."""
        if key in self.looked_up:
            return self.deal_of.get(key)
        row = session.get(DealThread, key)
        return row.deal_id if row is not None else None

    def add(self, session: Session, key: str, deal_id: int) -> None:
        """Make the thread ``key`` belong to ``deal_id`` unless it already belongs to a deal."""
        if self.deal(session, key) is None:
            session.add(DealThread(thread_key=key, deal_id=deal_id))
            self.looked_up.add(key)
            self.deal_of[key] = deal_id


def attach_message_to_deals(session: Session, message: Message, threads: ThreadDeals | None = None) -> list[int]:
    """Attach a message to the deals of its thread (thread key, In-Reply-To, References); returns deal ids.

    The message may still be pending (the ingest worker flushes a batch at once): the lookups
    do not flush it, and it is flushed only when a deal takes it.  ``threads``: the batch's
    thread keys already looked up (``ThreadDeals.load``).
    """
    threads = threads if threads is not None else ThreadDeals()
    deal_ids: set[int] = set()
    with session.no_autoflush:
        if message.thread_key:
            found = threads.deal(session, message.thread_key)
            if found is not None:
                deal_ids.add(found)
        # A reply to any message already on a deal belongs to that deal, whatever its thread key
        # (RFC 5322 3.6.4: In-Reply-To names the parent, References the ancestors; a client may
        # trim References, so every id there counts, not only the root).
        refs = (message.facts or {}).get("references") or []
        parents = [r for r in dict.fromkeys([message.in_reply_to, *refs]) if isinstance(r, str) and r][:50]
        if parents and threads.parents_known(session, parents):
            deal_ids.update(d for p in parents for row_id, d in threads.parent_deals.get(p, ())
                            if message.id is None or row_id != message.id)
        elif parents:
            q = (select(DealMessage.deal_id).join(Message, Message.id == DealMessage.message_id)
                 .where(Message.message_id.in_(parents)))
            if message.id is not None:
                q = q.where(Message.id != message.id)
            deal_ids.update(session.scalars(q))
        if not deal_ids:
            return []
        live = list(session.scalars(select(Deal.id).where(Deal.id.in_(deal_ids), Deal.status != "deleted")
                                    .order_by(Deal.id)))
    if live and message.id is None:
        session.flush()
    for deal_id in live:
        _link_message(session, deal_id, message)
        if message.thread_key:
            threads.add(session, message.thread_key, deal_id)
    session.flush()
    return live


def open_deal_from_message(session: Session, user_id: int | None, message: Message, contact_ids: list[int],
                           title: str, *, stage: str = "lead", threads: ThreadDeals | None = None) -> Deal:
    """Open a deal from a message (mail to the ``+deal`` dropbox sub-address): its people are the recipients."""
    existing = session.scalar(select(Deal).where(Deal.source_message_id == message.id))
    if existing is not None:  # the same message applied again (retry) opens nothing new
        return existing
    deal = create_deal(session, title=title or "(no subject)", contact_ids=contact_ids, stage=stage,
                       user_id=user_id, at=message.date, source_message_id=message.id)
    _link_message(session, deal.id, message)
    if message.thread_key:
        (threads if threads is not None else ThreadDeals()).add(session, message.thread_key, deal.id)
    session.flush()
    return deal


def open_deals_of_contact(session: Session, contact_id: int) -> list[int]:
    """Ids of the open deals a contact takes part in."""
    return list(session.scalars(select(Deal.id).join(DealContact, DealContact.deal_id == Deal.id)
                                .where(DealContact.contact_id == contact_id, Deal.status == "open")
                                .order_by(Deal.id)))


def find_deals(session: Session, text: str) -> list[int]:
    """Deal ids whose title contains ``text`` (case-insensitive)."""
    return list(session.scalars(select(Deal.id).where(or_(Deal.title.ilike(f"%{text}%")))))
