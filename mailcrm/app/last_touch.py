"""Each contact's latest touches (``contact_touches``), kept where mail and calls are recorded.

The digest asks, for every open deal's people and everyone in its windows, when we last wrote
to them, when they last wrote and when we last called.  Reading that per person from the
participant and activity indexes cost ~14,000 seeks at 2,000 open deals; the answers are kept
here instead, in one row per contact:

- ``last_in``: the newest mail from them (participant roles ``from``, ``original_from``);
- ``last_out``: the newest mail to them (``to``, ``cc``);
- ``last_call``: the newest activity of kind ``call``.

Like the participant seeks they replace, they count every stored message whatever its status
(the digest's windows, which do look at the status, still read the messages).  Values only move
forward on a write (``message_stored``, ``call_logged``); what moves history between contacts
(a merge) recomputes them from the rows (``refresh``).  Migration 0016 filled them with ``FILL``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import DateTime, bindparam, event, text
from sqlalchemy.orm import Session, UOWTransaction

from mailcrm.store import message_rows
from mailcrm.store.models import Activity, Message

IN_ROLES = ("from", "original_from")
OUT_ROLES = ("to", "cc")
THREAD_KINDS = ("sent", "received", "forward")  # a deal's thread mail that counts as a touch
_KEY = "mailcrm.last_touch"


def _in(values: tuple[str, ...]) -> str:
    """A literal SQL list of fixed role names."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _newer(column: str, table: str = "contact_touches") -> str:
    """The upsert's "keep the later of the stored and the new value" (NULL is older than anything)."""
    return (f"{column} = CASE WHEN excluded.{column} IS NOT NULL AND ({table}.{column} IS NULL "
            f"OR excluded.{column} > {table}.{column}) THEN excluded.{column} ELSE {table}.{column} END")


# The touches of the contacts in some messages, from their participant rows, merged into the stored ones.
_FROM_MESSAGES = text(
    "INSERT INTO contact_touches (contact_id, last_in, last_out) "
    "SELECT contact_id, "
    f"MAX(CASE WHEN role IN {_in(IN_ROLES)} THEN date END), MAX(CASE WHEN role IN {_in(OUT_ROLES)} THEN date END) "
    f"FROM message_participants WHERE message_id IN :ids AND contact_id IS NOT NULL AND role IN {_in(IN_ROLES + OUT_ROLES)} "
    "GROUP BY contact_id ORDER BY contact_id "  # rows locked in one order by every writer
    f"ON CONFLICT (contact_id) DO UPDATE SET {_newer('last_in')}, {_newer('last_out')}"
).bindparams(bindparam("ids", expanding=True))

_DEAL_CALL = text("INSERT INTO deal_touches (deal_id, last_call) VALUES (:did, :at) "
                  f"ON CONFLICT (deal_id) DO UPDATE SET {_newer('last_call', 'deal_touches')}"
                  ).bindparams(bindparam("at", type_=DateTime()))
_DEAL_MAIL = text("INSERT INTO deal_touches (deal_id, last_thread) VALUES (:did, :at) "
                  f"ON CONFLICT (deal_id) DO UPDATE SET {_newer('last_thread', 'deal_touches')}"
                  ).bindparams(bindparam("at", type_=DateTime()))
_CALL = text("INSERT INTO contact_touches (contact_id, last_call) VALUES (:cid, :at) "
             f"ON CONFLICT (contact_id) DO UPDATE SET {_newer('last_call')}").bindparams(bindparam("at", type_=DateTime()))

# Every contact's touches from scratch (``refresh`` limits it to some contacts; migration 0016 keeps a copy).
_COMPUTED = (
    "SELECT c.id AS contact_id, "
    f"(SELECT MAX(p.date) FROM message_participants p WHERE p.contact_id = c.id AND p.role IN {_in(IN_ROLES)}) AS last_in, "
    f"(SELECT MAX(p.date) FROM message_participants p WHERE p.contact_id = c.id AND p.role IN {_in(OUT_ROLES)}) AS last_out, "
    "(SELECT MAX(a.at) FROM activities a WHERE a.contact_id = c.id AND a.kind = 'call') AS last_call "
    "FROM contacts c")
FILL = text("INSERT INTO contact_touches (contact_id, last_in, last_out, last_call) "
            f"SELECT t.contact_id, t.last_in, t.last_out, t.last_call FROM ({_COMPUTED}) t "
            "WHERE t.last_in IS NOT NULL OR t.last_out IS NOT NULL OR t.last_call IS NOT NULL")
FILL_DEALS = text(
    "INSERT INTO deal_touches (deal_id, last_thread, last_call) "
    "SELECT t.deal_id, t.last_thread, t.last_call FROM (SELECT d.id AS deal_id, "
    "(SELECT MAX(m.date) FROM deal_messages dm JOIN messages m ON m.id = dm.message_id "
    f"WHERE dm.deal_id = d.id AND m.kind IN {_in(THREAD_KINDS)}) AS last_thread, "
    "(SELECT MAX(a.at) FROM activities a WHERE a.deal_id = d.id AND a.kind = 'call') AS last_call FROM deals d) t "
    "WHERE t.last_thread IS NOT NULL OR t.last_call IS NOT NULL")
_REFILL = text("INSERT INTO contact_touches (contact_id, last_in, last_out, last_call) "
               f"SELECT t.contact_id, t.last_in, t.last_out, t.last_call FROM ({_COMPUTED} WHERE c.id IN :ids) t "
               "WHERE true ON CONFLICT (contact_id) DO UPDATE SET last_in = excluded.last_in, "
               "last_out = excluded.last_out, last_call = excluded.last_call"
               ).bindparams(bindparam("ids", expanding=True))


def message_stored(session: Session, message: Message) -> None:
    """``message`` was added to the session: its contacts' touches move forward once its
    participant rows are written (the flush that inserts it; see ``store/message_rows``)."""
    session.info.setdefault(_KEY, []).append(message)


def call_logged(session: Session, call: Activity) -> None:
    """A call was recorded (or a digest reply's "done"): its contact's last call moves forward."""
    if call.kind != "call":
        return
    if call.contact_id is not None:
        session.execute(_CALL, {"cid": call.contact_id, "at": call.at})
    if call.deal_id is not None:
        session.execute(_DEAL_CALL, {"did": call.deal_id, "at": call.at})


def deal_message(session: Session, deal_id: int, message: Message) -> None:
    """``message`` joined the deal's threads: the deal's last thread mail moves forward."""
    if message.kind in THREAD_KINDS:
        session.execute(_DEAL_MAIL, {"did": deal_id, "at": message.date})


def refresh(session: Session, contact_ids: Iterable[int]) -> None:
    """Recompute these contacts' touches from their participant rows and calls (after a merge moved
    history from one to another: the one left with none gets NULLs, not a stale touch)."""
    ids = sorted(set(contact_ids))
    if ids:
        session.flush()
        session.execute(_REFILL, {"ids": ids})


def _settle(session: Session) -> None:
    """Merge the touches of the noted messages that have ids by now (their participant rows first)."""
    noted: list[Message] | None = session.info.get(_KEY)
    if not noted:
        return
    message_rows.write(session)  # idempotent: the rows of every message with an id are in the table after it
    ids = [m.id for m in noted if m.id is not None]
    session.info[_KEY] = [m for m in noted if m.id is None and m in session]  # the rest: a later flush
    for i in range(0, len(ids), 500):
        session.connection().execute(_FROM_MESSAGES, {"ids": ids[i:i + 500]})


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """The flush that inserts a noted message settles it."""
    _settle(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """A message flushed before it was noted (nothing left to flush) is settled now."""
    _settle(session)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    """A rolled-back transaction takes its noted messages with it."""
    session.info.pop(_KEY, None)
