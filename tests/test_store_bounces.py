"""Bounce rules against a real store (SQLite and PostgreSQL): soft bounces are scored, hard ones kill."""

from __future__ import annotations

from sqlalchemy import select
from test_store_pipeline import ingest, mail

from mailcrm import config
from mailcrm.app import apply as pipeline
from mailcrm.spool import SpoolMeta
from mailcrm.store import db, repository
from mailcrm.store.models import EmailAddress, Message

BOUNCE_META = SpoolMeta(source="smtp", mail_from="", rcpt_tos=["crm+secret@example.org"])
META2 = SpoolMeta(source="smtp", mail_from="me@example.org", rcpt_tos=["crm+secret@example.org"])


def dsn(day: int, status: str, diag: str, mid: str = "s1@example.org") -> bytes:
    """A Postfix-style RFC 3464 report about our message ``mid`` to olga@theatre.example."""
    return (
        f"From: MAILER-DAEMON@mx.theatre.example\r\nTo: me@example.org\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: {day:02d} Nov 2026 10:00:00 +0000\r\n"
        f"Message-ID: <dsn-{day}-{status}@mx.theatre.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.theatre.example\r\n\r\n"
        f"Final-Recipient: rfc822; olga@theatre.example\r\nAction: failed\r\nStatus: {status}\r\n"
        f"Diagnostic-Code: smtp; {diag}\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: Me <me@example.org>\r\nTo: olga@theatre.example\r\nMessage-ID: <{mid}>\r\n"
        "--B--\r\n"
    ).encode()


def status(factory) -> str:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        return s.scalar(select(EmailAddress.status).where(EmailAddress.address == "olga@theatre.example"))


def test_soft_bounces_on_five_days_mark_the_address(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))
    for day in (4, 5, 6, 7):
        ingest(factory, dsn(day, "4.2.2", "452 4.2.2 Mailbox full"), BOUNCE_META)
        ingest(factory, dsn(day, "5.2.2", "552 5.2.2 Mailbox full, try later") .replace(b"dsn-", b"dsn2-"),
               BOUNCE_META)  # a second one the same day counts once
    assert status(factory) == "active"  # four days: below the default threshold of five
    ingest(factory, dsn(8, "4.2.2", "452 4.2.2 Mailbox full"), BOUNCE_META)
    # A run of soft failures makes the address suspect ("check this address"), never dead (issue 20).
    assert status(factory) == "suspect"
    with db.transaction(factory) as s:
        card = repository.contact_card(s, "olga@theatre.example")
        assert {i["kind"] for i in card["timeline"]} >= {"sent", "bounce"}  # history kept


def test_policy_rejection_never_kills_and_hard_bounce_does(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))
    ingest(factory, dsn(4, "5.7.1", "550 5.7.1 Message rejected as spam"), BOUNCE_META)
    assert status(factory) == "active"
    ingest(factory, dsn(5, "5.1.1", "550 5.1.1 <olga@theatre.example>: Recipient address rejected: User unknown"),
           BOUNCE_META)
    assert status(factory) == "bounced"


def test_delay_notices_are_on_the_timeline_but_never_add_up_to_bounced(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))
    for day in (4, 5, 6, 7, 8, 9):  # six days of "still retrying", even one that quotes a 5.1.1 text
        ingest(factory, dsn(day, "4.4.7" if day < 9 else "5.1.1", "unable to deliver this message after 1 day")
               .replace(b"Action: failed", b"Action: delayed"), BOUNCE_META)
    assert status(factory) == "active"
    with db.transaction(factory) as s:
        card = repository.contact_card(s, "olga@theatre.example")
        notes = [i for i in card["timeline"] if i["kind"] == "bounce" and i.get("data")]  # activities, not the mails
        assert len(notes) == 6
        assert all(i["data"]["effect"] == "delayed" and i["text"].startswith("delivery to olga@theatre.example delayed")
                   for i in notes)
    # Four real soft bounces after six delays: still below five, the delays did not count.
    for day in (10, 11, 12, 13):
        ingest(factory, dsn(day, "4.2.2", "452 4.2.2 Mailbox full"), BOUNCE_META)
    assert status(factory) == "active"
    ingest(factory, dsn(14, "4.2.2", "452 4.2.2 Mailbox full"), BOUNCE_META)
    assert status(factory) == "suspect"  # a run of soft failures: check this address, not dead (issue 20)


def test_a_bounce_the_user_forwards_inline_marks_the_address_and_belongs_to_that_user(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    two = config.parse('[[users]]\nemail = "me@example.org"\ndropbox = "crm+secret@example.org"\n'
                       '[[users]]\nemail = "kate@example.org"\ndropbox = "crm+kate@example.org"\n', "test")

    def feed(raw: bytes, meta: SpoolMeta = META2) -> pipeline.Job:
        with db.transaction(factory) as s:
            repository.sync_users(s, two)
            return pipeline.ingest(s, two, meta, raw)

    feed(mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))
    body = ("\r\n---------- Forwarded message ---------\r\nFrom: Mail Delivery System <MAILER-DAEMON@mx.theatre.example>\r\n"
            "Date: Wed, 4 Nov 2026 at 10:00\r\nSubject: Undelivered Mail Returned to Sender\r\nTo: <me@example.org>\r\n\r\n"
            "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n"
            "<olga@theatre.example>: host mx.theatre.example[192.0.2.1] said: 550 5.1.1\r\n"
            "    <olga@theatre.example>: Recipient address rejected: User unknown\r\n")
    job = feed(mail("Fwd: Undelivered Mail Returned to Sender", "crm+secret@example.org", mid="fb1@example.org",
                    body=body))
    assert job.plan.kind == "bounce"
    # The forwarded report quotes no original (no Message-ID): suspect until a second independent
    # report or the user's `address confirm-bounced` (issue 20).
    assert status(factory) == "suspect"
    with db.transaction(factory) as s:
        msg = s.scalar(select(Message).where(Message.message_id == "fb1@example.org"))
        assert msg.user_id is not None and msg.user_id == repository.user_id_for(s, "me@example.org")


def test_unquoted_report_makes_suspect_a_second_one_a_day_later_kills(store) -> None:  # type: ignore[no-untyped-def]
    """Issue 20: a permanent 'user unknown' without the original is suspect; an independent one >= 24 h later kills."""
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))

    def unquoted(day: int) -> bytes:
        return dsn(day, "5.1.1", "550 5.1.1 <olga@theatre.example>: Recipient address rejected: User unknown") \
            .split(b"--B\r\nContent-Type: text/rfc822-headers")[0] + b"--B--\r\n"

    ingest(factory, unquoted(4), BOUNCE_META)
    assert status(factory) == "suspect"
    ingest(factory, unquoted(4).replace(b"dsn-4-", b"dsn-4b-"), BOUNCE_META)  # same day: not independent
    assert status(factory) == "suspect"
    ingest(factory, unquoted(6), BOUNCE_META)
    assert status(factory) == "bounced"


def test_quoted_original_kills_and_filtered_never_does(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))
    ingest(factory, dsn(4, "5.7.1", "550 5.7.1 Message rejected by the recipient's spam filter"), BOUNCE_META)
    assert status(factory) == "active"  # filtered: never kills
    ingest(factory, dsn(5, "5.1.1", "550 5.1.1 <olga@theatre.example>: Recipient address rejected: User unknown"),
           BOUNCE_META)
    assert status(factory) == "bounced"  # permanent userunknown tied by the quoted Message-ID


def test_confirm_bounced_and_reactivate_a_suspect_address(store) -> None:  # type: ignore[no-untyped-def]
    from mailcrm.app import bounces as bounce_rules

    _, factory = store
    ingest(factory, mail("Пьеса", "Olga <olga@theatre.example>", mid="s1@example.org"))
    for day in (4, 5, 6, 7, 8):
        ingest(factory, dsn(day, "4.2.2", "452 4.2.2 Mailbox full"), BOUNCE_META)
    assert status(factory) == "suspect"
    with db.transaction(factory) as s:
        assert bounce_rules.reactivate(s, "olga@theatre.example")["status"] == "active"
    with db.transaction(factory) as s:
        assert bounce_rules.confirm_bounced(s, "olga@theatre.example")["status"] == "bounced"
    assert status(factory) == "bounced"
