"""Works and the outreach ledger while ingesting, inside the caller's transaction (never commits).

``record_sent``: a sent copy names works (attachments, subject titles); each recipient gets a
``work_sends`` row, its ``work_recipients`` summary moves, a ledger entry is appended and, when
the work already went to that person or a colleague at the same company within
``works.warn_window_days``, a ``work_warnings`` row waits for the warning mail.
``record_answer``: a reply in the thread of a sent work (or a forwarded answer) moves the answer.

Matching (never merges two different files with different titles by itself): the same bytes
are the same work; else the same normalised name (``parse.works.key_of``) is; else a new work.
A file whose bytes are known under another work keeps that work and adds its name as an alias
only when no other work owns that name.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from mailcrm.domain import outreach as rules
from mailcrm.parse.answers import classify_answer
from mailcrm.parse.facts import MessageFacts
from mailcrm.parse.works import WorkName, key_of, stem_key, works_of
from mailcrm.store.models import (
    Company,
    Contact,
    DealThread,
    LedgerEntry,
    Message,
    Work,
    WorkAlias,
    WorkFile,
    WorkRecipient,
    WorkSend,
    WorkWarning,
    utcnow,
)


# -- works ---------------------------------------------------------------------------------------
def resolve(session: Session, work: Work) -> Work:
    """Follow ``merged_into`` to the work that stands now."""
    seen = set()
    while work.status == "merged" and work.merged_into_id and work.id not in seen:
        seen.add(work.id)
        nxt = session.get(Work, work.merged_into_id)
        if nxt is None:
            break
        work = nxt
    return work


def find_or_create_work(session: Session, name: WorkName, at: dt.datetime, *, size: int = 0,
                        doc_title: str | None = None) -> Work:
    """The work a named file or title belongs to (created when new); records its file and alias."""
    with session.no_autoflush:
        alias = session.get(WorkAlias, name.key)
        wfile = session.get(WorkFile, name.sha256) if name.sha256 else None
        # The document's own title (PDF/DOCX metadata) finds a known work when the file name does not;
        # it never founds a work or an alias by itself (such titles are often "Document1").
        titled = (session.get(WorkAlias, key_of(doc_title)) if doc_title and key_of(doc_title) else None)
    work: Work | None = None
    if wfile is None and alias is None and titled is not None:
        work = session.get(Work, titled.work_id)
        _noted_alias(session)
        session.add(WorkAlias(key=name.key, work_id=titled.work_id, title=name.title[:500], source=name.source))
    elif wfile is not None:
        work = session.get(Work, wfile.work_id)
        if alias is None:  # same bytes, a new name: an alias of the same work
            _noted_alias(session)
            session.add(WorkAlias(key=name.key, work_id=wfile.work_id, title=name.title[:500], source=name.source))
    elif alias is not None:
        work = session.get(Work, alias.work_id)
    if work is None:
        work = Work(title=name.title[:500], status="active", created_at=at)
        session.add(work)
        session.flush()
        if alias is None:
            _noted_alias(session)
            session.add(WorkAlias(key=name.key, work_id=work.id, title=name.title[:500], source=name.source))
    work = resolve(session, work)
    if name.sha256 and wfile is None:
        session.add(WorkFile(sha256=name.sha256, work_id=work.id, file_name=(name.file_name or name.title)[:500],
                             size=size, doc_title=(doc_title or None) and doc_title[:500], first_seen=at))
    return work


def work_names(facts: MessageFacts, pattern: str | None,
               session: Session | None = None) -> list[tuple[WorkName, int, str | None]]:
    """The works a message names, each with its file size and document title (0/None for titles).

    An uncued subject title ("Встреча в «Пушкине»") counts only when ``session`` knows a work of that name.
    """
    files = {(f.name, f.sha256): f for f in facts.files}
    names = works_of(facts.subject or "", tuple(files), pattern)
    out = []
    for n in names:
        if not n.cued and (session is None or session.get(WorkAlias, n.key) is None):
            continue  # a quoted name with nothing saying it is a work, and no work of that name yet
        f = files.get((n.file_name or "", n.sha256 or ""))
        out.append((n, f.size if f else 0, f.doc_title if f else None))
    return out


# -- the ledger ----------------------------------------------------------------------------------
def append_entry(session: Session, *, at: dt.datetime, kind: str, work_id: int | None = None,
                 contact_id: int | None = None, company_id: int | None = None, message_id: int | None = None,
                 data: dict[str, Any] | None = None, flush: bool = True) -> LedgerEntry:
    """Append one entry to the chain (seq and prev_hash from the newest entry; a race fails on the unique seq).

    The newest entry is asked of the store once a transaction and then remembered (``_LEDGER_TAIL``,
    forgotten on commit and on any rollback).  ``flush=False``: the entry waits for the next flush
    (an answer or a bounce of an ingest batch: nothing reads it back before the batch flush).
    """
    tail: tuple[int, str] | None = session.info.get(_LEDGER_TAIL)
    if tail is None:
        last = session.execute(select(LedgerEntry.seq, LedgerEntry.hash).order_by(LedgerEntry.seq.desc())
                               .limit(1)).first()
        tail = (last[0], last[1]) if last else (0, rules.GENESIS)
    seq, prev = tail[0] + 1, tail[1]
    at = at.replace(microsecond=0)
    data = data or {}
    content = rules.entry_content(seq, at, kind, work_id, contact_id, company_id, message_id, data)
    entry = LedgerEntry(seq=seq, at=at, kind=kind, work_id=work_id, contact_id=contact_id, company_id=company_id,
                        message_id=message_id, data=data, prev_hash=prev, hash=rules.entry_hash(prev, content))
    session.add(entry)
    session.info[_LEDGER_TAIL] = (seq, entry.hash)
    if flush:
        session.flush()
    return entry


_LEDGER_TAIL = "mailcrm.ledger_tail"  # (seq, hash) of the newest entry, this transaction


@event.listens_for(Session, "after_commit")
def _forget_tail_at_commit(session: Session) -> None:
    """Another transaction may append next: ask the store again."""
    session.info.pop(_LEDGER_TAIL, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_tail_at_rollback(session: Session, previous_transaction: Any) -> None:
    """Entries of a rolled-back transaction or savepoint are gone: ask the store again."""
    session.info.pop(_LEDGER_TAIL, None)


def chain_entry(e: LedgerEntry) -> rules.ChainEntry:
    """A stored entry as the pure chain check reads it."""
    content = rules.entry_content(e.seq, e.at, e.kind, e.work_id, e.contact_id, e.company_id, e.message_id,
                                  dict(e.data or {}))
    return rules.ChainEntry(e.seq, content, e.prev_hash, e.hash)


def verify_ledger(session: Session) -> list[str]:
    """Walk the whole stored chain; problems ([] when no entry was changed, removed or reordered)."""
    entries = session.scalars(select(LedgerEntry).order_by(LedgerEntry.seq)).all()
    return rules.verify_chain((chain_entry(e) for e in entries), complete=True)


# -- ingest: sent copies -------------------------------------------------------------------------
def _prior(session: Session, work_id: int, contact: Contact) -> list[rules.PriorSend]:
    q = (select(WorkRecipient, Contact.name, Company.name)
         .join(Contact, Contact.id == WorkRecipient.contact_id)
         .outerjoin(Company, Company.id == WorkRecipient.company_id)
         .where(WorkRecipient.work_id == work_id))
    if contact.company_id is not None:
        q = q.where((WorkRecipient.contact_id == contact.id) | (WorkRecipient.company_id == contact.company_id))
    else:
        q = q.where(WorkRecipient.contact_id == contact.id)
    out = []
    for wr, name, company in session.execute(q):
        address = session.scalar(select(WorkSend.address).where(WorkSend.work_id == work_id,
                                                               WorkSend.contact_id == wr.contact_id)
                                 .order_by(WorkSend.at.desc()).limit(1)) or ""
        out.append(rules.PriorSend(wr.contact_id, name, address, company, wr.first_sent, wr.last_sent, wr.times,
                                   wr.answer, wr.answer_at, wr.answer_text))
    return out


def has_works(session: Session, contact_id: int) -> bool:
    """Has any work been sent to this contact (without flushing the session).

    After ``contacts_with_works`` (the ingest batch asks once for its contacts), a contact found
    then costs no query, nor does one without works (``record_sent`` adds the contacts it sends to).
    """
    known: set[int] | None = session.info.get(_WITH_WORKS)
    if known is not None:
        if contact_id in known:
            return True
        if contact_id in session.info.get(_WORKS_LOOKED_UP, ()) and not session.info.get(_WORKS_SENT):
            return False
    with session.no_autoflush:
        return session.scalar(select(WorkRecipient.work_id).where(WorkRecipient.contact_id == contact_id)
                              .limit(1)) is not None


_WITH_WORKS = "mailcrm.contacts_with_works"
_WORKS_LOOKED_UP = "mailcrm.contacts_works_looked_up"
_WORKS_SENT = "mailcrm.works_sent_in_transaction"


def contacts_with_works(session: Session, contact_ids: Iterable[int]) -> None:
    """Look up which of ``contact_ids`` received a work, in one query (per 500), for ``has_works``."""
    ids = sorted({i for i in contact_ids if i is not None})
    found: set[int] = session.info.setdefault(_WITH_WORKS, set())
    with session.no_autoflush:
        for i in range(0, len(ids), 500):
            found.update(session.scalars(select(WorkRecipient.contact_id).distinct()
                                         .where(WorkRecipient.contact_id.in_(ids[i:i + 500]))))
    session.info.setdefault(_WORKS_LOOKED_UP, set()).update(ids)


def record_sent(session: Session, msg: Message, facts: MessageFacts, recipients: Sequence[tuple[str, Contact]],
                *, window_days: int, pattern: str | None = None,
                names: list[tuple[WorkName, int, str | None]] | None = None) -> list[WorkWarning]:
    """Record the works of a sent copy for each recipient contact; returns the warnings raised."""
    names = names if names is not None else work_names(facts, pattern, session)
    if not names or not recipients:
        return []
    warnings: list[WorkWarning] = []
    at = msg.date
    done: set[tuple[int, str]] = set()
    for name, size, doc_title in names:
        work = find_or_create_work(session, name, at, size=size, doc_title=doc_title)
        todo = [(a, c) for a, c in recipients if (work.id, a) not in done and c.id is not None]
        # What was known before this message: colleagues on the same To/Cc line are not a repeat.
        before = {a: rules.repeats(_prior(session, work.id, c), at, window_days) for a, c in todo}
        for address, contact in todo:
            done.add((work.id, address))
            priors = before[address]
            if priors:
                company = session.get(Company, contact.company_id) if contact.company_id else None
                data = {"title": work.title, "to": address, "to_name": contact.name,
                        "company": company.name if company else None,
                        "priors": [{"address": p.address, "name": p.name, "company": p.company,
                                    "first_sent": p.first_sent.isoformat(), "last_sent": p.last_sent.isoformat(),
                                    "times": p.times, "answer": p.answer,
                                    "answer_at": p.answer_at.isoformat() if p.answer_at else None,
                                    "answer_text": (p.answer_text or "")[:500] or None} for p in priors]}
                w = WorkWarning(user_id=msg.user_id, work_id=work.id, message_id=msg.id, data=data, status="pending",
                                created_at=utcnow())
                session.add(w)
                warnings.append(w)
            session.add(WorkSend(work_id=work.id, message_id=msg.id, address=address, contact_id=contact.id,
                                 company_id=contact.company_id, at=at, via=name.source, key=name.key,
                                 file_sha256=name.sha256))
            if contact.id is not None:
                _noted_send(session, msg.thread_key, work.id, contact.id)
            # No autoflush: the send just added waits for the ledger entry's flush below; a summary
            # added for an earlier address of this contact went out with such a flush, so it is found.
            with session.no_autoflush:
                wr = session.get(WorkRecipient, (work.id, contact.id))
            if wr is None:
                with_works: set[int] | None = session.info.get(_WITH_WORKS)
                if with_works is not None:
                    with_works.add(contact.id)  # has_works knows it without asking the store
                else:
                    session.info[_WORKS_SENT] = True  # has_works asks the store again from now on
                session.add(WorkRecipient(work_id=work.id, contact_id=contact.id, company_id=contact.company_id,
                                          first_sent=at, last_sent=at, times=1, answer="none", answer_by_user=False,
                                          bounced=False))
            else:
                wr.times += 1
                wr.first_sent, wr.last_sent = min(wr.first_sent, at), max(wr.last_sent, at)
                wr.company_id = contact.company_id
            append_entry(session, at=at, kind="sent", work_id=work.id, contact_id=contact.id,
                         company_id=contact.company_id, message_id=msg.id,
                         data={"address": address, "via": name.source, "name": name.title[:200],
                               "file_sha256": name.sha256, "message_sha256": msg.sha256,
                               "repeat": bool(priors)})
    return warnings


# -- ingest: answers -----------------------------------------------------------------------------
# Per-transaction caches of what answers are matched against (``load_answer_context``): the works
# sent in the batch's threads, and each contact's works with their names.  ``record_sent`` and
# ``find_or_create_work`` keep them true; ``forget_answer_context`` drops them (a savepoint rollback).
_THREAD_SENDS = "mailcrm.thread_work_sends"  # thread key -> {contact id: [work id, ...]}
_SENT_TO = "mailcrm.works_sent_to"  # contact id -> [(work id, alias key), ...], the latest send first


def load_answer_context(session: Session, thread_keys: Iterable[str], contact_ids: Iterable[int]) -> None:
    """Look up, in one query each (per 500), the works sent in ``thread_keys`` and to ``contact_ids``.

    ``record_answer`` then asks nothing for those keys and contacts (a batch of received mail,
    most of it no answer to a work, would otherwise cost two queries a message).
    """
    keys = sorted({k for k in thread_keys if k})
    ids = sorted({i for i in contact_ids if i is not None})
    threads: dict[str, dict[int, list[int]]] = session.info.setdefault(_THREAD_SENDS, {})
    sent_to: dict[int, list[tuple[int, str]]] = session.info.setdefault(_SENT_TO, {})
    with session.no_autoflush:
        for i in range(0, len(keys), 500):
            chunk = keys[i:i + 500]
            for k in chunk:
                threads.setdefault(k, {})
            for key, cid, wid in session.execute(
                    select(Message.thread_key, WorkSend.contact_id, WorkSend.work_id)
                    .join(Message, Message.id == WorkSend.message_id)
                    .where(Message.thread_key.in_(chunk), WorkSend.contact_id.is_not(None))
                    .order_by(WorkSend.id)):
                if cid is None:
                    continue
                works = threads[key].setdefault(cid, [])
                if wid not in works:
                    works.append(wid)
        for i in range(0, len(ids), 500):
            chunk_ids = ids[i:i + 500]
            for cid in chunk_ids:
                sent_to.setdefault(cid, [])
            for cid, wid, key in session.execute(_sent_to_query().where(WorkRecipient.contact_id.in_(chunk_ids))):
                sent_to[cid].append((wid, key))


def forget_answer_context(session: Session) -> None:
    """Drop the caches of ``load_answer_context`` (rows they hold may have been rolled back)."""
    session.info.pop(_THREAD_SENDS, None)
    session.info.pop(_SENT_TO, None)


def _sent_to_query() -> Any:
    return (select(WorkRecipient.contact_id, WorkRecipient.work_id, WorkAlias.key)
            .join(WorkAlias, WorkAlias.work_id == WorkRecipient.work_id)
            .order_by(WorkRecipient.last_sent.desc()))


def _thread_works(session: Session, thread_key: str, contact_id: int) -> list[int]:
    threads: dict[str, dict[int, list[int]]] = session.info.get(_THREAD_SENDS, {})
    cached = threads.get(thread_key)
    if cached is not None:
        return list(cached.get(contact_id, ()))
    return list(session.scalars(
        select(WorkSend.work_id).join(Message, Message.id == WorkSend.message_id)
        .where(Message.thread_key == thread_key, WorkSend.contact_id == contact_id).distinct()))


def _works_sent_to(session: Session, contact_id: int) -> list[tuple[int, str]]:
    sent_to: dict[int, list[tuple[int, str]]] = session.info.get(_SENT_TO, {})
    cached = sent_to.get(contact_id)
    if cached is not None:
        return cached
    rows = [(wid, key) for _, wid, key in session.execute(
        _sent_to_query().where(WorkRecipient.contact_id == contact_id))]
    if _SENT_TO in session.info:
        sent_to[contact_id] = rows
    return rows


def _noted_send(session: Session, thread_key: str, work_id: int, contact_id: int) -> None:
    """A send recorded in this transaction: the answer caches learn it."""
    threads: dict[str, dict[int, list[int]]] | None = session.info.get(_THREAD_SENDS)
    if threads is not None and thread_key in threads:
        works = threads[thread_key].setdefault(contact_id, [])
        if work_id not in works:
            works.append(work_id)
    sent_to: dict[int, list[tuple[int, str]]] | None = session.info.get(_SENT_TO)
    if sent_to is not None:
        sent_to.pop(contact_id, None)  # its order (latest send first) moved: asked again when needed


def _noted_alias(session: Session) -> None:
    """A work got a name in this transaction: the contacts' names of works are asked again."""
    sent_to: dict[int, list[tuple[int, str]]] | None = session.info.get(_SENT_TO)
    if sent_to is not None:
        sent_to.clear()


def answer_text(facts: MessageFacts, *, forwarded: bool = False) -> str:
    """The text of an answer (the reply part, or a forwarded answer's own text)."""
    text = facts.reply_text or facts.body_text
    if forwarded and facts.forwarded is not None:
        text = facts.forwarded.text or text
    return text


def answered_works(session: Session, msg: Message, facts: MessageFacts, contact: Contact, *,
                   forwarded: bool = False) -> list[int]:
    """The works that ``msg`` from ``contact`` answers ([]: none); never flushes the session.

    In the thread of a sent work, those works; else a work sent to them whose name the subject
    or the answer's first lines mention; a forwarded answer naming none is about the latest.
    """
    assert contact.id is not None
    with session.no_autoflush:
        work_ids: list[int] = []
        if not forwarded:
            work_ids = _thread_works(session, msg.thread_key, contact.id)
        if work_ids:
            return work_ids
        sent_to = _works_sent_to(session, contact.id)
        if not sent_to:
            return []
        text = answer_text(facts, forwarded=forwarded)
        subject = facts.forwarded.subject if forwarded and facts.forwarded is not None else facts.subject
        words = f" {stem_key(key_of(subject or ''))} {stem_key(key_of(' '.join(text.split()[:60])))} "
        work_ids = list(dict.fromkeys(wid for wid, key in sent_to
                                      if len(key) >= 4 and f" {stem_key(key)} " in words))
        if not work_ids and forwarded:
            work_ids = [sent_to[0][0]]
        return work_ids


def record_answer(session: Session, msg: Message, facts: MessageFacts, contact: Contact, *,
                  forwarded: bool = False, work_ids: list[int] | None = None, in_deal: bool | None = None) -> int:
    """Move the answer of the works sent to ``contact`` in this thread (or, forwarded, the latest); returns how many.

    ``work_ids``: ``answered_works`` already asked; ``in_deal``: whether the thread belongs to a deal,
    when the caller knows (``deals.ThreadDeals``).
    """
    if work_ids is None:
        work_ids = answered_works(session, msg, facts, contact, forwarded=forwarded)
    if not work_ids:
        return 0
    text = answer_text(facts, forwarded=forwarded)
    answer: str = classify_answer(text)
    # A thread that became a deal is more than any wording (deals.py links threads to deals).
    if in_deal is None:
        in_deal = session.scalar(select(DealThread.deal_id).where(DealThread.thread_key == msg.thread_key)
                                 .limit(1)) is not None
    if not forwarded and in_deal:
        answer = "deal"
    for work_id in work_ids:
        wr = session.get(WorkRecipient, (work_id, contact.id))
        if wr is None:
            continue
        if not wr.answer_by_user:
            wr.answer = rules.fold_answer(wr.answer, answer)
        wr.answer_at, wr.answer_text = msg.date, " ".join(text.split())[:1000]
        append_entry(session, at=msg.date, kind="answer", work_id=work_id, contact_id=contact.id,
                     company_id=contact.company_id, message_id=msg.id,
                     data={"answer": answer, "forwarded": forwarded, "message_sha256": msg.sha256}, flush=False)
    return len(work_ids)


def bounced_sends(session: Session, facts: MessageFacts) -> list[WorkSend]:
    """The sends of works a bounce reports permanently failed ([]: none); never flushes the session.

    Every send is flushed when it is recorded (``record_sent``), with its message.
    """
    if facts.bounce is None:
        return []
    dead = {r.address.lower() for r in facts.bounce.recipients if r.hard or r.permanent}
    ids = [i for i in (*facts.bounce.original_message_ids, facts.bounce.original_message_id) if i]
    if not dead or not ids:
        return []
    with session.no_autoflush:
        return list(session.scalars(select(WorkSend).join(Message, Message.id == WorkSend.message_id)
                                    .where(Message.message_id.in_(ids), Message.kind == "sent",
                                           WorkSend.address.in_(dead))).all())


def record_bounce(session: Session, msg: Message, facts: MessageFacts, sends: list[WorkSend] | None = None) -> int:
    """A permanent failure of a sent copy that carried works marks those sends bounced; returns how many.

    ``sends``: ``bounced_sends`` already asked (the caller then gave ``msg`` its id only when there are some).
    """
    if sends is None:
        sends = bounced_sends(session, facts)
    for ws in sends:
        wr = session.get(WorkRecipient, (ws.work_id, ws.contact_id)) if ws.contact_id is not None else None
        if wr is not None:
            wr.bounced = True
        append_entry(session, at=msg.date, kind="bounce", work_id=ws.work_id, contact_id=ws.contact_id,
                     company_id=ws.company_id, message_id=msg.id,
                     data={"address": ws.address, "sent_message": ws.message_id, "message_sha256": msg.sha256},
                     flush=False)
    return len(sends)


def set_answer(session: Session, work_id: int, contact_id: int, answer: str, note: str | None = None) -> WorkRecipient:
    """The user's correction of an answer (sticks: later mail no longer moves it); a ledger entry."""
    wr = session.get(WorkRecipient, (work_id, contact_id))
    if wr is None:
        raise LookupError("that work was never sent to that contact")
    old = wr.answer
    wr.answer, wr.answer_by_user = answer, True
    append_entry(session, at=utcnow(), kind="correction", work_id=work_id, contact_id=contact_id,
                 company_id=wr.company_id, data={"answer": answer, "was": old, "note": note})
    return wr
