"""Commands in a reply to the digest (parse/digest_commands.py): pure, bytes in, commands out."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailcrm.parse.digest_commands import LineCommand, NotUnderstood, parse_lines, parse_reply

TODAY = dt.date(2026, 3, 4)  # a Wednesday


@pytest.mark.parametrize(("line", "command"), [
    ("1 done", LineCommand(1, "done")),
    ("1. done", LineCommand(1, "done")),
    ("1) Done", LineCommand(1, "done")),
    ("1 готово", LineCommand(1, "done")),
    ("1 позвонил, договорились на вторник", LineCommand(1, "call", "договорились на вторник")),
    ("1 called: will send the contract", LineCommand(1, "call", "will send the contract")),
    ("1 call", LineCommand(1, "call")),
    ("2 snooze 3d", LineCommand(2, "snooze", "3d", dt.date(2026, 3, 7))),
    ("2 отложить 3", LineCommand(2, "snooze", "3", dt.date(2026, 3, 7))),
    ("2 отложить 2 нед", LineCommand(2, "snooze", "2 нед", dt.date(2026, 3, 18))),
    ("2 snooze mon", LineCommand(2, "snooze", "mon", dt.date(2026, 3, 9))),
    ("2 snooze 15mar", LineCommand(2, "snooze", "15mar", dt.date(2026, 3, 15))),
    ("3 won", LineCommand(3, "won")),
    ("3 выиграна", LineCommand(3, "won")),
    ("4 lost дорого", LineCommand(4, "lost", "дорого")),
    ("4 проиграна: дорого", LineCommand(4, "lost", "дорого")),
    ("5 note прислать синопсис", LineCommand(5, "note", "прислать синопсис")),
    ("5 заметка — прислать синопсис", LineCommand(5, "note", "прислать синопсис")),
    ("  12   ГОТОВО  ", LineCommand(12, "done")),
])
def test_each_command(line: str, command: LineCommand) -> None:
    assert parse_lines(line, TODAY) == ((command,), ())


@pytest.mark.parametrize(("line", "reason"), [
    ("1 dance", "unknown command 'dance'"),
    ("1", "no command after the number"),
    ("0 done", "no command after the number"),
    ("2 snooze", "snooze needs a period: 3d, 2w, 1m, mon, 15mar or days"),
    ("2 отложить навсегда", "snooze needs a period: 3d, 2w, 1m, mon, 15mar or days"),
    ("2 snooze r3d", "snooze needs a period: 3d, 2w, 1m, mon, 15mar or days"),
    ("5 note", "note needs a text"),
])
def test_lines_not_understood_say_why(line: str, reason: str) -> None:
    assert parse_lines(line, TODAY) == ((), (NotUnderstood(line.strip(), reason),))


def test_unnumbered_lines_are_ignored() -> None:
    assert parse_lines("Hi!\nThanks for the digest.\n\n--\nIvan\n+7 916 123-45-67", TODAY) == ((), ())


@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    commands, bad = parse_lines(text, TODAY)
    assert all(c.number > 0 for c in commands)
    assert len(commands) + len(bad) <= 100


def _reply(body: str, *, headers: str = "", sender: str = "Me <me@example.org>") -> bytes:
    return (f"From: {sender}\r\nTo: crm@example.org\r\nSubject: Re: mailcrm: 5 to do\r\n"
            "Message-ID: <r1@phone>\r\nIn-Reply-To: <digest.1@example.org>\r\n"
            "References: <old@x> <digest.1@example.org>\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"{headers}\r\n{body}").encode()


QUOTED = ("1 позвонил, договорились на вторник\r\n2 snooze 3d\r\n3 выиграна\r\n4 lost дорого\r\n"
          "5 note прислать синопсис\r\n7 dance\r\n\r\n"
          "On Wed, 4 Mar 2026 at 08:00, mailcrm <crm@example.org> wrote:\r\n"
          "> == Call today (2) ==\r\n> 1. Гастроли — stage: invoiced\r\n> 2. Выставка — stage: brief\r\n")


def test_reply_above_the_quoted_digest() -> None:
    reply = parse_reply(_reply(QUOTED), TODAY)
    assert reply.sender == "me@example.org"
    assert reply.message_id == "r1@phone"
    assert reply.references[0] == "digest.1@example.org" and "old@x" in reply.references
    assert [(c.number, c.action) for c in reply.commands] == [
        (1, "call"), (2, "snooze"), (3, "won"), (4, "lost"), (5, "note")]
    assert reply.not_understood == (NotUnderstood("7 dance", "unknown command 'dance'"),)
    assert reply.language == "ru"
    assert reply.automated is None


def test_english_reply_language() -> None:
    assert parse_reply(_reply("1 done\r\n2 snooze 2w\r\n"), TODAY).language == "en"


@pytest.mark.parametrize(("headers", "sender", "reason"), [
    ("Auto-Submitted: auto-replied\r\n", "Me <me@example.org>", "Auto-Submitted: auto-replied"),
    ("List-Id: <news.example.org>\r\n", "Me <me@example.org>", "mailing list"),
    ("Precedence: bulk\r\n", "Me <me@example.org>", "Precedence: bulk"),
    ("X-Autoreply: yes\r\n", "Me <me@example.org>", "auto-responder header"),
    ("", "MAILER-DAEMON@mx.example.org", "bounce or no-reply sender"),
    ("", "noreply@example.org", "bounce or no-reply sender"),
])
def test_automated_mail_is_flagged(headers: str, sender: str, reason: str) -> None:
    assert parse_reply(_reply("1 done\r\n", headers=headers, sender=sender), TODAY).automated == reason


def test_auto_submitted_no_is_a_person() -> None:
    assert parse_reply(_reply("1 done\r\n", headers="Auto-Submitted: no\r\n"), TODAY).automated is None


def test_garbage_bytes_do_not_raise() -> None:
    reply = parse_reply(b"\x00\xff garbage", TODAY)
    assert reply.commands == () and reply.automated == "bounce or no-reply sender"
