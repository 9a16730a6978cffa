"""Answering the digest by mail (issue 27), against the running daemon: real SMTP in, a capturing relay
(aiosmtpd) for the digests and for mailcrm's answers, a real store (SQLite, and PostgreSQL when reachable)."""

from __future__ import annotations

import datetime as dt
import json
import time
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from conftest import free_port, wait_for
from daemon_proc import DaemonProcess
from relay import Relay
from sqlalchemy import select

from mailcrm import config
from mailcrm.app import deals as deal_store
from mailcrm.store import db, migrate, repository
from mailcrm.store.models import Activity, Deal, DigestReply

pytestmark = pytest.mark.slow
TZ = "Europe/Moscow"


def _config(tmp: Path, db_url: str, smtp_port: int, relay_port: int) -> str:
    return (
        f'data_dir = "{tmp / "data"}"\n[database]\nurl = "{db_url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
        f'[digest]\nenabled = false\nrelay_host = "127.0.0.1"\nrelay_port = {relay_port}\nrelay_security = "none"\n'
        'from_address = "mailcrm@example.org"\nmax_retries = 0\n[log]\nformat = "json"\n'
        '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
        f'timezone = "{TZ}"\nlanguage = "ru"\n'
        '[[users]]\nemail = "ann@example.org"\nname = "Ann"\ndropbox = "crm+annsecret@example.org"\n'
        f'timezone = "{TZ}"\n'
    )


def _reply(digest: EmailMessage, body: str, *, sender: str = "me@example.org", mid: str | None = None,
           refs: bool = True, extra: dict[str, str] | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = str(digest["Reply-To"])
    msg["Subject"] = "Re: " + str(digest["Subject"])
    msg["Message-ID"] = mid or make_msgid("reply", domain="phone.example")
    if refs:
        msg["In-Reply-To"] = str(digest["Message-ID"])
        msg["References"] = str(digest["Message-ID"])
    for k, v in (extra or {}).items():
        msg[k] = v
    quoted = "\n".join("> " + line for line in digest.get_body(("plain",)).get_content().splitlines())
    msg.set_content(f"{body}\n\nOn Tue, mailcrm <mailcrm@example.org> wrote:\n{quoted}\n")
    return msg


def _send(daemon: DaemonProcess, msg: EmailMessage, sender: str = "me@example.org") -> None:
    with daemon.smtp() as smtp:
        smtp.send_message(msg, from_addr=sender, to_addrs=[str(msg["To"])])



def test_reply_to_the_digest_commands_and_is_answered(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    url = str(engine.url.render_as_string(hide_password=False))
    relay = Relay(free_port()).start()
    port = free_port()
    cfg_path = tmp_path / "config.toml"
    cfg_path.write_text(_config(tmp_path, url, port, relay.port))
    cfg = config.load(cfg_path)
    today = dt.datetime.now(ZoneInfo(TZ)).date()
    yesterday = today - dt.timedelta(days=1)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    migrate.upgrade(engine)
    with db.transaction(factory) as s:
        repository.sync_users(s, cfg)
        a = deal_store.create_deal(s, title="Афиши", contact_ids=[deal_store.contact_for(s, "ivan@theatre.example").id],
                                   stage="invoiced", at=now - dt.timedelta(days=10))
        a_id = a.id
    daemon = DaemonProcess(cfg_path, port, tmp_path / "daemon.log").start()
    try:
        daemon.cli("digest", "send", "--date", yesterday.isoformat())
        assert relay.wait_for(1, 20)
        old = relay.messages[0].message
        with db.transaction(factory) as s:
            ids = {}
            for title, who, days in (("Тур", "pavel@opera.example", 20), ("Лекция", "oleg@kino.example", 18),
                                     ("Выставка", "vera@museum.example", 16)):
                ids[title] = deal_store.create_deal(s, title=title, contact_ids=[deal_store.contact_for(s, who).id],
                                                    stage="invoiced", at=now - dt.timedelta(days=days)).id
        daemon.cli("digest", "send", "--date", today.isoformat())
        assert relay.wait_for(2, 20)
        new = relay.messages[1].message
        text = new.get_body(("plain",)).get_content()
        assert "1. Тур" in text and "2. Лекция" in text and "3. Выставка" in text and "4. Афиши" in text
        assert str(new["Reply-To"]) == "crm+secret+digest@example.org"

        body = ("1 позвонил, договорились на вторник\n2 выиграна\n3 lost дорого\n4 note прислать синопсис\n"
                "4 snooze 3d\n9 dance")
        reply = _reply(new, body)
        _send(daemon, reply)
        assert relay.wait_for(3, 30)
        answer = relay.messages[2]
        assert answer.rcpt_tos == ["me@example.org"]
        assert answer.message["Auto-Submitted"] == "auto-replied"
        assert answer.message["In-Reply-To"] == reply["Message-ID"]
        confirmation = answer.message.get_content()
        assert "OK 1 Тур: call logged" in confirmation and "OK 2 Лекция: deal moved to won" in confirmation
        assert "OK 3 Выставка: deal moved to lost (дорого)" in confirmation
        assert "OK 4 Афиши: note added" in confirmation and "OK 4 Афиши: snoozed until" in confirmation
        assert "?? - 9 dance: unknown command 'dance'" in confirmation and "Ожидалось" in confirmation
        with db.transaction(factory) as s:
            tour_call = s.scalars(select(Activity).where(Activity.deal_id == ids["Тур"], Activity.kind == "call")).one()
            assert tour_call.text == "договорились на вторник"
            assert s.get(Deal, ids["Лекция"]).status == "won"  # type: ignore[union-attr]
            lost = s.get(Deal, ids["Выставка"])
            assert lost is not None and lost.status == "lost" and lost.lost_reason == "дорого"
            assert s.scalars(select(Activity.text).where(Activity.deal_id == a_id, Activity.kind == "note")).one() \
                == "прислать синопсис"
            assert s.scalars(select(Activity.due).where(Activity.deal_id == a_id, Activity.kind == "snooze")).one() \
                == today + dt.timedelta(days=3)
        card = json.loads(daemon.cli("deal", "show", str(ids["Выставка"]), "--json").stdout)
        assert "lost" in json.dumps(card, ensure_ascii=False)

        # The same reply delivered twice acts once and is not answered again.
        _send(daemon, reply)
        # A reply to yesterday's digest acts on yesterday's lines: its line 1 was "Афиши", not today's "Тур".
        _send(daemon, _reply(old, "1 done"))
        assert relay.wait_for(4, 30)
        assert "OK 1 Афиши" in relay.messages[3].message.get_content()
        # An auto-reply to the confirmation is not answered.
        auto = _reply(new, "I am away", extra={"Auto-Submitted": "auto-replied"}, refs=False)
        auto.replace_header("To", "crm+secret+digest@example.org")
        _send(daemon, auto)
        # Another user replying to my digest, and my own reply without the digest reference: quarantined.
        stranger = _reply(new, "2 lost пусть", sender="ann@example.org")
        _send(daemon, stranger, sender="ann@example.org")
        _send(daemon, _reply(new, "1 done", refs=False))
        assert wait_for(lambda: json.loads(daemon.cli("status", "--json").stdout)["quarantine"] >= 2)
        with db.transaction(factory) as s:
            replies = {r.status for r in s.scalars(select(DigestReply))}
            assert len(s.scalars(select(Activity).where(Activity.deal_id == ids["Тур"],
                                                        Activity.kind == "call")).all()) == 1
            assert s.get(Deal, ids["Лекция"]).status == "won"  # type: ignore[union-attr]
        assert replies == {"applied", "ignored"}
        time.sleep(2)  # nothing else is on its way to the relay
        assert relay.count() == 4
    finally:
        daemon.stop()
        relay.stop()
