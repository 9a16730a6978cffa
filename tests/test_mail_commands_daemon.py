"""Talking to mailcrm by mail (issue 27), against the running daemon: real SMTP in, the aiosmtpd test relay
capturing the digest and mailcrm's answers, a real store (SQLite, and PostgreSQL when reachable).

A ``+3d`` follow-up is in the digest three days later when nobody answered and not when a reply came
(time is advanced the way the digest daemon tests do it: the stored mail is moved three days back);
``+find`` is answered with the card; an answer the relay cannot take is kept and retried until it can,
and sent once.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import free_port, wait_for
from daemon_proc import DaemonProcess
from relay import Relay
from sqlalchemy import select

from mailcrm.store import db
from mailcrm.store.models import AnswerOutbox, FollowUp, Message, Participant

pytestmark = pytest.mark.slow
TZ = "Europe/Moscow"
ME = "me@example.org"


def _config(tmp: Path, db_url: str, smtp_port: int, relay_port: int) -> str:
    return (
        f'data_dir = "{tmp / "data"}"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
        f'[digest]\nenabled = false\nrelay_host = "127.0.0.1"\nrelay_port = {relay_port}\nrelay_security = "none"\n'
        'from_address = "mailcrm@example.org"\nmax_retries = 0\nanswer_retry_seconds = 1.0\n[log]\nformat = "json"\n'
        f'[[users]]\nemail = "{ME}"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
        f'timezone = "{TZ}"\nlanguage = "ru"\n'
    )


def _mail(to: str, subject: str, body: str = "Добрый день!") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Me <{ME}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(dt.datetime.now(dt.timezone.utc))
    msg["Message-ID"] = make_msgid("m", domain="example.org")
    msg.set_content(body)
    return msg


def _send(daemon: DaemonProcess, msg: EmailMessage, rcpt: str) -> None:
    with daemon.smtp() as smtp:
        smtp.send_message(msg, from_addr=ME, to_addrs=[rcpt])



def _start(tmp_path: Path, store) -> tuple[DaemonProcess, Relay, object]:  # type: ignore[no-untyped-def]
    engine, factory = store
    url = str(engine.url.render_as_string(hide_password=False))
    relay = Relay(free_port()).start()
    port = free_port()
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(_config(tmp_path, url, port, relay.port))
    return DaemonProcess(cfg_path, port, tmp_path / "daemon.log"), relay, factory


def _answers(relay: Relay, subject: str) -> list[EmailMessage]:
    with relay.lock:
        return [c.message for c in relay.messages if subject in str(c.message["Subject"])
                and c.message["Auto-Submitted"] == "auto-replied"]


def test_follow_up_in_the_digest_three_days_later_unless_answered_and_find(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    daemon, relay, factory = _start(tmp_path, store)
    daemon.start()
    try:
        synopsis, poster = _mail("Вера <vera@museum.example>", "Синопсис"), _mail("pavel@opera.example", "Афиша")
        _send(daemon, synopsis, "crm+secret+3d@example.org")  # BCC'd to the +3d sub-address
        _send(daemon, poster, "crm+secret+3d@example.org")

        def follow_ups() -> list[tuple[str, dt.date]]:
            with db.transaction(factory) as s:
                return sorted((m.subject, f.due) for f, m in s.execute(
                    select(FollowUp, Message).join(Message, Message.id == FollowUp.message_id)))

        assert wait_for(lambda: len(follow_ups()) == 2), daemon.log_path.read_text()[-3000:]
        today = dt.datetime.now(ZoneInfo(TZ)).date()
        assert follow_ups() == [("Афиша", today + dt.timedelta(days=3)), ("Синопсис", today + dt.timedelta(days=3))]
        # Pavel answers; the user forwards his reply to the dropbox.
        fwd = _mail("crm+secret@example.org", "Fwd: Re: Афиша", (
            "---------- Forwarded message ---------\n"
            "From: Pavel <pavel@opera.example>\n"
            f"Date: {format_datetime(dt.datetime.now(dt.timezone.utc))}\n"
            "Subject: Re: Афиша\nTo: <me@example.org>\n\nСпасибо, афишу получили, повесим в фойе.\n"))
        _send(daemon, fwd, "crm+secret@example.org")

        def has_reply() -> bool:
            with db.transaction(factory) as s:
                return s.scalar(select(Participant.id).where(Participant.address == "pavel@opera.example",
                                                             Participant.direction == "in")) is not None

        assert wait_for(has_reply), daemon.log_path.read_text()[-3000:]
        assert "Синопсис" not in daemon.cli("digest", "preview").stdout  # not due today

        # Three days pass: the two BCC'd mails (and their follow-ups) move three days back.
        back = dt.timedelta(days=3)
        with db.transaction(factory) as s:  # row by row: SQLite stores datetimes as text, no SQL arithmetic
            for m in s.scalars(select(Message).where(Message.subject.in_(("Синопсис", "Афиша")))):
                m.date, m.ingested_at = m.date - back, m.ingested_at - back
                for p in s.scalars(select(Participant).where(Participant.message_id == m.id)):
                    p.date = p.date - back
                for f in s.scalars(select(FollowUp).where(FollowUp.message_id == m.id)):
                    f.due, f.created_at = f.due - back, f.created_at - back
        before = relay.count()
        daemon.cli("digest", "send")
        assert relay.wait_for(before + 1, 30)
        digest = relay.messages[before].message
        text = digest.get_body(("plain",)).get_content()
        assert "== Напомнить: ответа пока нет (1) ==" in text, text
        section = text.split("== Напомнить: ответа пока нет (1) ==")[1].split("==")[0]
        assert '"Синопсис"' in section and "Афиша" not in section  # Pavel answered, Vera did not

        # +find answers with the card.
        _send(daemon, _mail("crm+secret+find@example.org", "museum.example"), "crm+secret+find@example.org")
        assert wait_for(lambda: len(_answers(relay, "museum.example")) == 1)
        card = _answers(relay, "museum.example")[0]
        assert str(card["To"]) == ME and card["In-Reply-To"] is not None
        body = card.get_content()
        assert body.startswith("Вера") and "vera@museum.example (active)" in body
        assert "последнее:" in body and '→ "Синопсис"' in body
    finally:
        daemon.stop()
        relay.stop()


def test_an_answer_the_relay_cannot_take_is_kept_and_sent_once_later(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    daemon, relay, factory = _start(tmp_path, store)
    daemon.start()
    try:
        _send(daemon, _mail("Олег <oleg@kino.example>", "Сценарий"), "crm+secret@example.org")
        relay.stop()  # the relay is down when the question comes
        _send(daemon, _mail("crm+secret+find@example.org", "kino.example"), "crm+secret+find@example.org")

        def row() -> AnswerOutbox | None:
            with db.transaction(factory) as s:
                found = s.scalars(select(AnswerOutbox)).all()
                assert len(found) <= 1
                if found:
                    s.expunge(found[0])
                    return found[0]
                return None

        # Kept, tried, and tried again after a longer delay (1 s, then 2 s): the relay is still down.
        assert wait_for(lambda: (r := row()) is not None and r.attempts >= 2, 30), daemon.log_path.read_text()[-3000:]
        r = row()
        assert r is not None and r.status == "pending" and r.sent_at is None
        assert r.last_error and "relay" in r.last_error
        # Backoff: after n failed attempts the next one waits 1 + 2 + ... + 2^(n-1) = 2^n - 1 s from the first.
        assert (r.next_attempt_at - r.created_at).total_seconds() >= 2 ** r.attempts - 1 - 0.5
        assert relay.count() == 0
        assert json.loads(daemon.cli("status", "--json").stdout)["counts"]["answers_waiting"] == 1
        relay.start()
        assert wait_for(lambda: len(_answers(relay, "kino.example")) == 1, 30), daemon.log_path.read_text()[-3000:]
        answer = _answers(relay, "kino.example")[0]
        assert "oleg@kino.example (active)" in answer.get_content()
        assert str(answer["Message-ID"]).strip("<>") == r.message_id  # the message written when the question came
        # The relay has it; the row is marked sent right after (the outbox's own commit, in the worker process).
        assert wait_for(lambda: (x := row()) is not None and x.status == "sent", 10), daemon.log_path.read_text()[-3000:]
        sent = row()
        assert sent is not None and sent.status == "sent" and sent.attempts >= r.attempts + 1
        assert sent.last_error is None and sent.sent_at is not None
        # Never twice: not on the next rounds, not after a restart.
        time.sleep(3)
        daemon.stop()
        daemon.start()
        time.sleep(3)
        assert len(_answers(relay, "kino.example")) == 1
        assert relay.count() == 1
        assert json.loads(daemon.cli("status", "--json").stdout)["counts"]["answers_waiting"] == 0
    finally:
        daemon.stop()
        relay.stop()
