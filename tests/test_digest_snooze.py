"""Digest-reply commands through the use-case layer (app/digest_replies.py) against a real store: a snoozed line
leaves the digest until its day, a reply acts once, and only the user the digest was sent to may command."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from mailcrm import config
from mailcrm.app import deals as deal_store
from mailcrm.app import digest_replies
from mailcrm.digest.compose import make_digest
from mailcrm.parse.digest_commands import CommandReply, parse_lines
from mailcrm.store import db, repository
from mailcrm.store.models import Activity, DigestRun, User

CFG = config.parse(
    '[digest]\nfrom_address = "mailcrm@example.org"\n'
    '[[users]]\nemail = "me@example.org"\nname = "Me"\ndropbox = "crm+secret@example.org"\n'
    'timezone = "Europe/Moscow"\nlanguage = "en"\n'
    '[[users]]\nemail = "ann@example.org"\ndropbox = "crm+ann@example.org"\n', "test")
TODAY = dt.date(2026, 3, 10)
NOW = dt.datetime(2026, 3, 10, 9)


def _reply(text: str, sender: str = "me@example.org", refs: tuple[str, ...] = ("d1@example.org",),
           automated: str | None = None) -> CommandReply:
    commands, bad = parse_lines(text, TODAY)
    return CommandReply(sender, "r@x", refs, commands, bad, "en", automated)


def _titles(factory) -> list[str]:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        digest, _ = make_digest(s, CFG, CFG.users[0], TODAY)
    return [c.deal.title for c in digest.call_today]


def test_snooze_done_once_and_only_the_digest_user(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        uid = s.scalar(select(User.id).where(User.email == "me@example.org"))
        deal = deal_store.create_deal(s, title="Гастроли", contact_ids=[deal_store.contact_for(s, "ivan@t.example").id],
                                      stage="invoiced", at=NOW - dt.timedelta(days=10))
        s.add(DigestRun(user_id=uid, local_date=TODAY, status="sent", message_id="d1@example.org",
                        lines=[{"n": 1, "kind": "deal", "ref": deal.id, "label": "Гастроли"}]))
    assert _titles(factory) == ["Гастроли"]
    with db.transaction(factory) as s:
        out = digest_replies.handle(s, CFG, _reply("1 snooze 3d\n2 done"), "k1", NOW)
    assert out.status == "applied" and out.answer_to == "me@example.org"
    assert [(r["ok"], r["text"]) for r in out.results] == [
        (True, "snoozed until 2026-03-13"), (False, "no line 2 in the digest of 2026-03-10")]
    assert _titles(factory) == []  # snoozed: gone until the 13th
    with db.transaction(factory) as s:
        digest, _ = make_digest(s, CFG, CFG.users[0], dt.date(2026, 3, 13))
        assert [c.deal.title for c in digest.call_today] == ["Гастроли"]
        assert digest_replies.handle(s, CFG, _reply("1 snooze 3d"), "k1", NOW).status == "duplicate"
        refused = digest_replies.handle(s, CFG, _reply("1 won", sender="ann@example.org"), "k2", NOW)
        assert refused.status == "refused" and "ann@example.org" in (refused.reason or "")
        assert digest_replies.handle(s, CFG, _reply("1 won", refs=("other@x",)), "k3", NOW).status == "refused"
        ignored = digest_replies.handle(s, CFG, _reply("1 won", automated="Auto-Submitted: auto-replied"), "k4", NOW)
        assert ignored.status == "ignored" and ignored.answer_to is None
        assert len(s.scalars(select(Activity).where(Activity.kind == "snooze")).all()) == 1
        assert deal_store.get_deal(s, deal.id).status == "open"


def test_answers_are_rate_limited(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
        uid = s.scalar(select(User.id).where(User.email == "me@example.org"))
        s.add(DigestRun(user_id=uid, local_date=TODAY, status="sent", message_id="d1@example.org", lines=[]))
    answered = []
    for i in range(digest_replies.MAX_ANSWERS_PER_HOUR + 2):
        with db.transaction(factory) as s:
            answered.append(digest_replies.handle(s, CFG, _reply("1 done"), f"k{i}", NOW).answer_to)
    assert answered.count("me@example.org") == digest_replies.MAX_ANSWERS_PER_HOUR
    assert answered[-2:] == [None, None]
