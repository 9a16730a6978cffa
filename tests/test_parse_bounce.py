"""Bounce detection, failed recipients and hard vs soft on hand-made reports (tests/data/bounces)."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from mailcrm.parse.bounce import MAX_RECIPIENTS, clean_address, detect_bounce
from mailcrm.parse.bounce_reason import classify
from mailcrm.parse.message import parse_message
from mailcrm.parse.mime import parse_bytes

DATA = Path(__file__).parent / "data" / "bounces"


def load(name: str) -> bytes:
    return (DATA / name).read_bytes()


def test_postfix_dsn_user_unknown_is_hard_with_original_headers() -> None:
    facts = parse_message(load("postfix_5_1_1.eml"))
    assert facts.kind == "bounce"
    b = facts.bounce
    assert b is not None
    assert [(r.address, r.hard, r.status, r.reason) for r in b.recipients] == [
        ("ivan.petrov@client.example", True, "5.1.1", "userunknown")
    ]
    assert b.original_message_id == "Offer-42@ourfirm.example"
    assert b.original_from == "anna@ourfirm.example"
    assert b.original_to == ("ivan.petrov@client.example",)
    assert b.original_subject == "Offer for March"
    assert b.reporting_mta == "mx.example.org"


def test_crlf_variant_gives_the_same_bounce() -> None:
    raw = load("postfix_5_1_1.eml")
    assert parse_message(raw.replace(b"\n", b"\r\n")).bounce == parse_message(raw).bounce


def test_spam_rejection_5_7_1_is_soft() -> None:
    b = parse_message(load("spam_5_7_1.eml")).bounce
    assert b is not None
    (r,) = b.recipients
    assert (r.address, r.hard, r.status, r.reason) == ("ivan.petrov@client.example", False, "5.7.1", "spamdetected")


def test_delayed_dsn_is_a_soft_report_named_delayed() -> None:
    # Not delivered yet (still retried): a report the user should see, never one that kills.
    facts = parse_message(load("delayed.eml"))
    assert facts.kind == "bounce"
    assert facts.bounce is not None
    (r,) = facts.bounce.recipients
    assert (r.address, r.hard, r.status, r.reason) == ("ivan.petrov@client.example", False, "4.4.1", "delayed")


def test_delayed_recipients_stay_soft_whatever_the_text_says_and_failed_ones_keep_their_verdict() -> None:
    raw = load("delayed.eml").replace(b"Status: 4.4.1", b"Status: 5.1.1")
    raw = raw.replace(b"--BND2--", b"""--BND2\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.org\n
Final-Recipient: rfc822; gone@client.example\nAction: failed\nStatus: 5.1.1\n
Diagnostic-Code: smtp; 550 5.1.1 <gone@client.example>: User unknown\n\n--BND2--""")
    b = parse_message(raw).bounce
    assert b is not None
    assert {(r.address, r.hard, r.reason) for r in b.recipients} == {
        ("ivan.petrov@client.example", False, "delayed"), ("gone@client.example", True, "userunknown")}


def test_a_report_of_delivered_recipients_only_is_not_a_bounce() -> None:
    raw = load("delayed.eml").replace(b"Action: delayed", b"Action: delivered").replace(b"Status: 4.4.1", b"Status: 2.0.0")
    facts = parse_message(raw)
    assert facts.bounce is None
    assert facts.kind != "bounce"


def test_yandex_russian_dsn_user_not_found_is_hard() -> None:
    facts = parse_message(load("yandex_ru_user_unknown.eml"))
    assert facts.bounce is not None
    (r,) = facts.bounce.recipients
    assert (r.address, r.hard, r.reason) == ("olga@client.example", True, "userunknown")
    assert facts.bounce.original_message_id == "ya-777@ourfirm.example"  # from text/rfc822-headers


def test_mailru_plain_text_mailbox_full_is_soft() -> None:
    b = parse_message(load("mailru_ru_mailbox_full.eml")).bounce
    assert b is not None
    (r,) = b.recipients
    assert (r.address, r.hard, r.reason, r.status) == ("petr@mail.example", False, "mailboxfull", "5.2.2")
    assert b.original_message_id == "inv-1@ourfirm.example"  # quoted headers in the body


def test_mailru_plain_text_russian_no_such_mailbox_is_hard() -> None:
    b = parse_message(load("mailru_ru_user_unknown.eml")).bounce
    assert b is not None
    assert [(r.address, r.hard) for r in b.recipients] == [("nobody@mail.example", True)]


def test_yandex_russian_spam_rejection_is_soft_with_decoded_original_subject() -> None:
    b = parse_message(load("yandex_ru_spam_rejected.eml")).bounce
    assert b is not None
    assert [(r.address, r.hard, r.reason) for r in b.recipients] == [("sergey@partner.example", False, "spamdetected")]
    assert (b.original_message_id, b.original_subject) == ("ya-spam-1@ourfirm.example", "Предложение")


def test_sendmail_rejection_after_pipelined_data_is_soft() -> None:
    b = parse_message(load("sendmail_pipelined_data.eml")).bounce
    assert b is not None
    (r,) = b.recipients
    # "User unknown" answered DATA (Status 5.0.0): a filter spoke, the address may well exist.
    assert (r.address, r.hard, r.status) == ("ivan@client.example", False, "5.0.0")
    # The same report with an explicit 5.1.1 mailbox code is a dead address.
    b2 = parse_message(load("sendmail_pipelined_data.eml").replace(b"Status: 5.0.0", b"Status: 5.1.1")).bounce
    assert b2 is not None and [(x.address, x.hard) for x in b2.recipients] == [("ivan@client.example", True)]


def test_short_notice_naming_one_address_in_no_known_layout() -> None:
    raw = (b"From: list-admin@lists.example\nTo: list-admin@lists.example\nSubject: Loop Alert: Duplicated Message-ID\n\n"
           b"Duplicated Message-ID in <member@client.example>.\n")
    b = parse_message(raw).bounce
    assert b is not None
    assert [(r.address, r.hard) for r in b.recipients] == [("member@client.example", False)]


def test_forged_bounce_without_original_is_detected_but_carries_no_original() -> None:
    b = parse_message(load("forged_no_original.eml")).bounce
    assert b is not None
    assert [r.address for r in b.recipients] == ["ceo@bigclient.example"]
    assert b.original_message_id is None and b.original_from is None


def test_auto_reply_and_challenge_are_not_bounces() -> None:
    for name in ("vacation_ru.eml", "ooo_en.eml", "challenge.eml", "left_company.eml"):
        assert detect_bounce(parse_bytes(load(name))) is None, name


@pytest.mark.parametrize(
    ("status", "text", "reason", "hard"),
    [
        ("5.1.1", "550 5.1.1 <a@b.example>: Recipient address rejected: User unknown", "userunknown", True),
        ("5.1.1", "550 5.1.1 <a@b.example>... Mailbox full", "mailboxfull", False),  # text beats code
        ("5.7.1", "550 5.7.1 User unknown", "filtered", False),  # X.7 is policy: a filter speaking
        ("5.7.1", "554 5.7.1 Service unavailable; client host blocked using zen.spamhaus.org", "spamdetected", False),
        ("5.2.2", "552 5.2.2 Quota exceeded", "mailboxfull", False),
        (None, "550 Host or domain name not found. Name service error for name=nx.example type=A: Host not found",
         "hostunknown", True),
        ("5.1.10", "550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup", "userunknown", True),
        ("4.4.7", "Delivery time expired", "expired", False),
        ("4.2.2", "452 4.2.2 Mailbox full", "mailboxfull", False),
        ("5.0.0", "550 Unknown user a@b.example (in reply to end of DATA command)", "filtered", False),
        ("5.1.1", "550 5.1.1 Account disabled", "suspend", False),
        (None, "550 Пользователь не найден", "userunknown", True),
        (None, "552 Почтовый ящик переполнен", "mailboxfull", False),
        (None, "550 5.1.0 Sender address rejected: domain does not exist (after MAIL FROM)", "rejected", False),
        ("5.1.6", "551 User has moved; please try <new@b.example>", "hasmoved", True),
        ("5.1.1", "The email account that you tried to reach is disabled.", "suspend", False),
        (None, "", "undefined", False),
        # The refusal answered RCPT TO itself: the mailbox lookup failed, whatever the X.7 code says.
        ("5.7.1", ">>> RCPT To:<a@b.example> <<< 550 5.7.1 No such user", "userunknown", True),
        # Pipelined DATA (Sendmail): only an explicit X.1.x code names the mailbox bad.
        ("5.0.0", ">>> DATA <<< 550 5.0.0 <a@b.example>... User unknown <<< 503 5.0.0 Need RCPT", "filtered", False),
        ("5.1.1", ">>> DATA <<< 550 <a@b.example>: User unknown <<< 554 Error: no valid recipients", "userunknown", True),
        # A generic phrase with no SMTP code, no X.1.x code and no stage is doubt: Sisimai's "filtered" ...
        (None, "<a@b.example>: This user doesn't have a b.example account (a@b.example) [-9]", "filtered", False),
        # ... and so is a bare 5xx reply with it (Sisimai: userunknown needs an X.1.x code or the RCPT stage) ...
        (None, "554 delivery error: dd This user doesn't have a b.example account", "filtered", False),
        # ... but the same phrase answering RCPT TO, or an MTA's own lookup wording, is a verdict.
        (None, "554 delivery error: dd This user doesn't have a b.example account (in reply to RCPT TO command)",
         "userunknown", True),
        (None, "Invalid final delivery userid: a@b.example", "userunknown", True),
        (None, "Пользователь не найден", "userunknown", True),
    ],
)
def test_classifier(status: str | None, text: str, reason: str, hard: bool) -> None:
    assert classify(status, text) == (reason, hard)


def test_clean_address_rejects_junk_and_keeps_the_one_address() -> None:
    assert clean_address("rfc822; <Ivan@Client.Example>") == "ivan@client.example"
    assert clean_address("rfc822;|/usr/bin/procmail ivan@client.example /home/x") == "ivan@client.example"
    assert clean_address("rfc822; /var/spool/mail/ivan") is None
    assert clean_address("") is None


def test_never_raises_on_garbage_or_truncated_reports() -> None:
    rng = random.Random(4)
    samples = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000))) for _ in range(60)]
    full = load("postfix_5_1_1.eml")
    samples += [full[:n] for n in range(0, len(full), 97)]
    samples += [b"Content-Type: multipart/report; boundary=x\n\n--x\nContent-Type: message/delivery-status\n\nAction: failed\n"]
    kinds = set()
    for raw in samples:
        facts = parse_message(raw)  # must not raise
        assert not any(d.startswith("bounce:") for d in facts.defects), facts.defects
        kinds.add(facts.kind)
    assert "bounce" in kinds  # the longer truncations still read as bounces


HEAD = (b"From: MAILER-DAEMON@mx.example\nReturn-Path: <>\nSubject: Undelivered Mail Returned to Sender\n"
        b"To: anna@ourfirm.example\n\n")


def test_nul_bytes_and_truncated_dsn_fields_never_raise() -> None:
    samples = [
        HEAD + b"\x00" * 100_000 + b"<a@b.example>: 550 5.1.1 user unknown\n",
        HEAD.replace(b"\n\n", b"\nContent-Type: multipart/report; boundary=q\n\n") + b"--q\nContent-Type: message/delivery-status\n\n"
        b"Final-Recipient: rfc822;\nAction:\nStatus: 5.\nDiagnostic-Code: smtp; \x00\xff\xfe",
        b"Content-Type: message/delivery-status\n\nFinal-Recipient: rfc822; <>\nAction: failed",
    ]
    for raw in samples:
        facts = parse_message(raw)  # must not raise
        assert not any(d.startswith("bounce:") for d in facts.defects), facts.defects


def test_enormous_reports_are_capped_and_fast() -> None:
    """A report naming tens of thousands of addresses, or megabytes of junk, stays well under a second or two."""
    many = HEAD + b"".join(b"<u%d@h%d.example>: 550 5.1.1 user unknown\n" % (i, i) for i in range(30_000))
    dsn = (b"From: MAILER-DAEMON@mx.example\nContent-Type: multipart/report; report-type=delivery-status; boundary=x\n\n"
           b"--x\nContent-Type: message/delivery-status\n\n"
           + b"".join(b"Final-Recipient: rfc822; u%d@h.example\nAction: failed\nStatus: 5.1.1\n\n" % i for i in range(20_000))
           + b"--x--\n")
    junk = b"From: someone@client.example\nSubject: hello\n\n" + (b"delivery to the following recipient failed " * 60_000)
    for raw, expect_bounce in ((many, True), (dsn, True), (junk, False)):
        start = time.perf_counter()
        b = detect_bounce(parse_bytes(raw))
        elapsed = time.perf_counter() - start
        assert elapsed < 3.0, elapsed  # was minutes before the caps (quadratic context search)
        assert (b is not None) == expect_bounce
        if b is not None:
            assert len(b.recipients) == MAX_RECIPIENTS
            assert all(r.hard for r in b.recipients)


def test_a_bounce_forwarded_inline_by_a_client_that_names_no_daemon_is_still_a_bounce() -> None:
    # Outlook's forward header: the report's sender by display name only, the human text kept.
    body = ("Ivan's address bounced, see below.\r\n\r\n________________________________\r\n"
            "From: Mail Delivery System\r\nSent: Tuesday, March 4, 2025 10:00\r\nTo: Anna\r\n"
            "Subject: Undelivered Mail Returned to Sender\r\n\r\nThis is the mail system at host mx.example.org.\r\n\r\n"
            "I'm sorry to have to inform you that your message could not\r\nbe delivered to one or more recipients.\r\n\r\n"
            "<ivan.petrov@client.example>: host mail.client.example[192.0.2.10] said: 550\r\n"
            "    5.1.1 <ivan.petrov@client.example>: Recipient address rejected: User\r\n"
            "    unknown in virtual mailbox table (in reply to RCPT TO command)\r\n")
    raw = ("From: Anna <anna@ourfirm.example>\r\nTo: crm@ourfirm.example\r\nSubject: FW: Undelivered Mail Returned to Sender\r\n"
           "Date: Tue, 04 Mar 2025 11:00:00 +0300\r\nMessage-ID: <fw1@ourfirm.example>\r\n\r\n" + body).encode()
    facts = parse_message(raw, user_addresses=frozenset({"anna@ourfirm.example"}))
    assert facts.kind == "bounce"
    assert facts.bounce is not None
    assert [(r.address, r.hard, r.status) for r in facts.bounce.recipients] == [("ivan.petrov@client.example", True, "5.1.1")]
    assert not [d for d in facts.defects if d.startswith(("bounce", "autoreply"))]
