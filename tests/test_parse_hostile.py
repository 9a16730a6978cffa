"""Hostile mail: long runs built to make pattern matching backtrack change nothing that is read.

Anyone may mail the dropbox a delivery report (null sender), so a message made of a 30,000-
character line of dashes, 20,000 blank lines or an unbroken base64 line must cost what any
message of its size costs, and must still be read right.  Before the patterns (ours and the
libraries': email-forward-parser, flufl.bounce) were bounded, several of these took minutes at
this size (``bench/pathological.py`` measures how parse time grows with such runs; a timing
is not asserted here).  Here each run sits where it carries no answer but is read: in a bounce's
report and its copy of the original message, before a forward's separator and in the forwarded
text, in a reply's quote, in a header.  The answers must stay what they are without it.
"""

from __future__ import annotations

import random

import pytest

from mailcrm.parse.message import parse_message
from mailcrm.parse.mime import MAX_SUBJECT

ME = frozenset({"me@example.org"})
N = 30_000
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
RUNS = {
    "blank lines": "\n" * (N // 2),
    "blank-looking lines": " \n" * (N // 2),
    "spaces": "x" + " " * N + "x",
    "tabs": "x" + "\t" * N + "x",
    "no-break spaces": "x" + "\u00a0" * N + "x",
    "letters without @": "a" * N,
    "base64 line": "".join(random.Random(5).choice(_B64) for _ in range(N)),
    "dotted words": "a." * (N // 2),
    "quote markers": ">" * N,
    "dashes": "-" * N,
    "equals signs": "=" * N,
    "colons": ":" * N,
    "header-like lines": "From: x\n" * (N // 8),
    "encoded-word openers": "=?" * (N // 2),
}


def _mail(headers: str, body: str) -> bytes:
    return (headers + "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n" + body).encode()


def _bounce(run: str) -> bytes:
    # Header-like lines in the report itself would start the copy of the original there: they
    # go into the copy only.
    lead = "" if run.startswith("From:") else run
    return _mail("From: MAILER-DAEMON@mx.example\nTo: me@example.org\nSubject: Undelivered Mail Returned to Sender\n",
                 "This is the mail system at host mx.example.\n\nI'm sorry to have to inform you that your message "
                 f"could not be delivered to one or more recipients.\n{lead}\n\n<ivan@theatre.example>: host mx.theatre.example "
                 "said: 550 5.1.1 <ivan@theatre.example>: Recipient address rejected: User unknown\n\n"
                 "------ This is a copy of the message, including all the headers. ------\n\n"
                 "From: Me <me@example.org>\nTo: Ivan <ivan@theatre.example>\nSubject: play\n\n"
                 f"Hello Ivan,\n{run}\n")


def _forward(run: str) -> bytes:
    return _mail("From: Me <me@example.org>\nTo: crm@example.org\nSubject: Fwd: the play\n",
                 f"see below\n{run}\n\n---------- Forwarded message ---------\nFrom: Ivan Petrov <ivan@theatre.example>\n"
                 f"Date: Mon, 1 Jan 2024 10:00:00 +0300\nSubject: the play\nTo: Me <me@example.org>\n\nHello,\n{run}\n")


def _reply(run: str) -> bytes:
    quoted = "\n".join("> " + line for line in run.split("\n"))
    return _mail("From: Ivan Petrov <ivan@theatre.example>\nTo: Me <me@example.org>\nSubject: Re: the play\n",
                 "Thank you, we accept the play for the spring season.\n\nBest regards,\nIvan Petrov\n"
                 "Artistic director\n\nOn Mon, 1 Jan 2024 at 10:00, Me <me@example.org> wrote:\n"
                 f"> Dear Ivan,\n{quoted}\n")


def test_the_messages_without_a_run_give_the_answers_the_hostile_ones_are_held_to() -> None:
    bounce, forward, reply = (parse_message(m(""), user_addresses=ME) for m in (_bounce, _forward, _reply))
    assert bounce.bounce is not None and [(r.address, r.hard) for r in bounce.bounce.recipients] == \
        [("ivan@theatre.example", True)]
    assert forward.kind == "forward" and forward.forwarded is not None
    assert forward.forwarded.from_ is not None and forward.forwarded.from_.address == "ivan@theatre.example"
    assert reply.reply_text.startswith("Thank you, we accept the play")
    assert reply.signature is not None and reply.signature.name == "Ivan Petrov"


@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_hostile_run_leaves_bounce_forward_and_reply_readable(name: str) -> None:
    run = RUNS[name]
    bounce = parse_message(_bounce(run), user_addresses=ME)
    assert bounce.kind == "bounce" and bounce.bounce is not None
    assert [(r.address, r.hard) for r in bounce.bounce.recipients] == [("ivan@theatre.example", True)]
    forward = parse_message(_forward(run), user_addresses=ME)
    assert forward.kind == "forward" and forward.forwarded is not None and forward.forwarded.from_ is not None
    assert (forward.forwarded.from_.name, forward.forwarded.from_.address) == ("Ivan Petrov", "ivan@theatre.example")
    reply = parse_message(_reply(run), user_addresses=ME)
    clean = parse_message(_reply(""), user_addresses=ME)
    assert (reply.reply_text, reply.snippet) == (clean.reply_text, clean.snippet)
    assert reply.signature is not None and clean.signature is not None
    assert (reply.signature.name, reply.signature.title) == (clean.signature.name, clean.signature.title)


@pytest.mark.parametrize("name", ["dashes", "spaces", "tabs", "base64 line", "colons", "encoded-word openers"])
def test_a_hostile_run_in_a_header_is_kept_as_text(name: str) -> None:
    run = RUNS[name]
    facts = parse_message(_mail(f"From: Ivan <ivan@theatre.example>\nTo: me@example.org\nSubject: {run}\n",
                                "Hello\n"), user_addresses=ME)
    assert facts.kind == "received" and facts.from_ is not None and facts.from_.address == "ivan@theatre.example"
    # A subject is read and kept up to MAX_SUBJECT characters; the rest is noted as a defect.
    assert facts.subject == run[:MAX_SUBJECT] and any("Subject longer than" in d for d in facts.defects)
