"""Follow-ups by sub-address (issue 27): BCC crm+<secret>+3d@ records the mail and, unless answered, the digest
on the due day lists it with the original subject and date (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from email.utils import format_datetime

from sqlalchemy import func, select

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.digest.compose import make_digest
from mailcrm.spool import SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import FollowUp, Message

CFG = config.parse(
    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
    'timezone = "Europe/Moscow"\nlanguage = "en"\n', "test")
USER = CFG.users[0]
INBOX = SpoolMeta(source="imap:box", role="inbox")
NOON = dt.datetime(2026, 3, 10, 9, 0)  # naive UTC: 12:00 in Moscow, a Tuesday


def box(word: str) -> SpoolMeta:
    """The SMTP envelope of a mail BCC'd to the dropbox sub-address ``word``."""
    return SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=[f"crm+secret+{word}@example.org"])


def mail(subject: str, to: str, when: dt.datetime, *, sender: str = "Me <me@example.org>", mid: str,
         reply_to: str | None = None) -> bytes:
    """A small RFC 5322 message dated ``when`` (naive UTC)."""
    head = (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: <{mid}>\r\n"
            f"Date: {format_datetime(when.replace(tzinfo=dt.timezone.utc))}\r\n")
    if reply_to:
        head += f"In-Reply-To: <{reply_to}>\r\nReferences: <{reply_to}>\r\n"
    return (head + "\r\nHello\r\n").encode()


def ingest(factory, raw: bytes, meta: SpoolMeta, now: dt.datetime = NOON) -> pipeline.Job:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        return pipeline.ingest(s, CFG, meta, raw, now=now)


def digest_text(factory, day: dt.date) -> str:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        digest, rendered = make_digest(s, CFG, USER, day)
    assert digest.summary()["follow_ups"] == len(digest.follow_ups)
    return rendered.text


def test_follow_up_shows_on_its_day_unless_answered(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Смета на гастроли", "Ivan <ivan@theatre.example>", NOON, mid="a1@me"), box("3d"))
    ingest(factory, mail("Synopsis", "vera@museum.example", NOON, mid="b1@me"), box("3d"))
    ingest(factory, mail("Invoice", "oleg@kino.example", NOON, mid="c1@me"), box("r3d"))
    ingest(factory, mail("Poster", "pavel@opera.example", NOON, mid="d1@me"), box("3d"))
    with db.transaction(factory) as s:
        rows = {m.subject: (f.due, f.always, f.status) for f, m in
                s.execute(select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id))}
        assert s.scalar(select(func.count()).select_from(Message)) == 4  # each mail recorded as usual
    assert rows == {"Смета на гастроли": (dt.date(2026, 3, 13), False, "waiting"),
                    "Synopsis": (dt.date(2026, 3, 13), False, "waiting"),
                    "Invoice": (dt.date(2026, 3, 13), True, "waiting"),
                    "Poster": (dt.date(2026, 3, 13), False, "waiting")}
    # Vera replies in the thread (read from the inbox); Oleg too, but his was +r3d; Pavel writes about something else.
    later = NOON + dt.timedelta(days=1)
    ingest(factory, mail("Re: Synopsis", "me@example.org", later, sender="vera@museum.example", mid="b2@them",
                         reply_to="b1@me"), INBOX, later)
    ingest(factory, mail("Re: Invoice", "me@example.org", later, sender="oleg@kino.example", mid="c2@them",
                         reply_to="c1@me"), INBOX, later)
    ingest(factory, mail("Another thing", "me@example.org", later, sender="pavel@opera.example", mid="d2@them"),
           INBOX, later)

    assert "Follow up" not in digest_text(factory, dt.date(2026, 3, 12))  # not yet due
    text = digest_text(factory, dt.date(2026, 3, 13))
    section = text.split("== Follow up: no answer yet (2) ==")[1].split("==")[0]
    assert 'ivan@theatre.example: "Смета на гастроли", sent 2026-03-10 12:00' in section or \
        'Ivan: "Смета на гастроли", sent 2026-03-10 12:00' in section
    assert '"Invoice", sent 2026-03-10 12:00 (reminder)' in section
    assert "Synopsis" not in section and "Poster" not in section
    # A day without a digest loses nothing: still listed the day after, with its due date.
    assert "due since 2026-03-13" in digest_text(factory, dt.date(2026, 3, 14))


def test_follow_up_forms_and_refusals(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("A", "a@x.example", NOON, mid="f1@me"), box("mon"))  # next Monday
    ingest(factory, mail("B", "b@x.example", NOON, mid="f2@me"), box("2026-04-01"))
    ingest(factory, mail("C", "c@x.example", NOON, mid="f3@me"), box("3x"))  # unknown: mail kept, no follow-up
    ingest(factory, mail("D", "d@x.example", NOON, mid="f4@me"), box("deal"))  # a command, not a date
    ingest(factory, mail("A", "a@x.example", NOON, mid="f1@me"), box("mon"))  # delivered twice: acts once
    with db.transaction(factory) as s:
        got = sorted((m.subject, f.due) for f, m in
                     s.execute(select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id)))
        subjects = sorted(s.scalars(select(Message.subject)))
    assert got == [("A", dt.date(2026, 3, 16)), ("B", dt.date(2026, 4, 1))]
    assert subjects == ["A", "B", "C", "D"]
