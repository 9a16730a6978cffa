"""Apply one spooled message (and a batch of them) to the store: the use case of ingest, as, as an ordered tuple of stages (house rule 4).

``ingest`` runs inside the worker's single transaction: parse (pure) -> plan (pure) ->
author check (security.author_auth) -> store message and people -> bounce rules -> auto-reply -> signature -> deals.
A stage that must stop the run raises ``Rejected`` (quarantine; only the plan and author stages do,
before anything is written) or returns an outcome.  The new message is not flushed by the store stage:
a stage that needs its id calls ``_persisted``; otherwise the worker flushes the whole batch at once.
"""

from __future__ import annotations

import datetime as dt
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.app import address_commands, answer_outbox, deals, digest_replies, follow_ups, last_touch, leads
from mailcrm.app import bounces as bounce_store
from mailcrm.app import companies as company_store
from mailcrm.app import works as work_store
from mailcrm.app.deals import ThreadDeals
from mailcrm.config import Config, dropbox_matches
from mailcrm.domain.attach import Context, Plan, plan_message
from mailcrm.errors import IngestError, Rejected, StoreUnavailable, Transient, Unprocessable
from mailcrm.ingest.parse_settings import parse_job
from mailcrm.outcomes import Outcome
from mailcrm.parse.addresses import domain_of, is_automated_sender, is_free_mail
from mailcrm.parse.facts import MessageFacts
from mailcrm.spool import SpoolItem, SpoolMeta
from mailcrm.store import db
from mailcrm.store import repository as repo
from mailcrm.store.models import Activity, Contact, Message, utcnow
from mailcrm.trust.author import Judgement, judge, judge_form_sender

STORED = Outcome.STORED
DUPLICATE = Outcome.DUPLICATE
SKIPPED = Outcome.SKIPPED


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
    outcome: Outcome | None = None
    users: dict[str, int | None] = field(default_factory=dict)  # cache: user email -> User.id
    # Identities known to be stored, looked up for a whole batch at once (None: ask the store).
    stored: set[str] | None = None
    # Contacts of the batch's addresses, looked up at once (None: one query per address).
    known: dict[str, Contact] | None = None
    # Deals of the batch's thread keys, looked up at once (None: one query per message).
    threads: ThreadDeals | None = None
    judgement: Judgement | None = None  # the author check (stage_author)
    # A reply to the digest: what it did and whom to answer (sent after the commit; see digest_replies).
    reply: digest_replies.ReplyOutcome | None = None


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


def stage_form_mail(session: Session, job: Job) -> None:
    """A configured form builder's notification mail (or the user's forward of one) becomes a lead."""
    if job.facts is None or not job.cfg.forms or (job.meta.role or "dropbox") != "dropbox":
        return
    found = leads.form_of_mail(job.cfg, job.facts)
    if found is None:
        return
    fcfg, forwarded = found
    if forwarded:
        # The user's forward: the user's proof (stage_author quarantines or flags it when missing,
        # and a flagged forward creates nothing, so it is no lead either).
        if _judgement(job).action != "accept":
            return
    else:
        sender = leads.matched_sender(fcfg, job.facts)
        j = judge_form_sender(job.cfg.security.author_auth, job.meta.source, job.meta.evidence, job.meta.auth,
                              sender, (job.meta.mail_from or "").lower() or None, sender)
        if j.action != "accept":
            raise Rejected(j.reason or "unauthenticated_form_sender")
        job.judgement = j
    job.outcome = leads.lead_from_mail(session, job.cfg, fcfg, job.facts, job.raw, job.now, forwarded=forwarded)


def stage_digest_reply(session: Session, job: Job) -> None:
    """A reply to the digest (to its +digest Reply-To, or referencing one) carries commands, not history;
    so does mail to +pending/+cancel (app/address_commands.py)."""
    if job.facts is None:
        return
    outcome = digest_replies.handle_mail(session, job.cfg, job.meta.rcpt_tos, job.facts, job.raw, job.now)
    if outcome is None:
        outcome = address_commands.handle_mail(session, job.cfg, job.meta.rcpt_tos, job.facts, job.now)
        if outcome is not None and outcome.status == "help":
            job.reply = outcome  # an unknown sub-address: recorded as usual, and answered with the help
            _owe_answer(session, job)
            return
    if outcome is None:
        return
    proof = _judgement(job)  # only a proven author commands (issue 20); "mark" lets none through here
    if proof.action == "quarantine" or proof.flagged:
        raise Rejected(f"command from an unproven author: {proof.reason or 'unauthenticated_author'}")
    if outcome.status == "refused":
        raise Rejected(f"digest reply refused: {outcome.reason}")
    job.reply, job.outcome = outcome, SKIPPED
    _owe_answer(session, job)


def _owe_answer(session: Session, job: Job) -> None:
    """Keep the answer in this transaction (answer_outbox); the daemon sends it after the commit."""
    if job.reply is not None and job.reply.answer_to and job.facts is not None:
        answer_outbox.enqueue(session, job.cfg, job.reply, job.facts, job.now)


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


def _judgement(job: Job) -> Judgement:
    """The author check of this message (pure: the evidence the source recorded, the verdicts)."""
    assert job.facts is not None
    header_from = job.facts.from_.address if job.facts.from_ else None
    envelope = (job.meta.mail_from or "").lower() or None
    login = job.cfg.user_for_address(job.meta.auth_user) if job.meta.auth_user else None
    return judge(job.cfg.security.author_auth, job.meta.source, job.meta.role, job.meta.evidence, job.meta.auth,
                 header_from, envelope, job.cfg.user_addresses(),
                 frozenset(login.all_addresses()) if login is not None else None)


def stage_author(session: Session, job: Job) -> None:
    """Mail claiming a user's address needs proof (security.author_auth); "mark" stores it powerless."""
    assert job.facts is not None and job.plan is not None
    j = job.judgement = _judgement(job)
    if j.action == "quarantine":
        raise Rejected(j.reason or "unauthenticated_author")
    if j.flagged:
        # Stored and flagged, but it creates no contact (and kills no address: stage_bounce).
        job.plan = replace(job.plan, people=tuple(replace(p, create=False) for p in job.plan.people))


def _flagged(job: Job) -> bool:
    return job.judgement is not None and job.judgement.flagged


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
        facts={**facts.to_json(), "envelope": _envelope(job.meta)},
        status="active",
        auth=job.meta.auth,
        author_proof=job.judgement.proof if job.judgement is not None else None,
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
    last_touch.message_stored(session, msg)
    job.message = msg  # flushed with the batch, or by the first stage that needs its id


def _envelope(meta: SpoolMeta) -> dict[str, object]:
    """The SMTP envelope and arrival as the spool recorded them (kept for proof exports, issue 22)."""
    return {"mail_from": meta.mail_from, "rcpt_tos": list(meta.rcpt_tos), "received_at": meta.received_at,
            "source": meta.source, "peer": meta.peer, "auth_user": meta.auth_user,
            "source_ref": dict(meta.source_ref) if meta.source_ref else None}


def _persisted(session: Session, message: Message, *others: object) -> Message:
    """``message`` with its id: flushes the pending message, its bytes and participants, and so
    also ``others`` (rows the caller needs ids of, e.g. a contact created after the message was
    flushed: a forward's original sender seen first in this batch)."""
    if message.id is None or any(getattr(o, "id", 0) is None for o in others):
        session.flush()
    return message


def stage_bounce(session: Session, job: Job) -> None:
    """Apply bounce rules (verified against mail we sent; forged bounces change nothing)."""
    if job.plan is None or job.plan.kind != "bounce" or job.message is None or job.facts is None:
        return
    if _flagged(job):  # an unproven report forwarded "by the user" kills nothing
        return
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
    sender = job.contacts.get(author)
    data = auto.to_json()
    text = "auto-reply" + (f"; back on {auto.until.isoformat()}" if auto.until else "")
    if auto.left_company:
        text += "; address no longer in use" if auto.moved else "; no longer there"
        if auto.new_contacts:
            text += ", write to " + ", ".join(a.address for a in auto.new_contacts)
    proposes = sender is not None and auto.left_company and bool(auto.new_contacts) and not _flagged(job)
    if not proposes:
        # No flush (issue 26): the row waits, like the participants, for the flush that gives the
        # message (and a sender new in this batch) an id.
        repo.add_message_activity(session, msg, sender, kind="autoreply", at=msg.date, text=text, due=auto.until,
                                  data=data)
        return
    _persisted(session, msg, sender)  # the proposals name the contact and the message by id
    cid = sender.id if sender is not None else None
    session.add(Activity(contact_id=cid, message_id=msg.id, user_id=msg.user_id, kind="autoreply", at=msg.date,
                         text=text, due=auto.until, data=data))
    if cid is not None:
        propose = company_store.propose_new_addresses if auto.moved else company_store.propose_new_contacts
        propose(session, cid, auto.new_contacts, reason=f"auto-reply {msg.id}")


def stage_signature(session: Session, job: Job) -> None:
    """Keep the parsed signature and fill empty contact fields from it."""
    facts, plan, msg = job.facts, job.plan, job.message
    if msg is None or facts is None or plan is None or facts.signature is None or not plan.signature_owner:
        return
    if _flagged(job):  # an unproven author edits no contact
        return
    owner = job.contacts.get(plan.signature_owner)
    if owner is None:
        return
    # No flush (issue 26): the signature row waits for the batch flush with the message's other rows.
    company_store.learn_signature(session, owner, msg, facts.signature)


def stage_deals(session: Session, job: Job) -> None:
    """Attach the message to deals of its thread; a "+deal" dropbox sub-address opens one."""
    msg, facts = job.message, job.facts
    if msg is None or facts is None:
        return
    # The +deal address arrives as an SMTP envelope recipient (BCC) or, read over IMAP, in To/Cc.
    rcpts = [*job.meta.rcpt_tos, *(a.address for a in (*facts.to, *facts.cc))]
    if any(_is_deal_address(job.cfg, r) for r in rcpts) and msg.kind in ("sent", "received") and not _flagged(job):
        _persisted(session, msg, *job.contacts.values())  # the deal links the message and its contacts by id
        contact_ids = sorted({c.id for c in job.contacts.values() if c.id is not None})
        deals.open_deal_from_message(session, msg.user_id, msg, contact_ids,
                                     facts.subject or "(no subject)", threads=job.threads)
    else:
        deals.attach_message_to_deals(session, msg, threads=job.threads)


def stage_works(session: Session, job: Job) -> None:
    """Works in a sent copy go to the outreach ledger (repeats warn); an answer moves it (issue 22)."""
    msg, facts, plan = job.message, job.facts, job.plan
    if msg is None or facts is None or plan is None:
        return
    pattern = job.cfg.works.subject_pattern or None
    if plan.kind == "sent":
        with session.no_autoflush:  # most sent mail names no work: no flush, at most one lookup
            names = work_store.work_names(facts, pattern, session)
        recipients = [(p.address, job.contacts[p.address]) for p in plan.people
                      if p.direction == "out" and p.role in ("to", "cc") and p.address in job.contacts]
        if names and recipients:
            _persisted(session, msg)  # the ledger names the message and contacts by id
            work_store.record_sent(session, msg, facts, recipients, window_days=job.cfg.works.warn_window_days,
                                   names=names)
    elif plan.kind == "bounce" and facts.bounce is not None and facts.bounce.original_message_ids:
        sends = work_store.bounced_sends(session, facts)  # most bounces are of mail that carried no work
        if sends:
            _persisted(session, msg)
            work_store.record_bounce(session, msg, facts, sends)
    elif plan.kind == "received":
        # A forwarded answer is planned as received from the original's author.
        forwarded = facts.kind == "forward"
        role = "original_from" if forwarded else "from"
        author = next((p.address for p in plan.people if p.role == role and p.direction == "in"), None)
        contact = job.contacts.get(author) if author else None
        # A contact created by this very batch has received no work yet: no query, no flush.
        if contact is None or contact.id is None or not work_store.has_works(session, contact.id):
            return
        # Which works it answers first (cached per batch, no flush): most mail answers none.
        work_ids = work_store.answered_works(session, msg, facts, contact, forwarded=forwarded)
        if work_ids:
            _persisted(session, msg)
            in_deal = job.threads.deal(session, msg.thread_key) is not None if job.threads is not None else None
            work_store.record_answer(session, msg, facts, contact, forwarded=forwarded, work_ids=work_ids,
                                     in_deal=in_deal)


def stage_follow_up(session: Session, job: Job) -> None:
    """A dated dropbox sub-address (crm+<secret>+3d@, see parse/subaddress.py) adds a follow-up row."""
    msg, facts = job.message, job.facts
    if msg is None or facts is None or msg.kind not in ("sent", "received"):
        return
    rcpts = [*job.meta.rcpt_tos, *(a.address for a in (*facts.to, *facts.cc))]
    if follow_ups.follow_up_word(job.cfg, rcpts) is not None:
        follow_ups.record(session, job.cfg, _persisted(session, msg), rcpts, job.now)


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
    stage_form_mail,
    stage_digest_reply,  # commands: obeyed only from a proven author (it judges like stage_author)
    stage_plan,
    stage_author,
    stage_store,
    stage_bounce,
    stage_autoreply,
    stage_signature,
    stage_deals,
    stage_works,
    stage_follow_up,
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


class _BatchFailed(Exception):
    """A message failed in a batch applied without savepoints: apply it again, carefully."""


def apply_batch(factory: sessionmaker[Session], cfg: Config, items: Sequence[SpoolItem], raws: Mapping[str, bytes],
                parsed: Mapping[str, MessageFacts], failures: Mapping[str, IngestError],
                users: dict[str, int | None]) -> tuple[dict[str, Job], dict[str, IngestError]]:
    """Apply a parsed batch in one transaction (group commit); returns the jobs and the failed items' errors.

    First without savepoints, one flush for the whole batch; if any message in it fails, that
    transaction is rolled back and the batch is applied again with one savepoint per message, so
    the failing one rolls back alone (its error returned: ``Transient`` to retry, any other
    ``IngestError`` to quarantine).  ``parsed`` maps item ids to facts;
    ``failures`` holds the items that could not be read or parsed (they are left alone).  A database outage raises.
    """
    try:
        return _batch(factory, cfg, items, raws, parsed, dict(failures), users, careful=False)
    except _BatchFailed:
        return _batch(factory, cfg, items, raws, parsed, dict(failures), users, careful=True)


def _batch(factory: sessionmaker[Session], cfg: Config, items: Sequence[SpoolItem], raws: Mapping[str, bytes],
           parsed: Mapping[str, MessageFacts], failures: dict[str, IngestError], users: dict[str, int | None],
           careful: bool) -> tuple[dict[str, Job], dict[str, IngestError]]:
    """One transaction over the batch; returns the jobs and the failed items' errors.

    ``careful=False``: no savepoints; the first message that fails (or a failing final
    flush) raises ``_BatchFailed`` after rolling everything back.
    """
    failures = dict(failures)
    jobs: dict[str, Job] = {}
    with db.transaction(factory) as session:
        # SQLite: take the write lock up front.  A deferred transaction that read first
        # fails at once ("database is locked", no busy wait) when an IMAP thread commits a
        # checkpoint meanwhile; BEGIN IMMEDIATE waits for busy_timeout instead.
        session.connection(execution_options={"immediate": True})
        repo.number_messages_before_flush(session)  # we hold the write lock: ids known before the INSERT
        facts_list = [f for i, f in parsed.items() if i not in failures]
        people = [a for f in facts_list for a in _people(f)]
        # PostgreSQL with several daemons: lock what this batch may write, in one order, before
        # reading anything (no deadlock, no unique-key race).  The users' own addresses are
        # never created nor updated here, and locking them would serialise every batch.
        own = cfg.user_addresses() | cfg.dropbox_addresses()
        free_extra = frozenset(d.lower() for d in cfg.ingest.free_mail_domains)  # no company for these
        others = [a for a in people if a not in own]
        repo.lock_keys(session, identities=[f.identity for f in facts_list], addresses=others,
                       domains=[domain_of(a) for a in others if not is_free_mail(a, free_extra)],
                       company_names=[f.signature.company for f in facts_list
                                      if f.signature is not None and f.signature.company])
        # One lookup of the batch's identities instead of one per message; a message
        # applied below joins the set, so a second copy in the same batch is a duplicate.
        stored = repo.stored_identities(session, [f.identity for f in facts_list])
        # Likewise the contacts of the people named (one query, not one per participant).
        known = repo.contacts_by_address(session, people)
        # And the domain companies that new contacts among them would join.
        repo.companies_by_domain(session, [domain_of(a) for a in people if a not in known])
        # And the companies the batch's signatures name (one query, not one per signature).
        repo.companies_by_name(session, [f.signature.company for f in facts_list
                                         if f.signature is not None and f.signature.company])
        # And which contacts among them received a work (answers move the outreach ledger), and
        # which references name a digest (a reply to it carries commands): one query each.
        work_store.contacts_with_works(session, [c.id for c in known.values() if c.id is not None])
        # And, for those, the works sent in the batch's threads and to them (what answers match).
        work_store.load_answer_context(session, [f.thread_key[:1000] for f in facts_list],
                                       [c.id for c in known.values()
                                        if c.id is not None and work_store.has_works(session, c.id)])
        company_store.pending_proposals(session, [c.id for c in known.values() if c.id is not None])
        repo.load_companies(session, [c.company_id for c in known.values()])  # what signatures compare with
        digest_replies.digests_referenced(session, [r for f in facts_list for r in (f.in_reply_to, *f.references) if r])
        # And which of the batch's threads belong to a deal (most belong to none).
        thread_keys = [f.thread_key for f in facts_list]
        parents = [r for f in facts_list for r in dict.fromkeys([f.in_reply_to, *f.references]) if r][:5000]
        threads = ThreadDeals.load(session, thread_keys).load_parents(session, parents)
        for item in items:
            if item.id in failures:
                continue
            facts = parsed[item.id]
            savepoint = session.begin_nested() if careful else None
            try:
                jobs[item.id] = ingest(session, cfg, item.meta, raws[item.id], users=users, facts=facts,
                                       stored=stored, known=known, threads=threads)
                if savepoint is not None:
                    session.flush()  # a failing insert is this message's, inside its savepoint
                    savepoint.commit()
                if jobs[item.id].outcome == Outcome.STORED:
                    stored.add(facts.identity)
            except (StoreUnavailable, OperationalError):
                raise
            except Rejected as exc:  # refused by the plan stage, before it wrote anything
                if savepoint is not None:
                    savepoint.rollback()
                failures[item.id] = _failure(exc)
            except Exception as exc:  # noqa: BLE001 - one bad message must never stop the worker
                if savepoint is None:
                    raise _BatchFailed() from exc
                savepoint.rollback()
                failures[item.id] = _failure(exc)
                # Contacts and deal threads the failed message created are gone with its savepoint,
                # and so may be sends the answer caches learnt.
                work_store.forget_answer_context(session)
                known = known.still_in(session)
                threads = ThreadDeals.load(session, thread_keys)
        if not careful:
            try:
                session.flush()  # the batch's messages, bytes and participants together
            except (StoreUnavailable, OperationalError):
                raise
            except Exception as exc:  # noqa: BLE001 - e.g. a concurrent writer stored one first
                raise _BatchFailed() from exc
    return jobs, failures


def _people(facts: MessageFacts) -> list[str]:
    """The addresses a message names (author, recipients, a forwarded original's people)."""
    fwd = facts.forwarded
    groups = [(facts.from_,), facts.to, facts.cc, (fwd.from_,) + fwd.to + fwd.cc if fwd else ()]
    return [a.address for group in groups for a in group if a is not None]


def _failure(exc: Exception) -> IngestError:
    """The error of a message whose savepoint failed with ``exc``."""
    if isinstance(exc, Rejected):
        return Rejected(f"rejected: {exc}")
    if isinstance(exc, IntegrityError):
        # A concurrent writer (another daemon, IMAP + SMTP copies) won the race.
        return Transient(f"conflict: {str(exc.orig).splitlines()[0] if exc.orig else exc}")
    if isinstance(exc, RecursionError):
        return Unprocessable("message nested too deeply (recursion limit)")
    tb = traceback.extract_tb(exc.__traceback__)[-1]
    where = f"{tb.filename.rsplit('/', 1)[-1]}:{tb.lineno}"
    return Unprocessable(f"error: {type(exc).__name__}: {str(exc)[:300]} at {where}")
