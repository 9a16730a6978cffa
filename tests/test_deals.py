"""Deals, activities, tags, dates and the digest snapshot against a real store (SQLite and PostgreSQL).

Uses the shared ``store`` fixture from conftest.py (a fresh SQLite file, then a fresh PostgreSQL
schema in database ``test``, migrated with ``migrate.upgrade``; PostgreSQL skips locally and
fails in CI when unreachable).
"""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

import pytest
from sqlalchemy import func, select

from mailcrm import config
from mailcrm.app import activities
from mailcrm.app import apply as pipeline
from mailcrm.app import deals as deal_store
from mailcrm.digest.compose import make_digest
from mailcrm.domain.special_dates import DateSpec, parse_fixed, parse_rule
from mailcrm.errors import UsageError
from mailcrm.spool import SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import (
    Activity,
    BounceEvent,
    Contact,
    Deal,
    DealMessage,
    DealStage,
    EmailAddress,
    Message,
)

CFG = config.parse(
    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
    'timezone = "Europe/Moscow"\nlanguage = "en"\n', "test")
USER = CFG.users[0]
DROPBOX = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])
DEAL_BOX = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret+deal@example.org"])
INBOX = SpoolMeta(source="imap:box", role="inbox")
TODAY = dt.date(2026, 3, 10)
NOON = dt.datetime(2026, 3, 10, 9, 0)  # naive UTC: 12:00 in Moscow


def mail(subject: str, to: str, when: dt.datetime, *, sender: str = "Me <me@example.org>", mid: str,
         reply_to: str | None = None) -> bytes:
    """A small RFC 5322 message dated ``when`` (naive UTC)."""
    head = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
            f"Date: {format_datetime(when.replace(tzinfo=dt.timezone.utc))}\r\n")
    if reply_to:
        head += f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n"
    return (head + "\r\nHello\r\n").encode()


def ingest(factory, raw: bytes, meta: SpoolMeta = DROPBOX) -> pipeline.Job:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        return pipeline.ingest(s, CFG, meta, raw)


def test_deal_lifecycle_keeps_history(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with db.transaction(factory) as s:
        ids = [deal_store.contact_for(s, a).id for a in ("Ivan@Theatre.example", "anna@gmail.com")]
        deal = deal_store.create_deal(s, title="Спектакль", contact_ids=ids, stage="lead",
                                      amount=deal_store.parse_amount("150 000,50"), currency="rub")
        deal_id = deal.id
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(Contact)) == 2  # unknown addresses became contacts
        assert s.scalar(select(EmailAddress.address).where(EmailAddress.contact_id == ids[0])) == "ivan@theatre.example"
        deal_store.move_deal(s, deal_id, "brief", at=dt.datetime(2026, 3, 2))
        with pytest.raises(UsageError):
            deal_store.move_deal(s, deal_id, "lost")  # lost needs a reason
        deal_store.move_deal(s, deal_id, "lost", lost_reason="too expensive", at=dt.datetime(2026, 3, 3))
    with db.transaction(factory) as s:
        card = deal_store.deal_card(s, deal_id)
        assert card["status"] == "lost" and card["lost_reason"] == "too expensive"
        assert [st["stage"] for st in card["stages"]] == ["lead", "brief", "lost"]
        assert str(card["amount"]) == "150000.50" and card["currency"] == "RUB" and card["company"] == "theatre.example"
        assert sorted(p["addresses"][0] for p in card["people"]) == ["anna@gmail.com", "ivan@theatre.example"]
        texts = [i["text"] for i in card["timeline"] if i["type"] == "activity"]
        assert texts.count("deal Спектакль: brief → lost (too expensive)") == 1
        assert [d["id"] for d in deal_store.list_deals(s, status="lost")] == [deal_id]
        assert deal_store.list_deals(s, stage="lead") == []
        with pytest.raises(UsageError):
            deal_store.get_deal(s, 9999)
        with pytest.raises(UsageError):
            deal_store.contact_for(s, "not an address")
        with pytest.raises(UsageError):
            deal_store.parse_amount("lots")


def test_plus_deal_address_opens_a_deal_and_replies_attach(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    job = ingest(factory, mail("Брошюры к премьере", "Olga <olga@film.example>, boris@kino.example",
                               NOON - dt.timedelta(days=3), mid="s1@example.org"), DEAL_BOX)
    assert job.outcome == pipeline.STORED
    reply = ingest(factory, mail("Re: Брошюры", "me@example.org", NOON - dt.timedelta(days=2),
                                 sender="Olga <olga@film.example>", mid="r1@film.example", reply_to="s1@example.org"),
                   INBOX)
    ingest(factory, mail("Другое", "olga@film.example", NOON - dt.timedelta(days=1), mid="s2@example.org"))
    again = ingest(factory, mail("Брошюры к премьере", "olga@film.example", NOON, mid="s1@example.org"), DEAL_BOX)
    assert again.outcome == pipeline.DUPLICATE
    with db.transaction(factory) as s:
        deals = list(s.scalars(select(Deal)))
        assert len(deals) == 1
        deal = deals[0]
        assert deal.title == "Брошюры к премьере" and deal.stage == "lead" and deal.user_id is not None
        assert deal.opened_at == NOON - dt.timedelta(days=3)
        people = {p["addresses"][0] for p in deal_store.deal_summary(s, deal)["people"]}
        assert people == {"olga@film.example", "boris@kino.example"}
        attached = set(s.scalars(select(Message.message_id).join(DealMessage, DealMessage.message_id == Message.id)))
        assert attached == {"s1@example.org", "r1@film.example"}
        assert reply.message is not None
        # Calling the hook again is harmless.
        assert deal_store.attach_message_to_deals(s, reply.message) == [deal.id]
        assert s.scalar(select(func.count()).select_from(DealMessage)) == 2


def test_calls_notes_tags_and_dates(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with db.transaction(factory) as s:
        ivan = deal_store.contact_for(s, "ivan@theatre.example")
        deal = deal_store.create_deal(s, title="Афиши", contact_ids=[ivan.id], stage="invoiced")
        call = activities.log_call(s, "ivan@theatre.example", note="обещал оплатить", when=dt.datetime(2026, 3, 9, 8))
        assert call.deal_id == deal.id  # his only open deal
        activities.add_note(s, "ivan@theatre.example", "любит звонки утром")
        with pytest.raises(UsageError):
            activities.add_note(s, "ivan@theatre.example", "  ")
        assert activities.tag_contact(s, "ivan@theatre.example", ["театры", "vip", "театры"]) == ["vip", "театры"]
        assert activities.untag_contact(s, "ivan@theatre.example", ["vip", "never-there"]) == ["театры"]
        activities.tag_contact(s, "new@museum.example", ["театры"])
        activities.add_special_date(s, "ДР", parse_fixed("02-29"), address="ivan@theatre.example")
        activities.add_special_date(s, "World Theatre Day", DateSpec(rule=parse_rule("27 mar")), tag="театры")
        with pytest.raises(UsageError):
            activities.add_special_date(s, "x", parse_fixed("01-01"))
    with db.transaction(factory) as s:
        dates = activities.list_special_dates(s)
        assert [(d["label"], d["on"]) for d in dates][0] == ("ДР", "02-29")
        tag_date = next(d for d in dates if d["tag"])
        assert tag_date["tag"] == {"name": "театры", "contacts": 2}
        card = repository.contact_card(s, "ivan@theatre.example")
        kinds = [i["kind"] for i in card["timeline"]]
        assert {"call", "note", "tag", "date", "deal"} <= set(kinds)
        assert card["tags"] == ["театры"]


def test_digest_snapshot_from_a_real_store(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    day = dt.timedelta(days=1)
    # Deal A (invoiced: every day): last mail 5 days ago -> call today, 4 days overdue.
    ingest(factory, mail("Счёт", "Ivan <ivan@theatre.example>", NOON - 5 * day, mid="a1@example.org"))
    # Deal B (invoiced): BCC copy yesterday resets the clock -> due today, 0 overdue.
    ingest(factory, mail("Смета", "petr@kino.example", NOON - 6 * day, mid="b1@example.org"))
    ingest(factory, mail("Re: Смета", "petr@kino.example", NOON - day, mid="b2@example.org"))
    # Deal C (invoiced): a logged call this morning -> not due.
    ingest(factory, mail("Договор", "vera@film.example", NOON - 9 * day, mid="c1@example.org"))
    # Waiting: Olga wrote two days ago, nothing sent after.
    ingest(factory, mail("Привет", "olga@film.example", NOON - 20 * day, mid="o1@example.org"))
    ingest(factory, mail("Re: Привет", "me@example.org", NOON - 2 * day, sender="Olga <olga@film.example>",
                         mid="o2@film.example", reply_to="o1@example.org"), INBOX)
    # Quiet: we wrote to Gleb 45 days ago, no reply.
    ingest(factory, mail("Предложение", "Gleb <gleb@museum.example>", NOON - 45 * day, mid="g1@example.org"))
    with db.transaction(factory) as s:
        cid = {a: deal_store.contact_for(s, a).id for a in ("ivan@theatre.example", "petr@kino.example",
                                                            "vera@film.example", "gleb@museum.example",
                                                            "lead@new.example")}
        old = NOON - 10 * day
        for title, who in (("A", "ivan@theatre.example"), ("B", "petr@kino.example"), ("C", "vera@film.example")):
            deal_store.create_deal(s, title=title, contact_ids=[cid[who]], stage="invoiced", at=old)
        # Came in yesterday: new until its first call is late (a 2-day-old untouched lead is overdue).
        deal_store.create_deal(s, title="New lead", contact_ids=[cid["lead@new.example"]], stage="lead",
                               at=NOON - day)
        deal_store.create_deal(s, title="Closed", contact_ids=[cid["ivan@theatre.example"]], stage="won", at=old)
        activities.log_call(s, "vera@film.example", when=NOON - dt.timedelta(hours=3))
        activities.tag_contact(s, "gleb@museum.example", ["музеи"])
        activities.add_special_date(s, "ДР", parse_fixed("03-12"), address="ivan@theatre.example")
        # A bounce and a contact with no live address; an auto-reply saying "back today".
        addr = repository.find_address(s, "petr@kino.example")
        assert addr is not None
        msg_id = s.scalar(select(Message.id).where(Message.message_id == "b1@example.org"))
        s.add(BounceEvent(message_id=msg_id, address="petr@kino.example", address_id=addr.id, hard=True,
                          status="5.1.1", reason="user unknown", verified=True, effect="bounced", at=NOON - day / 2))
        dead = deal_store.contact_for(s, "dead@gone.example")
        dead.needs_new_address = True
        s.add(Activity(contact_id=cid["vera@film.example"], kind="autoreply", at=NOON - 5 * day, text="away",
                       due=TODAY))
    with db.transaction(factory) as s:
        digest, rendered = make_digest(s, CFG, USER, TODAY)
    calls = [(c.deal.title, c.overdue_days, c.days_since_touch) for c in digest.call_today]
    assert calls == [("A", 4, 5), ("B", 0, 1)]
    assert digest.call_today[0].deal.last_message is not None
    assert digest.call_today[0].deal.last_message.subject == "Счёт"
    assert [d.title for d in digest.new_leads] == ["New lead"]
    assert [(w.person.address, w.message.subject) for w in digest.waiting] == [("olga@film.example", "Re: Привет")]
    assert [(g.tag, [q.person.address for q in g.items]) for g in digest.quiet] == [("музеи", ["gleb@museum.example"])]
    assert [(i.item.label, i.in_days) for i in digest.dates] == [("ДР", 2)]
    assert [b.address for b in digest.bounces] == ["petr@kino.example"]
    assert [p.address for p in digest.no_address] == ["dead@gone.example"]
    assert [a.person.address for a in digest.autoreplies] == ["vera@film.example"]
    assert "Call today" in rendered.text and "Ivan" in rendered.html
    with db.transaction(factory) as s:
        assert s.scalar(select(func.count()).select_from(DealStage)) == 5


def test_any_reference_to_a_deal_message_attaches_to_the_deal(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Смета на афиши", "Petr <petr@kino.example>", NOON - dt.timedelta(days=3),
                         mid="d1@example.org"), DEAL_BOX)
    # A reply whose client kept only References, rooted in a message the CRM never saw
    # (thread key x0, no In-Reply-To): the deal's message among the references is enough.
    raw = (f"From: Petr <petr@kino.example>\r\nTo: me@example.org\r\nSubject: Re: Смета\r\n"
           f"Message-ID: <p2@kino.example>\r\nReferences: <x0@elsewhere.example> <d1@example.org>\r\n"
           f"Date: {format_datetime((NOON - dt.timedelta(days=1)).replace(tzinfo=dt.timezone.utc))}\r\n\r\nOK\r\n").encode()
    job = ingest(factory, raw, INBOX)
    assert job.message is not None and job.message.thread_key == "x0@elsewhere.example"
    # Unrelated mail from the same person stays off the deal (it still counts as a touch by person).
    ingest(factory, mail("Другое", "me@example.org", NOON, sender="Petr <petr@kino.example>", mid="p3@kino.example"),
           INBOX)
    with db.transaction(factory) as s:
        deal = s.scalars(select(Deal)).one()
        attached = set(s.scalars(select(Message.message_id).join(DealMessage, DealMessage.message_id == Message.id)
                                 .where(DealMessage.deal_id == deal.id)))
        assert attached == {"d1@example.org", "p2@kino.example"}
        card = deal_store.deal_card(s, deal.id)
        subjects = [i.get("subject") for i in card["timeline"] if i["type"] == "message"]
        assert {"Смета на афиши", "Re: Смета", "Другое"} <= set(subjects)  # the people's whole timeline


def test_deal_address_in_the_headers_opens_a_deal_when_read_over_imap(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    imap_box = SpoolMeta(source="imap:crm-box", role="dropbox")  # no SMTP envelope: only the headers
    job = ingest(factory, mail("Выставка", "crm+secret+deal@example.org, Vera <vera@museum.example>",
                               NOON, mid="v1@example.org"), imap_box)
    assert job.outcome == pipeline.STORED
    plain = ingest(factory, mail("Просто письмо", "gleb@museum.example", NOON, mid="v2@example.org"), imap_box)
    assert plain.outcome == pipeline.STORED
    with db.transaction(factory) as s:
        deal = s.scalars(select(Deal)).one()  # only the +deal message opened one
        assert deal.title == "Выставка"
        assert [p["addresses"] for p in deal_store.deal_summary(s, deal)["people"]] == [["vera@museum.example"]]
