"""One spooled message -> store writes, as an ordered tuple of stages (house rule 4).

``ingest`` runs inside the worker's single transaction: parse (pure) -> plan (pure) ->
store message and people -> bounce rules -> auto-reply -> signature -> deals.
A stage that must stop the run raises ``Rejected`` (quarantine; only the plan stage does, before
anything is written) or returns an outcome.  The new message is not flushed by the store stage:
a stage that needs its id calls ``_persisted``; otherwise the worker flushes the whole batch at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from mailcrm.config import Config, dropbox_matches
from mailcrm.domain.attach import Context, Plan, is_automated_sender, plan_message
from mailcrm.errors import Rejected
from mailcrm.parse.facts import MessageFacts
from mailcrm.parse.message import parse_message
from mailcrm.spool import SpoolMeta
from mailcrm.store import repository as repo
from mailcrm.store.models import Activity, Contact, Message, utcnow

if TYPE_CHECKING:
    from mailcrm.store.deals import ThreadDeals

STORED = "stored"
DUPLICATE = "duplicate"
SKIPPED = "skipped"


@dataclass
class Job:
    """The state that flows through the stages for one message."""

    cfg: Config
    meta: SpoolMeta
    raw: bytes
    now: dt.datetime
    facts: MessageFacts | None = None
    plan: Plan | None = None
    message: Message | None = None
    contacts: dict[str, Contact] = field(default_factory=dict)  # address -> contact (a new one may be unflushed)
    outcome: str | None = None
    users: dict[str, int | None] = field(default_factory=dict)  # cache: user email -> User.id
    # Identities known to be stored, looked up for a whole batch at once (None: ask the store).
    stored: set[str] | None = None
    # Contacts of the batch's addresses, looked up at once (None: one query per address).
    known: dict[str, Contact] | None = None
    # Deals of the batch's thread keys, looked up at once (None: one query per message).
    threads: ThreadDeals | None = None


@dataclass(frozen=True)
class ParseSettings:
    """What the pure parser needs from the config (plain data: it crosses to parser processes)."""

    user_addresses: frozenset[str]
    dropbox_addresses: frozenset[str]
    region: str

    @classmethod
    def of(cls, cfg: Config) -> "ParseSettings":
        """The settings for ``cfg``."""
        return cls(cfg.user_addresses(), cfg.dropbox_addresses(), cfg.users[0].phone_region if cfg.users else "RU")

    def parse(self, meta: SpoolMeta, raw: bytes) -> MessageFacts:
        """Parse with the users' addresses (pure; never raises)."""
        return parse_message(
            raw,
            user_addresses=self.user_addresses,
            dropbox_addresses=self.dropbox_addresses | frozenset(a.lower() for a in meta.rcpt_tos),
            region=self.region,
        )


def parse_job(cfg: Config, meta: SpoolMeta, raw: bytes) -> MessageFacts:
    """Parse with the users' addresses (pure; never raises)."""
    return ParseSettings.of(cfg).parse(meta, raw)


def _context(cfg: Config, meta: SpoolMeta) -> Context:
    role = meta.role or "dropbox"
    create = role in ("dropbox",) or bool(meta.source_ref.get("create_contacts"))
    return Context(
        user_addresses=cfg.user_addresses(),
        dropbox_addresses=cfg.dropbox_addresses(),
        role=role,
        create_contacts=create,
        envelope_from=meta.mail_from,
    )


def stage_plan(session: Session, job: Job) -> None:
    """Decide what the message means; refuse unknown authors on the dropbox."""
    assert job.facts is not None
    ctx = _context(job.cfg, job.meta)
    plan = plan_message(job.facts, ctx, job.now)
    if plan.reject_reason:
        raise Rejected(plan.reject_reason)
    if plan.skip_reason:
        job.outcome = SKIPPED
    if ctx.role in ("inbox", "sent") and plan.kind in ("received", "sent"):
        # Privacy first: inbox/sent folders only add to what the CRM already knows.
        with session.no_autoflush:  # earlier messages of the batch (and their new contacts) may stay pending
            known = [p for p in plan.people if p.create or repo.find_contact(session, p.address, job.known) is not None]
        if not known:
            job.outcome = SKIPPED
    job.plan = plan


def stage_store(session: Session, job: Job) -> None:
    """Insert the message (idempotent by identity), its raw bytes and its participants."""
    facts, plan = job.facts, job.plan
    assert facts is not None and plan is not None
    if (facts.identity in job.stored if job.stored is not None
            else repo.message_by_identity(session, facts.identity) is not None):
        job.outcome = DUPLICATE
        return
    email = _primary(job.cfg, plan.user_address)
    if email not in job.users:
        job.users[email or ""] = repo.user_id_for(session, email)
    user_id = job.users.get(email or "")
    msg = Message(
        identity=facts.identity,
        message_id=facts.message_id,
        sha256=facts.sha256,
        user_id=user_id,
        kind=plan.kind,
        direction=plan.direction,
        date=plan.date,
        subject=facts.subject[:2000],
        snippet=facts.snippet,
        thread_key=facts.thread_key[:1000],
        in_reply_to=facts.in_reply_to,
        source=job.meta.source[:100],
        size=facts.size,
        facts=facts.to_json(),
        status="active",
    )
    repo.add_message(session, msg, job.raw)
    free_extra = frozenset(d.lower() for d in job.cfg.ingest.free_mail_domains)
    seen: set[tuple[str, str]] = set()
    with session.no_autoflush:  # lookups need not flush the pending message (nor new contacts)
        for p in plan.people:
            if (p.address, p.role) in seen:
                continue
            seen.add((p.address, p.role))
            if p.create and not is_automated_sender(p.address):
                # A new contact stays pending until the batch flushes (found again through
                # job.known); its id is read when the participant row is written.
                contact: Contact | None = repo.find_or_create_contact(
                    session, p.address, p.name, free_mail_extra=free_extra, known=job.known,
                    flush=job.known is None)
            else:
                contact = repo.find_contact(session, p.address, job.known)
            if contact is not None:
                job.contacts[p.address] = contact
            repo.add_participant(session, msg, p.address, p.name, contact, p.role, p.direction)
            if p.direction == "in" and plan.kind == "received":
                repo.mark_inbound(session, p.address, msg.date, contact)
    job.message = msg  # flushed with the batch, or by the first stage that needs its id


def _persisted(session: Session, message: Message) -> Message:
    """``message`` with its id: flushes the pending message, its bytes and participants."""
    if message.id is None:
        session.flush()
    return message


def stage_bounce(session: Session, job: Job) -> None:
    """Apply bounce rules (verified against mail we sent; forged bounces change nothing)."""
    if job.plan is None or job.plan.kind != "bounce" or job.message is None or job.facts is None:
        return
    from mailcrm.store import bounces as bounce_store

    bounce_store.apply_bounce(session, job.cfg, _persisted(session, job.message), job.facts)


def stage_autoreply(session: Session, job: Job) -> None:
    """Record an auto-reply on the sender's contact (never creates a contact)."""
    facts, msg, plan = job.facts, job.message, job.plan
    if msg is None or facts is None or facts.autoreply is None or plan is None:
        return
    # Its author: the sender, or the original's author when the user forwarded it.
    author = next((p.address for p in plan.people if p.role == "autoreply"), None)
    if author is None:
        return
    auto = facts.autoreply
    _persisted(session, msg)  # also gives the contacts of the message their ids
    sender = job.contacts.get(author)
    cid = sender.id if sender is not None else None
    data = auto.to_json()
    text = "auto-reply" + (f"; back on {auto.until.isoformat()}" if auto.until else "")
    if auto.left_company:
        text += "; address no longer in use" if auto.moved else "; no longer there"
        if auto.new_contacts:
            text += ", write to " + ", ".join(a.address for a in auto.new_contacts)
    session.add(Activity(contact_id=cid, message_id=msg.id, user_id=msg.user_id, kind="autoreply", at=msg.date,
                         text=text, due=auto.until, data=data))
    if cid is not None and auto.left_company and auto.new_contacts:
        from mailcrm.store import companies as company_store

        propose = company_store.propose_new_addresses if auto.moved else company_store.propose_new_contacts
        propose(session, cid, auto.new_contacts, reason=f"auto-reply {msg.id}")


def stage_signature(session: Session, job: Job) -> None:
    """Keep the parsed signature and fill empty contact fields from it."""
    facts, plan, msg = job.facts, job.plan, job.message
    if msg is None or facts is None or plan is None or facts.signature is None or not plan.signature_owner:
        return
    owner = job.contacts.get(plan.signature_owner)
    if owner is None:
        return
    _persisted(session, msg)  # also gives the owner's contact its id
    from mailcrm.store import companies as company_store

    company_store.learn_signature(session, owner.id, msg, facts.signature)


def stage_deals(session: Session, job: Job) -> None:
    """Attach the message to deals of its thread; a "+deal" dropbox sub-address opens one."""
    msg, facts = job.message, job.facts
    deals = _deal_store()
    if msg is None or facts is None or deals is None:
        return
    # The +deal address arrives as an SMTP envelope recipient (BCC) or, read over IMAP, in To/Cc.
    rcpts = [*job.meta.rcpt_tos, *(a.address for a in (*facts.to, *facts.cc))]
    if any(_is_deal_address(job.cfg, r) for r in rcpts) and msg.kind in ("sent", "received"):
        _persisted(session, msg)  # the deal links the message and its contacts by id
        contact_ids = sorted({c.id for c in job.contacts.values() if c.id is not None})
        deals.open_deal_from_message(session, msg.user_id, msg, contact_ids,
                                     facts.subject or "(no subject)", threads=job.threads)
    else:
        deals.attach_message_to_deals(session, msg, threads=job.threads)


_DEALS: list[object] = []


def _deal_store():  # type: ignore[no-untyped-def]
    """mailcrm.store.deals, imported once (None while that module is absent)."""
    if not _DEALS:
        try:
            from mailcrm.store import deals
        except ImportError:
            deals = None  # type: ignore[assignment]
        _DEALS.append(deals)
    return _DEALS[0]


def _is_deal_address(cfg: Config, rcpt: str) -> bool:
    rcpt = rcpt.lower()
    local = rcpt.partition("@")[0]
    return local.endswith("+deal") and any(dropbox_matches(u.dropbox, rcpt) for u in cfg.users)


def _primary(cfg: Config, address: str | None) -> str | None:
    if not address:
        return cfg.users[0].email if len(cfg.users) == 1 else None
    user = cfg.user_for_address(address)
    return user.email if user else None


STAGES: tuple[Callable[[Session, Job], None], ...] = (
    stage_plan,
    stage_store,
    stage_bounce,
    stage_autoreply,
    stage_signature,
    stage_deals,
)


def ingest(session: Session, cfg: Config, meta: SpoolMeta, raw: bytes, now: dt.datetime | None = None,
           users: dict[str, int | None] | None = None, facts: MessageFacts | None = None,
           stored: set[str] | None = None, known: dict[str, Contact] | None = None,
           threads: ThreadDeals | None = None) -> Job:
    """Run every stage for one message inside the caller's transaction; returns the job.

    ``facts``: the message already parsed (by a parser process, see ``parse_pool``); parsed here
    otherwise.  ``stored``: the identities already in the store, when the caller looked them up
    for a batch (it must add each message it commits).  ``known``: the contacts of the batch's
    addresses (``repository.contacts_by_address``); contacts created here are added.
    ``threads``: the deals of the batch's thread keys (``deals.ThreadDeals.load``).
    """
    job = Job(cfg=cfg, meta=meta, raw=raw, now=now or utcnow(), users=users if users is not None else {},
              stored=stored, known=known, threads=threads)
    job.facts = facts if facts is not None else parse_job(cfg, meta, raw)
    for stage in STAGES:
        stage(session, job)
        if job.outcome is not None:
            break
    if job.outcome is None:
        job.outcome = STORED
    return job
