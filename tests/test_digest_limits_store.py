"""Section limits on a real store: collect reads only the people a section lists and counts the rest,
and the digest says the same as one that read everyone (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from mailcrm.digest.collect import Window, collect
from mailcrm.digest.rules import DEFAULT_LIMITS, build_digest
from mailcrm.domain.cadence import StageRule
from mailcrm.store import db
from mailcrm.store.models import Contact, ContactTag, EmailAddress, Message, Participant, Tag, User

MSK = ZoneInfo("Europe/Moscow")
TODAY = dt.date(2026, 3, 10)
STAGES: dict[str, StageRule] = {}


def _mail(s: Any, n: int, contact: Contact, kind: str, date: dt.datetime, uid: int) -> None:
    m = Message(identity=f"m{n}", message_id=f"<m{n}@x>", sha256=f"{n:064x}", kind=kind, user_id=uid,
                direction="out" if kind == "sent" else "in", date=date, subject=f"subject {n}", thread_key=f"t{n}",
                source="smtp", size=1, facts={}, status="active")
    s.add(m)
    s.flush()
    s.add(Participant(message_id=m.id, address=contact.addresses[0].address, contact_id=contact.id,
                      role="to" if kind == "sent" else "from", direction=m.direction, date=date))


def _snapshots(factory: Any, uid: int, limits: dict[str, int]) -> tuple[Any, Any]:
    with db.transaction(factory) as s:
        cut = collect(s, Window(uid, "me@example.org", "Me", TODAY, MSK, 42, {**DEFAULT_LIMITS, **limits}))
        everyone = collect(s, Window(uid, "me@example.org", "Me", TODAY, MSK, 42,
                                     dict.fromkeys(DEFAULT_LIMITS, 10_000)))
    return cut, everyone


def test_collect_reads_the_listed_and_counts_the_rest(store: Any) -> None:
    _, factory = store
    with db.transaction(factory) as s:
        user = User(email="me@example.org", name="Me", dropbox="crm+x@example.org")
        s.add(user)
        tags = {t: Tag(name=t) for t in ("театры", "кино")}
        s.add_all(tags.values())
        s.flush()
        people = []
        for i in range(20):
            c = Contact(name=f"Человек {i:02d}", phones=[], user_fields=[], addresses=[EmailAddress(address=f"p{i}@x.example")])
            s.add(c)
            people.append(c)
        s.flush()
        n = 0
        for i, c in enumerate(people[:8]):  # waiting: they wrote in the last days, nobody answered
            n += 1
            _mail(s, n, c, "received", dt.datetime(2026, 3, 9 - i % 5, 8 + i), user.id)
        for i, c in enumerate(people[8:]):  # quiet: we wrote 45-50 days ago, nothing since
            n += 1
            _mail(s, n, c, "sent", dt.datetime(2026, 1, 20 + i % 5, 9, i), user.id)
            names = ["театры"] if i % 3 == 0 else ["кино"] if i % 3 == 1 else ["театры", "кино"]
            s.add_all(ContactTag(contact_id=c.id, tag_id=tags[t].id) for t in names)
        uid = user.id
    cut, everyone = _snapshots(factory, uid, {"waiting": 3, "quiet": 2})
    assert len(everyone.waiting) == 8 and len(cut.waiting) == 3 and cut.unlisted == {"waiting": 5}
    assert len(everyone.quiet) == 12 and len(cut.quiet) < 12
    limits = {"waiting": 3, "quiet": 2}
    a = build_digest(cut, today=TODAY, tz=MSK, stages=STAGES, limits=limits)
    b = build_digest(everyone, today=TODAY, tz=MSK, stages=STAGES, limits=limits)
    assert a == b  # the same lines, the same "and N more"
    assert a.more["waiting"] == 5 and a.total("waiting") == 8
    assert {g.tag: (len(g.items), g.more) for g in a.quiet} == {"кино": (2, 6), "театры": (2, 6)}
