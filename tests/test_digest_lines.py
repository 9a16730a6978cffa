"""Numbered digest lines and the record of each digest sent (issue 27): its Message-ID and what each number meant,
so a reply to an old digest acts on that digest's lines.  Real relay (aiosmtpd) on loopback; SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from conftest import free_port
from relay import Relay
from sqlalchemy import select

from mailcrm import config
from mailcrm.app import deals as deal_store
from mailcrm.app import digest_runs
from mailcrm.digest import schedule
from mailcrm.store import db, repository
from mailcrm.store.models import Deal, DigestRun, User

DAY = dt.date(2026, 3, 10)


def _cfg(db_url: str, port: int) -> config.Config:
    return config.parse(
        f'[database]\nurl = "{db_url}"\n'
        f'[digest]\nrelay_host = "127.0.0.1"\nrelay_port = {port}\nrelay_security = "none"\n'
        'from_address = "mailcrm@example.org"\n'
        '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
        'timezone = "Europe/Moscow"\nlanguage = "en"\n', "test")


def test_digest_lines_are_numbered_and_recorded(store) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    relay = Relay(free_port()).start()
    try:
        cfg = _cfg(str(engine.url.render_as_string(hide_password=False)), relay.port)
        with db.transaction(factory) as s:
            repository.sync_users(s, cfg)
            uid = s.scalar(select(User.id).where(User.email == "me@example.org"))
            for title, who, stage, day in (("Гастроли", "ivan@theatre.example", "invoiced", 1),
                                            ("Выставка", "vera@museum.example", "invoiced", 2),
                                            ("New one", "lead@new.example", "lead", 9)):
                c = deal_store.contact_for(s, who)
                deal_store.create_deal(s, title=title, contact_ids=[c.id], stage=stage,
                                       at=dt.datetime(2026, 3, day, 9))
            ids = {d: i for d, i in s.execute(select(Deal.title, Deal.id))}
        out = asyncio.run(schedule.run_digest(cfg, factory, cfg.users[0], DAY, "test:1"))
        assert out["outcome"] == schedule.SENT
        assert relay.wait_for(1, 10)
        got = relay.messages[0].message
        text = got.get_body(("plain",)).get_content()
        html = got.get_body(("html",)).get_content()
        numbered = dict(re.findall(r"^(\d+)\. ([^—(\n]+?)\s*(?:—|\()", text, re.M))
        with db.transaction(factory) as s:
            run = s.scalar(select(DigestRun).where(DigestRun.user_id == uid))
            assert run is not None and run.message_id == got["Message-ID"].strip("<>")
            lines = run.lines
            # A reply names the digest through In-Reply-To/References; another id finds nothing.
            mid = got["Message-ID"].strip("<>")
            assert digest_runs.run_for_reply(s, uid, ["other@x", mid]) is not None
            assert digest_runs.run_for_reply(s, uid, ["other@x"]) is None
            assert digest_runs.run_for_reply(s, uid + 1, [mid]) is None
        assert {int(n): t for n, t in numbered.items()} == {x["n"]: x["label"] for x in lines}
        assert [(x["kind"], x["ref"]) for x in lines] == [
            ("deal", ids["Гастроли"]), ("deal", ids["Выставка"]), ("deal", ids["New one"])]
        assert '<ol start="3">' in html  # the new leads continue the numbering in HTML too
    finally:
        relay.stop()
