"""+pending, +cancel and the help answer for an unknown sub-address (issue 27), through the ingest use case on a
real store (SQLite and PostgreSQL); the answer mail's headers (no loops)."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime, formataddr

import pytest
from sqlalchemy import func, select

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.digest.answers import build_answer
from mailcrm.errors import Rejected
from mailcrm.outcomes import Outcome
from mailcrm.spool import SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import FollowUp, Message

CFG = config.parse(
    '[digest]\nfrom_address = "mailcrm@example.org"\n'
    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
    'timezone = "Europe/Moscow"\nlanguage = "en"\n'
    '[[users]]\nemail = "ann@example.org"\ndropbox = "crm+ann@example.org"\n', "test")
NOON = dt.datetime(2026, 3, 10, 9, 0)


def _mail(subject: str, to: str, *, mid: str, sender: str = "Me <me@example.org>", body: str = "Hello",
          when: dt.datetime = NOON, extra: str = "") -> bytes:
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
            f"Date: {format_datetime(when.replace(tzinfo=dt.timezone.utc))}\r\n{extra}\r\n{body}\r\n").encode()


def _box(word: str, sender: str = "me@example.org", box: str = "crm+secret") -> SpoolMeta:
    return SpoolMeta(source="smtp", mail_from=sender, rcpt_tos=[f"{box}+{word}@example.org"])


def _ingest(factory, raw: bytes, meta: SpoolMeta) -> pipeline.Job:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        return pipeline.ingest(s, CFG, meta, raw, now=NOON + dt.timedelta(hours=1))


def _count(factory) -> int:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        return int(s.scalar(select(func.count()).select_from(Message)) or 0)


def test_pending_cancel_and_help(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    _ingest(factory, _mail("Смета на гастроли", "ivan@theatre.example", mid="a1@me"), _box("3d"))
    _ingest(factory, _mail("Synopsis", "vera@museum.example", mid="b1@me"), _box("r2w"))
    before = _count(factory)

    job = _ingest(factory, _mail("pending?", "crm+secret+pending@example.org", mid="p1@me"), _box("pending"))
    assert job.outcome == Outcome.SKIPPED and job.reply is not None and job.reply.answer_to == "me@example.org"
    assert job.reply.text == ("Follow-ups waiting:\n"
                              '2026-03-13: "Смета на гастроли" 2026-03-10 -> ivan@theatre.example\n'
                              '2026-03-24 (regardless): "Synopsis" 2026-03-10 -> vera@museum.example\n')
    assert _count(factory) == before  # a query, not history
    again = _ingest(factory, _mail("pending?", "crm+secret+pending@example.org", mid="p1@me"), _box("pending"))
    assert again.reply is not None and again.reply.status == "duplicate" and again.reply.answer_to is None

    forward = _mail("Fwd: Смета на гастроли", "crm+secret+cancel@example.org", mid="c1@me",
                    body="---------- Forwarded message ---------\r\nFrom: Me <me@example.org>\r\n"
                         "Date: Tue, 10 Mar 2026 at 12:00\r\nSubject: Смета на гастроли\r\n"
                         "To: ivan@theatre.example\r\n\r\nHello")
    job = _ingest(factory, forward, _box("cancel"))
    assert job.reply is not None and job.reply.text == "Cancelled 1 follow-up(s).\n"
    with db.transaction(factory) as s:
        status = {m.subject: f.status for f, m in
                  s.execute(select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id))}
    assert status == {"Смета на гастроли": "cancelled", "Synopsis": "waiting"}

    # A typo: the mail is recorded as usual and the help comes back, never a silent drop.
    job = _ingest(factory, _mail("Contract", "oleg@kino.example", mid="t1@me"), _box("3x"))
    assert job.outcome == Outcome.STORED and job.reply is not None and job.reply.status == "help"
    assert "crm+secret+3x@example.org" in (job.reply.text or "") and "+tomorrow" in (job.reply.text or "")
    assert _count(factory) == before + 1

    answer = build_answer(CFG, job.reply, job.facts)  # type: ignore[arg-type]
    assert answer["Auto-Submitted"] == "auto-replied" and answer["To"] == "me@example.org"
    assert answer["In-Reply-To"] == "<t1@me>" and "+2026-04-01" in answer.get_content()


def test_only_the_dropbox_user_may_ask(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with pytest.raises(Rejected, match="not by the dropbox's user"):
        _ingest(factory, _mail("pending?", "crm+secret+pending@example.org", mid="x1@ann", sender="ann@example.org"),
                _box("pending", sender="ann@example.org"))
    # An auto-reply to +pending is never answered.
    job = _ingest(factory, _mail("Out of office", "crm+secret+pending@example.org", mid="x2@me",
                                 extra="Auto-Submitted: auto-replied\r\n"), _box("pending"))
    assert job.reply is not None and job.reply.status == "ignored" and job.reply.answer_to is None


PETROV = formataddr(("Иван Петров", "petrov@teatr.example"))  # RFC 2047 encoded, as clients send it


def test_find_answers_with_cards_or_a_list_to_narrow(store) -> None:  # type: ignore[no-untyped-def]
    from mailcrm.app import activities
    from mailcrm.app import deals as deal_store

    _, factory = store
    _ingest(factory, _mail("Гастроли", PETROV, mid="g1@me"), _box("3d"))
    _ingest(factory, _mail("Re: Гастроли", "me@example.org", mid="g2@them", sender=PETROV,
                           when=NOON + dt.timedelta(hours=2)), SpoolMeta(source="imap:box", role="inbox"))
    for i in range(5):
        _ingest(factory, _mail("Привет", formataddr((f"Актёр {i}", f"actor{i}@kino.example")), mid=f"k{i}@me"),
                SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"]))
    with db.transaction(factory) as s:
        activities.tag_contact(s, "petrov@teatr.example", ["театры"])
        c = deal_store.contact_for(s, "petrov@teatr.example")
        deal_store.create_deal(s, title="Гастроли 2026", contact_ids=[c.id], stage="brief", at=NOON)
        activities.log_call(s, "petrov@teatr.example", note="обсудили даты", when=NOON + dt.timedelta(hours=3))

    def find(subject: str, mid: str) -> str:
        job = _ingest(factory, _mail(subject, "crm+secret+find@example.org", mid=mid), _box("find"))
        assert job.outcome == Outcome.SKIPPED and job.reply is not None and job.reply.answer_to == "me@example.org"
        return job.reply.text or ""

    for query, mid in (("Петров", "f1@me"), ("teatr.example", "f2@me"), ("театры", "f3@me"), ("Fwd: ПЕТРОВ", "f4@me")):
        card = find(query, mid)
        assert card.startswith("Иван Петров"), card
        assert "petrov@teatr.example (active)" in card and "tags: театры" in card
        assert "deal: #" in card and "Гастроли 2026 (brief)" in card
        assert 'latest:' in card and '← "Re: Гастроли"' in card and '→ "Гастроли"' in card and "call: обсудили даты" in card
    listed = find("kino.example", "f5@me")
    assert listed.startswith('5 contacts match "kino.example"; narrow it down')
    assert "actor3@kino.example" in listed
    assert find("Сидоров", "f6@me") == 'Nothing matches "сидоров".\n'
