"""Direct unit tests of the pure attach rules (domain/attach.py) and of message identity (parse/identity.py).

Messages are built as bytes and parsed by the real parser, so each case is a message a user could send.
"""

from __future__ import annotations

import datetime as dt

import pytest

from mailcrm.domain.attach import Context, plan_message, to_naive_utc
from mailcrm.parse.identity import content_hash, identity_key, message_ids, normalize_message_id, thread_key
from mailcrm.parse.message import parse_message

ME = "me@teatr.example"
BOX = "crm+k3f9q8x2@teatr.example"
NOW = dt.datetime(2026, 3, 1, 12, 0)


def ctx(role: str = "dropbox", create: bool = True) -> Context:
    return Context(user_addresses=frozenset({ME}), dropbox_addresses=frozenset({BOX}), role=role, create_contacts=create)


def parse(raw: bytes):  # type: ignore[no-untyped-def]
    return parse_message(raw, user_addresses=frozenset({ME}), dropbox_addresses=frozenset({BOX}))


def mail(headers: str, body: str = "Hello.\n") -> bytes:
    return (headers.strip() + "\nDate: Mon, 02 Feb 2026 10:00:00 +0300\nMessage-ID: <a1@teatr.example>\n\n" + body).encode()


def test_sent_copy_names_every_recipient_but_the_user_and_the_dropbox() -> None:
    facts = parse(mail(f"From: Me <{ME}>\nTo: Ivan <ivan@mxat.example>, {BOX}\nCc: olga@mxat.example, "
                               f"crm+k3f9q8x2+3d@teatr.example\nSubject: Пьеса"))
    plan = plan_message(facts, ctx(), NOW)
    assert plan.kind == "sent" and plan.direction == "out" and plan.user_address == ME
    assert [(p.address, p.role, p.direction, p.create) for p in plan.people] == [
        ("ivan@mxat.example", "to", "out", True), ("olga@mxat.example", "cc", "out", True)]
    assert plan.date == dt.datetime(2026, 2, 2, 7, 0)  # naive UTC
    assert plan.reject_reason is None and plan.skip_reason is None


def test_sent_role_follows_the_create_contacts_setting_and_skips_mail_to_nobody() -> None:
    facts = parse(mail(f"From: {ME}\nTo: ivan@mxat.example\nSubject: x"))
    assert [p.create for p in plan_message(facts, ctx("sent", create=False), NOW).people] == [False]
    alone = parse(mail(f"From: {ME}\nTo: {ME}\nSubject: note to self"))
    assert plan_message(alone, ctx("sent"), NOW).skip_reason == "no recipients"


def test_a_stranger_writing_to_the_dropbox_is_refused_but_read_from_the_inbox() -> None:
    facts = parse(mail(f"From: Boris <boris@spam.example>\nTo: {BOX}\nSubject: buy"))
    refused = plan_message(facts, ctx(), NOW)
    assert refused.reject_reason == "author boris@spam.example is not a registered user" and not refused.people
    inbox = parse(mail(f"From: Boris <boris@film.example>\nTo: {ME}\nSubject: re: script"))
    plan = plan_message(inbox, ctx("inbox"), NOW)
    assert plan.reject_reason is None and plan.user_address == ME and plan.signature_owner == "boris@film.example"
    assert [(p.address, p.role, p.direction, p.create) for p in plan.people] == [("boris@film.example", "from", "in", False)]


FORWARD = """From: Me <me@teatr.example>
To: crm+k3f9q8x2@teatr.example
Subject: Fwd: Ваша пьеса

---------- Forwarded message ---------
From: Anna Petrova <anna@publisher.example>
Date: Fri, 30 Jan 2026 at 09:15
Subject: Ваша пьеса
To: Me <me@teatr.example>, Pavel <pavel@publisher.example>

Спасибо, прочитаем.
"""


def test_a_forward_by_the_user_is_the_originals_received_mail() -> None:
    head, _, body = FORWARD.partition("\n\n")
    plan = plan_message(parse(mail(head, body)), ctx(), NOW)
    assert plan.kind == "received" and plan.direction == "in" and plan.signature_owner == "anna@publisher.example"
    assert [(p.address, p.role, p.create) for p in plan.people] == [
        ("anna@publisher.example", "original_from", True), ("pavel@publisher.example", "original_to", False)]
    assert plan.date.date() == dt.date(2026, 1, 30)  # the original's date, not the forward's


def test_a_forward_without_an_original_sender_is_refused() -> None:
    body = "---------- Forwarded message ---------\nFrom: John Doe\nSubject: x\n\ntext\n"
    plan = plan_message(parse(mail(f"From: {ME}\nTo: {BOX}\nSubject: Fwd: x", body)), ctx(), NOW)
    assert plan.kind == "forward" and plan.people == ()
    assert plan.reject_reason == "forward without a recognisable original sender"


def test_mail_with_no_author_is_refused() -> None:
    plan = plan_message(parse(b"Subject: nothing\n\nbody\n"), ctx(), NOW)
    assert plan.reject_reason == "message has no usable author" and plan.people == ()


def test_to_naive_utc() -> None:
    aware = dt.datetime(2026, 1, 1, 3, 0, tzinfo=dt.timezone(dt.timedelta(hours=3)))
    assert to_naive_utc(aware, NOW) == dt.datetime(2026, 1, 1, 0, 0)
    assert to_naive_utc(None, NOW) == NOW


# -- identity ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw, expected", [
    ("<Abc.123@Mail.Example.COM>", "Abc.123@mail.example.com"),  # the domain's case only
    ("  <a b@x.org>  ", "ab@x.org"),  # folded whitespace inside
    ("a1@x.org", "a1@x.org"),  # no brackets
    ("<>", None), ("", None), (None, None), ("short", None),
    ("<" + "a" * 901 + "@x.org>", None),
])
def test_message_ids_are_normalised(raw: str | None, expected: str | None) -> None:
    assert normalize_message_id(raw) == expected


def test_references_keep_order_and_drop_repeats_and_junk() -> None:
    assert message_ids("<a@X.org> <b@y.org>\r\n <a@x.org> <>") == ("a@x.org", "b@y.org")
    assert message_ids("a@x.org b@y.org") == ("a@x.org", "b@y.org")
    assert message_ids(None) == ()


def test_identity_key_prefers_the_message_id_and_else_hashes_content() -> None:
    assert identity_key("a@x.org", "f@x.org", "d", "s", "b") == "mid:a@x.org"
    one = identity_key(None, "F@x.org", " Mon ", "s", "Hello   world\n")
    assert one == identity_key(None, "f@x.org", "Mon", "s", "Hello world")  # case of From and whitespace do not count
    assert one != identity_key(None, "f@x.org", "Mon", "s", "Hello world!")
    assert one == "hash:" + content_hash("f@x.org", "Mon", "s", "Hello world")


def test_thread_key_is_the_root_of_the_thread() -> None:
    assert thread_key("c@x", "b@x", ("a@x", "b@x"), "f") == "a@x"
    assert thread_key("c@x", "b@x", (), "f") == "b@x"
    assert thread_key("c@x", None, (), "f") == "c@x"
    assert thread_key(None, None, (), "f") == "f"
