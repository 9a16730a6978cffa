"""The worker's batch transaction (SQLite and PostgreSQL): applied without savepoints and flushed
once; when one message fails, applied again with a savepoint per message so only that one is lost."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from email.utils import format_datetime
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session
from test_store_bounces import dsn

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.app import deals as deal_store
from mailcrm.ingest.parse_pool import ParsePool
from mailcrm.ingest.worker import QUARANTINED, Worker
from mailcrm.spool import Spool, SpoolMeta
from mailcrm.store import db, repository, search
from mailcrm.store.models import Company, Contact, Deal, DealMessage, EmailAddress, Message, Participant

CFG = config.parse(
    '[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\n', "test")
SENT = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])
DEAL_BOX = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret+deal@example.org"])
INBOX = SpoolMeta(source="imap:box", role="inbox")
BOUNCE = SpoolMeta(source="smtp", mail_from="", rcpt_tos=["crm+secret@example.org"])
WHEN = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.timezone.utc)


def mail(subject: str, to: str, mid: str, *, sender: str = "Me <me@example.org>", refs: str = "",
         when: dt.datetime = WHEN) -> bytes:
    head = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
            f"Date: {format_datetime(when)}\r\n")
    if refs:
        head += f"In-Reply-To: <{refs.split()[-1]}>\r\nReferences: {' '.join(f'<{r}>' for r in refs.split())}\r\n"
    return (head + "\r\nHello\r\n").encode()


@pytest.fixture
def worker(store, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(worker, session factory, statement counter): the counter tallies SAVEPOINTs and INSERTs."""
    engine, factory = store
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
    seen: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        seen[statement.split(None, 1)[0].upper()] += 1

    yield Worker(CFG, factory, Spool(tmp_path / "spool"), ParsePool(0)), factory, seen
    event.remove(engine, "before_cursor_execute", _count)


def run(w: Worker, *messages: tuple[bytes, SpoolMeta]) -> list[str]:
    """Spool the messages and apply them as one batch; the outcome of each, in order."""
    ids = [w.spool.put(raw, meta) for raw, meta in messages]
    claimed = w.spool.claim(limit=len(ids))
    assert [i.id for i in claimed] == ids
    results = w.process_batch(claimed)
    return [results[i] for i in ids]


def test_a_batch_of_good_mail_takes_no_savepoint(worker) -> None:  # type: ignore[no-untyped-def]
    w, factory, seen = worker
    run(w, (mail("first", "Ivan <ivan@theatre.example>", "a1@example.org"), SENT))  # Ivan is known now
    seen.clear()
    outcomes = run(w, *[(mail(f"pitch {i}", "Ivan <ivan@theatre.example>", f"p{i}@example.org"), SENT)
                        for i in range(5)],
                   (mail("spam", "crm+secret@example.org", "x@spam.example", sender="x@spam.example"), SENT))
    assert outcomes == ["stored"] * 5 + [QUARANTINED]  # an unknown author is refused before any write
    assert seen["SAVEPOINT"] == 0
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 6
        assert s.scalar(select(func.count()).select_from(Contact)) == 1
    assert "x@spam.example is not a registered user" in (next(w.spool.quarantined()).meta.reason or "")


def test_one_failing_message_is_quarantined_alone(worker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w, factory, seen = worker

    def explode(session, job) -> None:  # type: ignore[no-untyped-def]
        if job.facts.subject == "boom":
            raise RuntimeError("boom in a stage")

    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, explode))
    outcomes = run(
        w,
        (mail("one", "Xenia <x@alpha.example>", "m1@example.org"), SENT),
        # Creates Yuri's contact, then fails: that contact must go with it...
        (mail("boom", "Yuri <y@beta.example>, x@alpha.example", "m2@example.org"), SENT),
        # ...and be created again, whole, by the next message to him.
        (mail("three", "Yuri <y@beta.example>", "m3@example.org"), SENT),
        (mail("four", "x@alpha.example", "m4@example.org"), SENT),
    )
    assert outcomes == ["stored", QUARANTINED, "stored", "stored"]
    assert seen["SAVEPOINT"] >= 3  # the batch was applied again, message by message
    reason = next(w.spool.quarantined()).meta.reason or ""
    assert "RuntimeError: boom in a stage" in reason
    with db.transaction(factory) as s:
        subjects = set(s.scalars(select(Message.subject)))
        assert subjects == {"one", "three", "four"}
        addresses = dict(s.execute(select(EmailAddress.address, EmailAddress.contact_id)).all())
        assert set(addresses) == {"x@alpha.example", "y@beta.example"}
        assert s.scalar(select(func.count()).select_from(Contact)) == 2
        rows = s.execute(select(Message.subject, Participant.address, Participant.contact_id)
                         .join(Participant, Participant.message_id == Message.id)
                         .where(Participant.role == "to")).all()
        assert {(subj, addr) for subj, addr, _ in rows} == {
            ("one", "x@alpha.example"), ("three", "y@beta.example"), ("four", "x@alpha.example")}
        assert all(cid == addresses[addr] for _, addr, cid in rows)
        assert s.get(Contact, addresses["y@beta.example"]).name == "Yuri"


def test_a_bounce_in_the_batch_of_the_mail_it_answers_is_verified(worker) -> None:  # type: ignore[no-untyped-def]
    w, factory, _ = worker
    outcomes = run(w, (mail("Пьеса", "Olga <olga@theatre.example>", "s1@example.org",
                            when=dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc)), SENT),
                   (dsn(4, "5.1.1", "550 5.1.1 <olga@theatre.example>: User unknown"), BOUNCE))
    assert outcomes == ["stored", "stored"]
    with db.transaction(factory) as s:
        assert s.scalar(select(EmailAddress.status).where(EmailAddress.address == "olga@theatre.example")) == "bounced"


def test_replies_in_one_batch_join_the_deal_of_their_parent(worker) -> None:  # type: ignore[no-untyped-def]
    w, factory, _ = worker
    assert run(w, (mail("Афиши", "Olga <olga@film.example>", "d1@example.org"), DEAL_BOX)) == ["stored"]
    outcomes = run(
        w,
        (mail("unrelated", "olga@film.example", "u1@example.org"), SENT),
        # In the deal's thread (its root in References)...
        (mail("Re: Афиши", "me@example.org", "r1@film.example", sender="Olga <olga@film.example>",
              refs="d1@example.org"), INBOX),
        # ...and a reply to that reply whose client kept only its parent: found through r1,
        # which is still unflushed in the same batch until the deal takes it.
        (mail("Re: Re: Афиши", "olga@film.example", "r2@example.org", refs="r1@film.example"), SENT),
    )
    assert outcomes == ["stored"] * 3
    with db.transaction(factory) as s:
        (deal,) = s.scalars(select(Deal))
        attached = set(s.scalars(select(Message.message_id).join(DealMessage, DealMessage.message_id == Message.id)
                                 .where(DealMessage.deal_id == deal.id)))
        assert attached == {"d1@example.org", "r1@film.example", "r2@example.org"}



def test_deal_threads_are_looked_up_once_per_batch(worker, store) -> None:  # type: ignore[no-untyped-def]
    w, factory, _ = worker
    engine, _ = store
    asked: list[str] = []

    @event.listens_for(engine, "before_cursor_execute")
    def _deal_threads(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "deal_threads" in statement:
            asked.append(statement)

    try:
        outcomes = run(w, *[(mail(f"pitch {i}", f"p{i}@theatre{i}.example", f"t{i}@example.org"), SENT)
                            for i in range(8)])
    finally:
        event.remove(engine, "before_cursor_execute", _deal_threads)
    assert outcomes == ["stored"] * 8
    assert len(asked) == 1  # one lookup for the batch, not one per message


def test_a_deal_opened_in_a_batch_takes_later_mail_of_its_thread(worker) -> None:  # type: ignore[no-untyped-def]
    w, factory, _ = worker
    outcomes = run(
        w,
        # Opens a deal; its thread key is the root of its References, not its own id...
        (mail("Афиши", "Olga <olga@film.example>", "o1@example.org", refs="root@example.org"), DEAL_BOX),
        # ...which a later message of the same batch shares without naming o1 at all.
        (mail("Re: Афиши", "olga@film.example", "o2@example.org", refs="root@example.org"), SENT),
    )
    assert outcomes == ["stored", "stored"]
    with db.transaction(factory) as s:
        (deal,) = s.scalars(select(Deal))
        attached = set(s.scalars(select(Message.message_id).join(DealMessage, DealMessage.message_id == Message.id)
                                 .where(DealMessage.deal_id == deal.id)))
        assert attached == {"o1@example.org", "o2@example.org"}


def test_a_deal_rolled_back_with_its_message_leaves_its_thread_free(worker, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w, factory, _ = worker

    def explode(session, job) -> None:  # type: ignore[no-untyped-def]
        if job.facts.subject == "boom":
            raise RuntimeError("boom after the deal opened")

    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, explode))
    outcomes = run(
        w,
        (mail("boom", "Olga <olga@film.example>", "b1@example.org", refs="root2@example.org"), DEAL_BOX),
        # Mail of the same thread takes no deal that went with b1, and may open its own.
        (mail("Re: boom?", "olga@film.example", "b2@example.org", refs="root2@example.org"), SENT),
        (mail("Афиши", "olga@film.example", "b3@example.org", refs="root2@example.org"), DEAL_BOX),
    )
    assert outcomes == [QUARANTINED, "stored", "stored"]
    # The thread is b3's deal's now, so later mail of it joins that deal.
    assert run(w, (mail("Re: Афиши", "olga@film.example", "b4@example.org", refs="root2@example.org"), SENT)) \
        == ["stored"]
    with db.transaction(factory) as s:
        (deal,) = s.scalars(select(Deal))
        attached = set(s.scalars(select(Message.message_id).join(DealMessage, DealMessage.message_id == Message.id)
                                 .where(DealMessage.deal_id == deal.id)))
        assert attached == {"b3@example.org", "b4@example.org"}
        assert set(s.scalars(select(Message.message_id))) == {"b2@example.org", "b3@example.org", "b4@example.org"}


def test_new_contacts_of_a_batch_are_inserted_together_with_their_rows(worker, store) -> None:  # type: ignore[no-untyped-def]
    """New contacts stay pending until the batch flush (no flush per contact); their ids reach the
    participant rows written after it, and a reply in the same batch marks the new address inbound."""
    w, factory, _ = worker
    engine, _ = store
    inserts: Counter[str] = Counter()
    flushes = [0]

    def _flushed(session, context):  # type: ignore[no-untyped-def]
        flushes[0] += 1

    event.listen(Session, "after_flush", _flushed)

    @event.listens_for(engine, "before_cursor_execute")
    def _tables(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        words = statement.split()
        if words[:2] == ["INSERT", "INTO"]:
            inserts[words[2].strip('"')] += 1

    try:
        people = [f"Person {i} <p{i}@gmail.com>" for i in range(6)]
        reply_at = WHEN + dt.timedelta(hours=1)
        outcomes = run(w, *[(mail(f"pitch {i}", p, f"n{i}@example.org"), SENT) for i, p in enumerate(people)],
                       (mail("Re: pitch 0", "Me <me@example.org>", "r0@gmail.com", sender=people[0],
                             refs="n0@example.org", when=reply_at), INBOX))
    finally:
        event.remove(engine, "before_cursor_execute", _tables)
        event.remove(Session, "after_flush", _flushed)
    assert outcomes == ["stored"] * 7
    assert flushes == [1]  # the batch's one flush; a flush per new contact would make it seven
    assert inserts["message_participants"] == 1 and inserts["raw_messages"] == 1  # one executemany each
    with db.transaction(factory) as s:
        rows = s.execute(select(Participant.address, Participant.contact_id, EmailAddress.contact_id)
                         .join(EmailAddress, EmailAddress.address == Participant.address)
                         .where(Participant.role != "from")).all()
        assert len(rows) == 6 and all(pc == ac and pc is not None for _, pc, ac in rows)
        p0 = s.scalar(select(EmailAddress).where(EmailAddress.address == "p0@gmail.com"))
        assert p0.last_inbound_at == reply_at.replace(tzinfo=None)
        timeline = repository.contact_card(s, "p0@gmail.com")["timeline"]
        assert [t["direction"] for t in timeline] == ["in", "out"]


def test_a_batch_asks_once_for_its_people_and_their_domain_companies(worker, store, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    w, factory, _ = worker
    engine, _ = store
    run(w, (mail("first", "Olga <olga@theatre.example>", "c0@example.org"), SENT))  # theatre.example exists now

    def explode(session, job) -> None:  # type: ignore[no-untyped-def]
        if job.facts.subject == "boom":
            raise RuntimeError("boom after the company was made")

    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, explode))
    selects: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _selects(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        words = statement.split()
        if search.MARK in statement:  # the search column's refresh at commit: 3 per 500 contacts
            selects["search refresh"] += 1
        elif words and words[0].upper() == "SELECT":
            table = next((t.strip('"') for t in words[words.index("FROM") + 1:][:1]), "?") if "FROM" in words else "?"
            selects[table] += 1

    try:
        outcomes = run(
            w, *[(mail(f"pitch {i}", f"Person {i} <p{i}@newco.example>", f"c{i}@example.org"), SENT) for i in (1, 2, 3)],
            (mail("hello", "Pavel <pavel@theatre.example>, Gmail <g@gmail.com>", "c4@example.org"), SENT))
        assert outcomes == ["stored"] * 4
        company_selects, contact_selects = selects["companies"], selects["email_addresses"] + selects["contacts"]
        refresh_selects = selects["search refresh"]
        # A failing message makes its own company inside a savepoint that goes; the next one makes it again.
        selects.clear()
        outcomes = run(w, (mail("boom", "Z <z@gone.example>", "c5@example.org"), SENT),
                       (mail("after", "Y <y@gone.example>", "c6@example.org"), SENT))
    finally:
        event.remove(engine, "before_cursor_execute", _selects)
    assert company_selects == 1  # newco (three people) and theatre looked up together, gmail never grouped
    assert contact_selects == 1  # and the batch's one lookup of its people says who has no contact yet
    assert refresh_selects == 3  # the batch's new contacts get their search text in one go
    assert outcomes == [QUARANTINED, "stored"]
    with db.transaction(factory) as s:
        companies = dict(s.execute(select(EmailAddress.address, Company.domain)
                                   .join(Contact, Contact.id == EmailAddress.contact_id)
                                   .outerjoin(Company, Company.id == Contact.company_id)).all())
        assert companies == {"olga@theatre.example": "theatre.example", "pavel@theatre.example": "theatre.example",
                             "p1@newco.example": "newco.example", "p2@newco.example": "newco.example",
                             "p3@newco.example": "newco.example", "g@gmail.com": None,
                             "y@gone.example": "gone.example"}
        assert s.scalar(select(func.count()).select_from(Company)) == 3


@pytest.mark.parametrize("to", ["Olga <olga@film.example>", "olga@film.example, crm+secret+deal@example.org"])
def test_deal_to_a_new_address_opens_it_with_that_person(worker, to: str) -> None:  # type: ignore[no-untyped-def]
    w, factory, _ = worker
    # Olga is unknown: her contact is created by this very message, and the deal opened by the
    # +deal copy (envelope BCC, or the +deal address in To as read over IMAP) must name her.
    meta = DEAL_BOX if "+deal" not in to else SENT
    assert run(w, (mail("Афиши", to, "n1@example.org"), meta)) == ["stored"]
    with db.transaction(factory) as s:
        (deal,) = s.scalars(select(Deal))
        people = deal_store.deal_summary(s, deal)["people"]
        assert [p["addresses"] for p in people] == [["olga@film.example"]]
    # Her reply attaches to the deal.
    reply = mail("Re: Афиши", "me@example.org", "n2@film.example", sender="Olga <olga@film.example>",
                 refs="n1@example.org")
    assert run(w, (reply, INBOX)) == ["stored"]
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(DealMessage)) == 2


def signed(subject: str, sender: str, mid: str, signature: str, *, refs: str = "") -> bytes:
    """A reply from ``sender`` to the user ending with ``signature``."""
    head = (f"From: {sender}\r\nTo: Me <me@example.org>\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
            f"Date: {format_datetime(WHEN)}\r\n")
    if refs:
        head += f"In-Reply-To: <{refs}>\r\nReferences: <{refs}>\r\n"
    body = "Добрый день!\r\n\r\nДоговор получили, подпишем на этой неделе.\r\n\r\n" + signature.replace("\n", "\r\n")
    return (head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + body + "\r\n").encode()


def test_signatures_of_a_batch_are_learnt_without_a_flush_per_message(worker, store) -> None:  # type: ignore[no-untyped-def]
    """Issue 26: signatures (and the companies they name) are resolved for the whole batch: one flush,
    one executemany of signature rows, one company lookup; contacts get their fields and companies."""
    from mailcrm.parse.message import parse_message
    from mailcrm.store.models import SignatureSeen

    w, factory, _ = worker
    engine, _ = store
    people = [("Анна Козлова", "anna@romashka-trade.ru"), ("Ольга Петрова", "olga@gmail.com"),
              ("Павел Смирнов", "pavel@mail.ru")]
    run(w, *[(mail(f"договор {i}", f"{n} <{a}>", f"s{i}@example.org"), SENT) for i, (n, a) in enumerate(people)])
    sig = ("С уважением,\nАнна Козлова\nЮрист\nООО «Ромашка»\nТел.: +7 (495) 111-22-33",
           "С уважением,\nОльга Петрова\nМенеджер по продажам\nООО «Ромашка»\nТел.: +7 (495) 123-45-67",
           "--\nПавел Смирнов\nГлавный инженер\nООО «Ромашка»\nТел.: +7 (495) 765-43-21")
    replies = [(signed(f"Re: договор {i}", f"{n} <{a}>", f"r{i}@example.ru", sig[i], refs=f"s{i}@example.org"), INBOX)
               for i, (n, a) in enumerate(people)]
    # the parser must see these signatures, or the test proves nothing
    assert all(parse_message(raw, user_addresses=frozenset({"me@example.org"})).signature is not None
               for raw, _ in replies)
    flushes = [0]
    statements: Counter[str] = Counter()

    def _flushed(session, context):  # type: ignore[no-untyped-def]
        flushes[0] += 1

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        words = statement.split()
        if words[:2] == ["INSERT", "INTO"]:
            statements["insert " + words[2].strip('"')] += 1
        elif words[:1] == ["SELECT"] and "FROM companies" in statement:
            where = statement.split("WHERE", 1)[-1].replace('"', "")
            statements["companies by name" if "companies.key IN" in where else
                       "company by name" if "companies.key =" in where else "companies"] += 1

    event.listen(Session, "after_flush", _flushed)
    try:
        outcomes = run(w, *replies)
    finally:
        event.remove(Session, "after_flush", _flushed)
        event.remove(engine, "before_cursor_execute", _seen)
    assert outcomes == ["stored"] * 3
    assert flushes == [1]  # a flush per signature (and per company looked up by name) would make it more
    assert statements["insert signatures"] == 1  # one executemany
    assert statements["companies by name"] == 1 and statements["company by name"] == 0
    with db.transaction(factory) as s:
        rows = s.execute(select(SignatureSeen.contact_id, SignatureSeen.message_id, SignatureSeen.company)).all()
        assert len(rows) == 3 and all(c is not None and m is not None for c, m, _ in rows)
        contacts = {a: repository.find_contact(s, a) for _, a in people}
        assert contacts["olga@gmail.com"].title == "Менеджер по продажам"
        assert "+74951234567" in "".join(contacts["olga@gmail.com"].phones).replace(" ", "").replace("(", "").replace(")", "").replace("-", "")
        # the first signature names the corporate domain's company; the free-mail people join it
        anna = s.get(Company, contacts["anna@romashka-trade.ru"].company_id)
        assert anna.domain == "romashka-trade.ru" and anna.name == "ООО «Ромашка»"
        assert contacts["olga@gmail.com"].company_id == contacts["pavel@mail.ru"].company_id == anna.id


def test_replies_of_a_batch_cost_no_query_each(worker, store) -> None:  # type: ignore[no-untyped-def]
    """Issue 26: what the stages ask about each reply from a known contact (did they get a work, is
    the parent a digest or on a deal, which address row to mark inbound) is asked once per batch."""
    w, factory, _ = worker
    engine, _ = store
    people = [f"Person {i} <p{i}@firm{i}.example>" for i in range(5)]
    run(w, *[(mail(f"offer {i}", p, f"o{i}@example.org"), SENT) for i, p in enumerate(people)])
    selects: Counter[str] = Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        words = statement.replace('"', "").split()
        if words[:1] == ["SELECT"] and "FROM" in words:
            selects[words[words.index("FROM") + 1]] += 1

    try:
        outcomes = run(w, *[(mail(f"Re: offer {i}", "Me <me@example.org>", f"a{i}@firm{i}.example", sender=p,
                                  refs=f"o{i}@example.org", when=WHEN + dt.timedelta(hours=1)), INBOX)
                            for i, p in enumerate(people)])
    finally:
        event.remove(engine, "before_cursor_execute", _seen)
    assert outcomes == ["stored"] * 5
    for table in ("work_recipients", "digest_runs", "company_suggestions"):
        assert selects[table] <= 1, (table, selects)  # the batch's one lookup, not one per reply
    assert selects["email_addresses"] <= 2, selects  # the batch's contacts, and the search refresh at commit
    # identities, the parents on a deal, and (SQLite) the largest message id, once a transaction:
    # the batch numbers its new messages itself (store/message_rows.py)
    assert selects["messages"] <= 3, selects
    with db.transaction(factory) as s:
        inbound = s.scalars(select(EmailAddress.last_inbound_at).where(EmailAddress.address.like("p%@firm%"))).all()
        assert len(inbound) == 5 and all(t is not None for t in inbound)


def test_new_corporate_domains_of_a_batch_flush_with_it(worker) -> None:  # type: ignore[no-untyped-def]
    """Issue 26: a new contact's domain company stays pending with the contact (no flush per new domain)."""
    w, factory, _ = worker
    flushes = [0]

    def _flushed(session, context):  # type: ignore[no-untyped-def]
        flushes[0] += 1

    event.listen(Session, "after_flush", _flushed)
    try:
        outcomes = run(w, *[(mail(f"hello {i}", f"Person {i} <p{i}@domain{i}.example>", f"d{i}@example.org"), SENT)
                            for i in range(4)],
                       (mail("hello again", "p0@domain0.example, q@domain0.example", "d9@example.org"), SENT))
    finally:
        event.remove(Session, "after_flush", _flushed)
    assert outcomes == ["stored"] * 5
    assert flushes == [1]
    with db.transaction(factory) as s:
        for i in range(4):
            contact = repository.find_contact(s, f"p{i}@domain{i}.example")
            assert s.get(Company, contact.company_id).domain == f"domain{i}.example"
        same = repository.find_contact(s, "q@domain0.example")
        assert same.company_id == repository.find_contact(s, "p0@domain0.example").company_id
        assert s.scalar(select(func.count()).select_from(Company)) == 4
