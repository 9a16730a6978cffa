"""The touches kept at write time (contact_touches, deal_touches; app/last_touch.py) agree with the
mail and calls they summarise, the way the digest read them before from the participant and
activity rows: after single ingest, a batch (the worker's group commit, what an import uses), a
call, a digest reply's "done", a message marked deleted and a merge (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select, update
from test_worker_batch import DEAL_BOX, INBOX, SENT, mail, run, worker  # noqa: F401  (the fixture)

from mailcrm.app import activities, last_touch
from mailcrm.app import contacts as contact_edit
from mailcrm.store import db
from mailcrm.store.models import (
    Activity,
    Contact,
    ContactTouch,
    Deal,
    DealMessage,
    DealTouch,
    Message,
    Participant,
)

DAY = dt.timedelta(days=1)
WHEN = dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.timezone.utc)


def _from_rows(s: Any) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    """Every contact's and open deal's touches computed from the rows, as collect did before 0016."""
    def latest(cid: int, roles: tuple[str, ...]) -> Any:
        return s.scalar(select(func.max(Participant.date)).where(Participant.contact_id == cid,
                                                                 Participant.role.in_(roles)))

    contacts = {}
    for cid in s.scalars(select(Contact.id)):
        call = s.scalar(select(func.max(Activity.at)).where(Activity.contact_id == cid, Activity.kind == "call"))
        contacts[cid] = (latest(cid, last_touch.IN_ROLES), latest(cid, last_touch.OUT_ROLES), call)
    deals = {}
    for did in s.scalars(select(Deal.id)):
        thread = s.scalar(select(func.max(Message.date)).join(DealMessage, DealMessage.message_id == Message.id)
                          .where(DealMessage.deal_id == did, Message.kind.in_(last_touch.THREAD_KINDS)))
        call = s.scalar(select(func.max(Activity.at)).where(Activity.deal_id == did, Activity.kind == "call"))
        deals[did] = (thread, call)
    return contacts, deals


def _kept(s: Any) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    contacts = {cid: (None, None, None) for cid in s.scalars(select(Contact.id))}
    contacts.update({t.contact_id: (t.last_in, t.last_out, t.last_call) for t in s.scalars(select(ContactTouch))})
    deals = {did: (None, None) for did in s.scalars(select(Deal.id))}
    deals.update({t.deal_id: (t.last_thread, t.last_call) for t in s.scalars(select(DealTouch))})
    return contacts, deals


def _agree(factory: Any) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    with db.transaction(factory) as s:
        expected = _from_rows(s)
        assert _kept(s) == expected
        return expected


def _contact(factory: Any, address: str) -> int:
    with db.transaction(factory) as s:
        from mailcrm.store import repository

        c = repository.find_contact(s, address)
        assert c is not None
        return c.id


def test_kept_touches_agree_with_the_rows(worker: Any) -> None:  # noqa: F811
    w, factory, _ = worker
    ivan = "Ivan <ivan@theatre.example>"
    # Mail out (a deal opened from the deal dropbox), mail in on the thread, more mail in a batch.
    assert run(w, (mail("pitch", ivan, "d1@example.org", when=WHEN - 9 * DAY), DEAL_BOX)) == ["stored"]
    assert run(w, (mail("Re: pitch", "me@example.org", "d2@example.org", sender=ivan, refs="d1@example.org",
                        when=WHEN - 8 * DAY), INBOX)) == ["stored"]
    batch = [(mail(f"offer {i}", f"p{i} <p{i}@kino.example>, {ivan}", f"o{i}@example.org", when=WHEN - i * DAY), SENT)
             for i in range(1, 6)]
    assert run(w, *batch) == ["stored"] * 5
    contacts, deals = _agree(factory)
    cid = _contact(factory, "ivan@theatre.example")
    assert contacts[cid][0] == (WHEN - 8 * DAY).replace(tzinfo=None)  # in
    assert contacts[cid][1] == (WHEN - 1 * DAY).replace(tzinfo=None)  # out: the newest of the batch
    assert any(thread is not None for thread, _ in deals.values())
    # The same mail again (re-delivery) changes nothing.
    assert run(w, batch[0]) == ["duplicate"]
    assert _agree(factory) == (contacts, deals)

    # A call (the deal's only person: on the deal too), then an older one (nothing moves back).
    with db.transaction(factory) as s:
        activities.log_call(s, "ivan@theatre.example", when=(WHEN - 2 * DAY).replace(tzinfo=None))
        activities.log_call(s, "ivan@theatre.example", when=(WHEN - 30 * DAY).replace(tzinfo=None))
    contacts, deals = _agree(factory)
    assert contacts[cid][2] == (WHEN - 2 * DAY).replace(tzinfo=None)
    assert any(call == (WHEN - 2 * DAY).replace(tzinfo=None) for _, call in deals.values())

    # A message marked deleted: the touches summarise every stored message, as collect's seeks did.
    with db.transaction(factory) as s:
        s.execute(update(Message).where(Message.identity.like("%o1@example.org%")).values(status="deleted"))
    assert _agree(factory) == (contacts, deals)

    # A merge moves the history (and the touches) to the kept contact; the merged one keeps none.
    p1 = _contact(factory, "p1@kino.example")
    with db.transaction(factory) as s:
        activities.log_call(s, "p1@kino.example", when=WHEN.replace(tzinfo=None))
        contact_edit.merge_contacts(s, "p2@kino.example", "p1@kino.example")
    contacts, _ = _agree(factory)
    p2 = _contact(factory, "p2@kino.example")
    assert contacts[p1] == (None, None, None)
    assert contacts[p2][1] == (WHEN - 1 * DAY).replace(tzinfo=None) and contacts[p2][2] == WHEN.replace(tzinfo=None)


def test_migration_fill_matches_the_kept_touches(worker: Any) -> None:  # noqa: F811
    """What migration 0016 fills for an older store is what writing kept (the bench fills the same way)."""
    w, factory, _ = worker
    ivan = "Ivan <ivan@theatre.example>"
    run(w, (mail("pitch", ivan, "d1@example.org", when=WHEN - 9 * DAY), DEAL_BOX),
        (mail("offer", f"Oleg <oleg@kino.example>, {ivan}", "o1@example.org", when=WHEN - 3 * DAY), SENT))
    with db.transaction(factory) as s:
        activities.log_call(s, "oleg@kino.example", when=(WHEN - DAY).replace(tzinfo=None))
        kept = _kept(s)
        s.execute(ContactTouch.__table__.delete())
        s.execute(DealTouch.__table__.delete())
        s.execute(last_touch.FILL)
        s.execute(last_touch.FILL_DEALS)
        assert _kept(s) == kept == _from_rows(s)
