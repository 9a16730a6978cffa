"""Leads from forms: a submission becomes a contact, a deal in the first stage and a timeline entry.

``apply_intake`` is the worker's use case for spooled HTTP submissions (one transaction per
batch, a savepoint per item); ``record_lead`` is shared with form-notification mail
(``lead_from_mail``, called by the ingest stages).  The "new lead" mail goes out after the
commit: ``pending_notices`` lists leads not yet announced, ``mark_notice`` records the outcome,
so a crash between commit and send only delays the notice.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.config import Config, FormConfig
from mailcrm.domain.leads import Lead, read_lead, sender_matches
from mailcrm.errors import IngestError, StoreUnavailable, Transient, Unprocessable
from mailcrm.outcomes import Outcome
from mailcrm.parse.addresses import domain_of, is_automated_sender, is_valid_address, normalize_address
from mailcrm.parse.facts import MessageFacts
from mailcrm.parse.form_fields import FormBodyError, html_pairs, read_body, text_pairs
from mailcrm.parse.mime import parse_bytes
from mailcrm.spool import SpoolItem
from mailcrm.store import db
from mailcrm.store import repository as repo
from mailcrm.store.models import Activity, Contact, Deal, DealContact, DealStage, EmailAddress, Form, User, utcnow
from mailcrm.store.models import Lead as LeadRow
from mailcrm.store.phones import contacts_by_phones, contacts_with_phone

MAX_NOTICE_ATTEMPTS = 10


def _received(meta_time: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(meta_time)
    except ValueError:
        return utcnow()
    return at.astimezone(dt.timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def lead_of_item(cfg: Config, item: SpoolItem, raw: bytes) -> tuple[str, Lead]:
    """The form name and lead of a spooled HTTP submission (Unprocessable when unreadable)."""
    ref = item.meta.source_ref
    form = str(ref.get("form") or "")
    if not form:
        raise Unprocessable("intake item names no form")
    fcfg = cfg.form(form)
    try:
        pairs = read_body(raw, str(ref.get("content_type") or ""))
    except FormBodyError as exc:
        raise Unprocessable(f"unreadable submission: {exc}") from None
    minute = item.meta.received_at[:16]
    return form, read_lead(pairs, form=form, names=fcfg.fields, region=cfg.phone_region(), minute=minute,
                           honeypot=fcfg.honeypot)


def _user_id(session: Session, cfg: Config, fcfg: FormConfig, form: str) -> int | None:
    if fcfg.user:
        return repo.user_id_for(session, fcfg.user)
    owner = session.scalar(select(Form.user_id).where(Form.name == form))
    if owner is not None:
        return owner
    return repo.user_id_for(session, cfg.users[0].email) if cfg.users else None


@dataclass
class BatchState:
    """Lookups made once for a batch of leads (None fields: ask the store per lead)."""

    keys: set[tuple[str, str]] | None = None  # (form, key) already stored
    known: repo.KnownContacts | None = None  # contacts of the batch's addresses
    by_phone: dict[str, Contact | None] | None = None  # E.164 -> contact, for the batch's phones
    users: dict[str, int | None] = field(default_factory=dict)  # form -> owner user id

    @classmethod
    def load(cls, session: Session, pending: Sequence[tuple[str, Lead]]) -> "BatchState":
        """Three queries (per 500) for the whole batch: stored keys, contacts by address, by phone."""
        keys: set[tuple[str, str]] = set()
        wanted = sorted({(f, lead.key) for f, lead in pending})
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            rows = session.execute(select(LeadRow.form, LeadRow.key).where(
                LeadRow.key.in_([k for _, k in chunk]), LeadRow.form.in_({f for f, _ in chunk})))
            keys.update((f, k) for f, k in rows)
        emails = [lead.email for _, lead in pending if lead.email]
        known = repo.contacts_by_address(session, emails)
        repo.companies_by_domain(session, [domain_of(a) for a in emails if a not in known])
        phones = sorted({p.split(";", 1)[0] for _, lead in pending for p in lead.phones})
        return cls(keys, known, contacts_by_phones(session, phones))


def find_contact_for_lead(session: Session, lead: Lead, state: BatchState | None = None) -> Contact | None:
    """The known contact of a lead: by address, else by any of its phones."""
    known = state.known if state is not None else None
    if lead.email:
        found = repo.find_contact(session, lead.email, known)
        if found is not None:
            return found
    for phone in lead.phones:
        base = phone.split(";", 1)[0]
        if state is not None and state.by_phone is not None and base in state.by_phone:
            hit = state.by_phone[base]
            if hit is not None and hit in session:
                return repo.resolve_contact(session, hit)
            continue
        matches = contacts_with_phone(session, phone)
        if matches:
            return repo.resolve_contact(session, matches[0])
    return None


def _contact(session: Session, lead: Lead, source: str, state: BatchState | None) -> Contact:
    contact = find_contact_for_lead(session, lead, state)
    known = state.known if state is not None else None
    if contact is None:
        if lead.email:
            contact = repo.find_or_create_contact(session, lead.email, lead.name, source=source, known=known,
                                                  flush=False)
        else:  # a phone-only contact: phones and no address
            contact = Contact(name=lead.name, source=source, phones=[], user_fields=[])
            session.add(contact)
    elif lead.email and repo.find_contact(session, lead.email, known) is None:
        # Known by phone, writing from a new address: the address joins that contact.
        address = EmailAddress(address=lead.email, status="active", contact=contact)
        session.add(address)
        if known is not None:
            known[lead.email] = contact
    locked = set(contact.user_fields or [])
    if lead.name and not contact.name and "name" not in locked:
        contact.name = lead.name
    if lead.phones and "phones" not in locked:
        have = list(contact.phones or [])
        new = [p for p in lead.phones if p not in have]
        if new:
            contact.phones = have + new  # a new list: the JSON column is not mutation-tracked
    if state is not None and state.by_phone is not None:
        for p in lead.phones:
            state.by_phone[p.split(";", 1)[0]] = contact
    if lead.company and contact.company_id is None and "company" not in locked:
        company = repo.company_by_name(session, lead.company, source="form")
        contact.company_id = company.id if company else None
    return contact


def _timeline_text(form: str, lead: Lead) -> str:
    lines = [f"lead from form {form}"]
    if lead.message:
        lines.append(lead.message)
    lines += [f"{k}: {v}" for k, v in lead.extra]
    if lead.utm:
        lines.append(" ".join(f"{k}={v}" for k, v in lead.utm))
    return "\n".join(lines)


def record_lead(session: Session, cfg: Config, form: str, lead: Lead, *, received_at: dt.datetime,
                client: str | None = None, message_id: int | None = None,
                state: BatchState | None = None) -> Outcome:
    """Store one lead (once per form and key): contact, deal in the first stage, timeline entry."""
    outcome, finish = start_lead(session, cfg, form, lead, received_at=received_at, client=client,
                                 message_id=message_id, state=state)
    if finish is not None:
        session.flush()  # the contact's and the deal's ids
        rows: Rows = {}
        finish(rows)
        insert_rows(session, rows)
    return outcome


Rows = dict[type, list[dict[str, Any]]]


def insert_rows(session: Session, rows: Rows) -> None:
    """The rows ``finish`` listed, one executemany INSERT per table (Core: no ORM objects to track)."""
    for model in (DealContact, DealStage, Activity, LeadRow):
        if rows.get(model):
            session.execute(insert(model), rows[model])


def start_lead(session: Session, cfg: Config, form: str, lead: Lead, *, received_at: dt.datetime,
               client: str | None = None, message_id: int | None = None,
               state: BatchState | None = None) -> tuple[Outcome, Callable[[Rows], None] | None]:
    """Add a lead's contact and deal; returns the outcome and what to add once they have ids.

    A batch adds every lead's contact and deal, flushes once, then calls each ``finish``, which
    lists the rows that need their ids (the links, the stage history, the timeline entries, the
    lead row); ``insert_rows`` writes them with one multi-row INSERT per table.  The deal is opened as
    ``deals.create_deal`` opens one (stage history, a "deal opened" event on the person's
    timeline), without its per-row flushes: a batch of leads is the intake's hot path.
    """
    if state is not None and state.keys is not None:
        if (form, lead.key) in state.keys:
            return Outcome.DUPLICATE, None
    elif session.scalar(select(LeadRow.id).where(LeadRow.form == form, LeadRow.key == lead.key)) is not None:
        return Outcome.DUPLICATE, None
    fcfg = cfg.form(form)
    if state is not None and form in state.users:
        user_id = state.users[form]
    else:
        user_id = _user_id(session, cfg, fcfg, form)
        if state is not None:
            state.users[form] = user_id
    source = f"form:{form}"[:40]
    with session.no_autoflush:
        contact = _contact(session, lead, source, state) if lead.reachable or lead.name else None
    who = lead.name or lead.email or (lead.phones[0] if lead.phones else None) or "unknown"
    stage = cfg.cadence.default_stage
    title = f"{who} ({form})"[:500]
    deal = Deal(user_id=user_id, title=title, stage=stage, status="open", opened_at=received_at,
                stage_changed_at=received_at, source_message_id=message_id, source=source,
                company_id=contact.company_id if contact is not None else None)
    session.add(deal)
    if state is not None and state.keys is not None:
        state.keys.add((form, lead.key))
    now = utcnow()

    def finish(rows: Rows) -> None:
        cid = contact.id if contact is not None else None
        if deal.company_id is None and contact is not None and contact.company_id is not None:
            deal.company_id = contact.company_id
        if cid is not None:
            rows.setdefault(DealContact, []).append({"deal_id": deal.id, "contact_id": cid})
        rows.setdefault(DealStage, []).append({"deal_id": deal.id, "stage": stage, "at": received_at,
                                               "note": "opened"})
        data: dict[str, Any] = {"form": form, **lead.to_json()}
        base = {"contact_id": cid, "deal_id": deal.id, "user_id": user_id, "at": received_at, "due": None,
                "created_at": now}
        rows.setdefault(Activity, []).extend([
            {**base, "message_id": None, "kind": "deal", "text": f"deal opened: {title} ({stage})",
             "data": {"stage": stage}},
            {**base, "message_id": message_id, "kind": "lead", "text": _timeline_text(form, lead), "data": data}])
        rows.setdefault(LeadRow, []).append({
            "form": form, "key": lead.key, "user_id": user_id, "contact_id": cid, "deal_id": deal.id,
            "message_id": message_id, "received_at": received_at, "client": client, "data": data,
            "notified_at": None, "notify_error": None, "notify_attempts": 0, "created_at": now})

    return Outcome.STORED, finish


class _BatchFailed(Exception):
    """A lead failed in a batch applied without savepoints: apply the batch again, one savepoint each."""


def apply_intake(factory: sessionmaker[Session], cfg: Config, items: Sequence[SpoolItem],
                 raws: Mapping[str, bytes]) -> tuple[dict[str, Outcome], dict[str, IngestError]]:
    """Apply spooled submissions in one transaction; returns outcomes and failures.

    First without savepoints (one flush per lead, the rest at commit); if a lead fails, the
    transaction is rolled back and the batch applied again with a savepoint per lead, so the bad
    one fails alone (like ``apply.apply_batch``).
    """
    read: dict[str, tuple[str, Lead]] = {}
    unreadable: dict[str, IngestError] = {}
    for item in items:
        if item.id not in raws:
            continue
        try:
            read[item.id] = lead_of_item(cfg, item, raws[item.id])
        except IngestError as exc:
            unreadable[item.id] = exc
    try:
        outcomes, failures = _intake_batch(factory, cfg, items, read, careful=False)
    except _BatchFailed:
        outcomes, failures = _intake_batch(factory, cfg, items, read, careful=True)
    return outcomes, {**unreadable, **failures}


def _intake_batch(factory: sessionmaker[Session], cfg: Config, items: Sequence[SpoolItem],
                  read: Mapping[str, tuple[str, Lead]], careful: bool) -> tuple[dict[str, Outcome], dict[str, IngestError]]:
    outcomes: dict[str, Outcome] = {}
    failures: dict[str, IngestError] = {}
    with db.transaction(factory) as session:
        session.connection(execution_options={"immediate": True})  # SQLite: the write lock up front
        state = BatchState.load(session, list(read.values()))
        finishes: list[Callable[[Rows], None]] = []
        for item in items:
            if item.id not in read:
                continue
            form, lead = read[item.id]
            savepoint = session.begin_nested() if careful else None
            try:
                if careful:
                    outcomes[item.id] = record_lead(session, cfg, form, lead, client=item.meta.peer, state=state,
                                                    received_at=_received(item.meta.received_at))
                    session.flush()
                    assert savepoint is not None
                    savepoint.commit()
                else:
                    outcomes[item.id], finish = start_lead(session, cfg, form, lead, client=item.meta.peer,
                                                           state=state, received_at=_received(item.meta.received_at))
                    if finish is not None:
                        finishes.append(finish)
            except (StoreUnavailable, OperationalError):
                raise
            except Exception as exc:  # noqa: BLE001 - one bad submission never stops the worker
                if savepoint is None:
                    raise _BatchFailed() from exc
                savepoint.rollback()
                if isinstance(exc, IntegrityError):  # another daemon stored the same submission first
                    failures[item.id] = Transient(f"conflict: {str(exc.orig).splitlines()[0] if exc.orig else exc}")
                elif isinstance(exc, IngestError):
                    failures[item.id] = exc
                else:
                    failures[item.id] = Unprocessable(f"error: {type(exc).__name__}: {str(exc)[:300]}")
                state = BatchState(None, None, None)  # rolled-back rows may be cached: ask the store
        if not careful:
            try:
                session.flush()  # every lead's contact and deal at once
                rows: Rows = {}
                for finish in finishes:
                    finish(rows)
                session.flush()  # deal.company_id set by a finish
                insert_rows(session, rows)
            except (StoreUnavailable, OperationalError):
                raise
            except Exception as exc:  # noqa: BLE001
                raise _BatchFailed() from exc
    return outcomes, failures


# -- form-notification mail -----------------------------------------------------------------
def form_of_mail(cfg: Config, facts: MessageFacts) -> tuple[FormConfig, bool] | None:
    """The [[forms]] entry this notification mail matches, and whether it came forwarded by the user."""
    candidates: list[tuple[str, str, bool]] = []
    if facts.from_:
        candidates.append((facts.from_.address, facts.subject or "", False))
    fwd = facts.forwarded
    if fwd is not None and fwd.from_ is not None:
        candidates.append((fwd.from_.address, fwd.subject or "", True))
    for f in cfg.forms:
        if not f.senders:
            continue
        for sender, subject, forwarded in candidates:
            if sender_matches(f.senders, sender) and (f.subject is None or re.search(f.subject, subject)):
                return f, forwarded
    return None


def matched_sender(fcfg: FormConfig, facts: MessageFacts) -> str:
    """The From address of a (not forwarded) notification mail that matched ``fcfg``'s senders."""
    return facts.from_.address.lower() if facts.from_ is not None else ""


def lead_from_mail(session: Session, cfg: Config, fcfg: FormConfig, facts: MessageFacts, raw: bytes,
                   received_at: dt.datetime, *, forwarded: bool = False) -> Outcome:
    """A form builder's notification mail -> a lead: fields from an HTML table or ``Name: value`` lines."""
    pairs: tuple[tuple[str, str], ...] = ()
    if forwarded and facts.forwarded is not None:
        pairs = text_pairs(facts.forwarded.text)
    else:
        view = parse_bytes(raw)
        if view.html:
            pairs = html_pairs(view.html)
        if not pairs:
            pairs = text_pairs(view.text or facts.body_text)
    lead = read_lead(pairs, form=fcfg.name, names=fcfg.fields, region=cfg.phone_region(),
                     minute=received_at.isoformat()[:16], honeypot=fcfg.honeypot)
    own = cfg.user_addresses() | cfg.dropbox_addresses()
    reply = next((a.address for a in facts.reply_to if is_valid_address(normalize_address(a.address))
                  and not is_automated_sender(a.address) and a.address.lower() not in own
                  and not sender_matches(fcfg.senders, a.address)), None)
    if lead.email is None and reply:
        lead = replace(lead, email=normalize_address(reply))
    lead = replace(lead, key="mail:" + facts.identity[:190])
    return record_lead(session, cfg, fcfg.name, lead, received_at=received_at)


# -- the "new lead" mail --------------------------------------------------------------------
@dataclass(frozen=True)
class Notice:
    """A lead to announce to its user."""

    lead_id: int
    deal_id: int | None
    form: str
    user_email: str
    user_name: str | None
    language: str
    data: dict[str, Any]
    received_at: dt.datetime


def pending_notices(factory: sessionmaker[Session], limit: int = 50) -> list[Notice]:
    """Leads whose "new lead" mail has not gone out yet (oldest first, attempts left)."""
    with db.transaction(factory) as s:
        rows = s.execute(select(LeadRow, User).join(User, User.id == LeadRow.user_id)
                         .where(LeadRow.notified_at.is_(None), LeadRow.notify_attempts < MAX_NOTICE_ATTEMPTS)
                         .order_by(LeadRow.id).limit(limit)).all()
        return [Notice(r.id, r.deal_id, r.form, u.email, u.name, u.language, dict(r.data or {}), r.received_at)
                for r, u in rows]


def mark_notice(factory: sessionmaker[Session], lead_id: int, error: str | None) -> None:
    """Record that a lead's notice went out (``error`` None) or failed (retried later)."""
    with db.transaction(factory) as s:
        # SQLite: take the write lock first (a read-then-write transaction fails at once, without
        # waiting, when the worker is committing; BEGIN IMMEDIATE waits for busy_timeout).
        s.connection(execution_options={"immediate": True})
        row = s.get(LeadRow, lead_id)
        if row is None:
            return
        row.notify_attempts = (row.notify_attempts or 0) + 1
        if error is None:
            row.notified_at, row.notify_error = utcnow(), None
        else:
            row.notify_error = error[:2000]


def lead_deal(session: Session, lead_id: int) -> Deal | None:
    """The deal a lead opened."""
    row = session.get(LeadRow, lead_id)
    return session.get(Deal, row.deal_id) if row is not None and row.deal_id else None
