"""The digest's news starts where the previous digest sent to the user ended (issue 19 item 4)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from mailcrm.digest.collect import Window, collect
from mailcrm.store import db
from mailcrm.store.models import BounceEvent, DigestRun, Message, User

MSK = ZoneInfo("Europe/Moscow")
TODAY = dt.date(2026, 3, 10)


def _bounce(s, n: int, address: str, date: dt.datetime, ingested: dt.datetime, source: str = "smtp") -> None:  # type: ignore[no-untyped-def]
    msg = Message(identity=f"b{n}", message_id=f"<b{n}@mx>", sha256="0" * 64, kind="bounce", direction="in", date=date,
                  subject="Undelivered", thread_key=f"b{n}", source=source, ingested_at=ingested)
    s.add(msg)
    s.flush()
    s.add(BounceEvent(message_id=msg.id, address=address, hard=True, status="5.1.1", reason="userunknown",
                      effect="bounced", at=date, verified=True))


def _addresses(factory, uid: int) -> list[str]:  # type: ignore[no-untyped-def]
    with db.transaction(factory) as s:
        snap = collect(s, Window(uid, "me@example.org", "Me", TODAY, MSK))
    return sorted(b.address for b in snap.bounces)


def test_first_digest_has_every_bounce_since_registration_and_later_ones_since_the_last_sent(store) -> None:  # type: ignore[no-untyped-def]
    _, factory = store
    with db.transaction(factory) as s:
        user = User(email="me@example.org", name="Me", dropbox="crm+x@example.org", created_at=dt.datetime(2026, 3, 6, 9))
        s.add(user)
        s.flush()
        uid = user.id
        # Arrived three days before the first digest; its Date header is older still.
        _bounce(s, 1, "old@teatr.example", dt.datetime(2026, 3, 5, 8), dt.datetime(2026, 3, 7, 10))
        _bounce(s, 2, "fresh@kino.example", dt.datetime(2026, 3, 9, 18), dt.datetime(2026, 3, 9, 18, 5))
        # A history import is not news, however recent its ingestion.
        _bounce(s, 3, "history@old.example", dt.datetime(2024, 1, 1), dt.datetime(2026, 3, 9, 12), "import:mbox")
    assert _addresses(factory, uid) == ["fresh@kino.example", "old@teatr.example"]
    # A digest went out on the 8th: today's lists what came after it, not what it already said.
    with db.transaction(factory) as s:
        s.add(DigestRun(user_id=uid, local_date=dt.date(2026, 3, 8), status="sent", sent_at=dt.datetime(2026, 3, 8, 5)))
    assert _addresses(factory, uid) == ["fresh@kino.example"]
    # Today's own digest having gone out does not empty a preview of today.
    with db.transaction(factory) as s:
        s.add(DigestRun(user_id=uid, local_date=TODAY, status="sent", sent_at=dt.datetime(2026, 3, 10, 5)))
    assert _addresses(factory, uid) == ["fresh@kino.example"]
