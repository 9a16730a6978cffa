"""Keyset pages of a timeline: the same items as one long read, in order, ties on the same second included."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from mailcrm.errors import Invalid
from mailcrm.store import db, repository
from mailcrm.store.models import Activity, Contact, EmailAddress, Message, Participant


def test_keyset_pages_match_the_whole_timeline(store: Any) -> None:
    _, factory = store
    t0 = dt.datetime(2026, 3, 1, 12)
    with db.transaction(factory) as s:
        c = Contact(name="Пётр", phones=[], user_fields=[], addresses=[EmailAddress(address="petr@bulvar.example")])
        s.add(c)
        s.flush()
        for i in range(1, 40):
            at = t0 - dt.timedelta(minutes=i // 3)  # three items share each minute
            m = Message(identity=f"mid:<{i}@x>", message_id=f"<{i}@x>", sha256=f"{i:064x}", kind="received",
                        direction="in", date=at, subject=f"письмо {i}", thread_key=f"<{i}@x>", source="test",
                        size=1, facts={}, status="active")
            s.add(m)
            s.flush()
            s.add(Participant(message_id=m.id, address="petr@bulvar.example", contact_id=c.id, role="from",
                              direction="in", date=at))
            # An activity at the same second and, for some, with the same id as a message.
            s.add(Activity(id=m.id if i % 4 == 0 else 1000 + i, contact_id=c.id, kind="note", at=at, text=f"заметка {i}"))
        cid = c.id
    with db.transaction(factory) as s:
        whole = repository.timeline(s, [cid])
        pages: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = repository.timeline(s, [cid], 7, repository.parse_cursor(cursor) if cursor else None)
            pages += page
            if len(page) < 7:
                break
            cursor = repository.cursor_of(page[-1])
    assert len(whole) == 78
    assert [(i["type"], i["id"]) for i in pages] == [(i["type"], i["id"]) for i in whole]
    assert [i["at"] for i in whole] == sorted((i["at"] for i in whole), reverse=True)


@pytest.mark.parametrize("text", ["", "nonsense", "2026-01-01T00:00:00~x5", "2026-13-01~m1", "2026-01-01~m"])
def test_a_damaged_cursor_is_refused(text: str) -> None:
    with pytest.raises(Invalid):
        repository.parse_cursor(text)
