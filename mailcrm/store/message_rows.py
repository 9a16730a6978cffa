"""The raw bytes, participants and signatures of new messages: rows written with Core after the ORM flush.

A message's blob and its participants are plain rows that nothing in the ingest path reads back
as objects, yet as ORM objects they were about two thirds of what the session tracked per
message (state, identity map, unit-of-work sorting).  So ``add_message`` adds only the
``Message`` object; its bytes and participants wait in ``session.info`` and are inserted with
one ``executemany`` per table right after the flush that gave the message its id
(``after_flush``, same connection and transaction).  Whatever flushes (the batch flush, a
stage that needs an id, an autoflush before a query, the commit) writes them, so queries
after a flush see them exactly as they saw the ORM rows.  A message rolled back before it was
flushed (a savepoint) is never inserted, and its rows are dropped with it; rows already written
inside a savepoint roll back with that savepoint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction

from mailcrm.store.models import Activity, Contact, Message, Participant, RawMessage, SignatureSeen

_KEY = "mailcrm.message_rows"
# Core inserts on the tables (not ORM-enabled: no per-row state to track).  Raw bytes are
# content-addressed: a second message with the same bytes finds its row there already.
_RAW = RawMessage.__table__
_BLOBS = {
    "postgresql": postgresql.insert(_RAW).on_conflict_do_nothing(index_elements=["sha256"]),  # type: ignore[arg-type]
    "sqlite": sqlite.insert(_RAW).on_conflict_do_nothing(index_elements=["sha256"]),  # type: ignore[arg-type]
}
_PARTICIPANTS = insert(Participant.__table__)  # type: ignore[arg-type]
_SIGNATURES = insert(SignatureSeen.__table__)  # type: ignore[arg-type]
_ACTIVITIES = insert(Activity.__table__)  # type: ignore[arg-type]


@dataclass
class _Rows:
    message: Message
    raw: bytes | None
    participants: list[tuple[str, str | None, Contact | int | None, str, str]] = field(default_factory=list)
    signatures: list[tuple[Contact, dict[str, Any]]] = field(default_factory=list)
    activities: list[tuple[Contact | None, dict[str, Any]]] = field(default_factory=list)


def _pending(session: Session) -> dict[int, _Rows]:
    rows: dict[int, _Rows] | None = session.info.get(_KEY)
    if rows is None:
        rows = session.info[_KEY] = {}
    return rows


def add(session: Session, message: Message, raw: bytes | None) -> None:
    """Hold ``message``'s raw bytes until the flush that inserts it (the message is added here)."""
    session.add(message)
    _pending(session)[id(message)] = _Rows(message, raw)


def add_participant(session: Session, message: Message, address: str, name: str | None,
                    contact: Contact | int | None, role: str, direction: str) -> None:
    """Hold a participant of ``message`` (a contact object may still be unflushed: its id is read later)."""
    rows = _pending(session).get(id(message))
    if rows is None:
        # The message was inserted already (a flush ran since ``add``, e.g. for a new contact):
        # hold the row for the next flush, which ``before_commit`` makes sure happens.
        rows = _pending(session)[id(message)] = _Rows(message, None)
    rows.participants.append((address, name, contact, role, direction))


def add_signature(session: Session, message: Message, contact: Contact, row: dict[str, Any]) -> None:
    """Hold a parsed signature of ``contact`` in ``message`` (both may be unflushed: ids are read later)."""
    rows = _pending(session).get(id(message))
    if rows is None:
        rows = _pending(session)[id(message)] = _Rows(message, None)
    rows.signatures.append((contact, row))


_NUMBER = "mailcrm.number_messages"


def number_before_flush(session: Session) -> None:
    """Give new messages their ids just before the flush that inserts them (SQLite; see ``_number``).

    Only for a session that holds the write lock (the ingest batch's ``BEGIN IMMEDIATE``): no other
    writer can insert a message between reading the largest id and inserting.
    """
    session.info[_NUMBER] = True


@event.listens_for(Session, "before_flush")
def _number(session: Session, flush_context: UOWTransaction, instances: object) -> None:
    """Number the flush's new messages after the largest stored id, in the order they were added.

    The ids are the ones SQLite would give (max(rowid) + 1, ...), but known before the INSERT, so the
    ORM writes the batch's messages with one executemany instead of one INSERT ... RETURNING each
    (SQLite has no way to match returned ids to the rows of a multi-row insert).  Until this flush
    the id stays None, which the stages read as "not inserted yet".  PostgreSQL already inserts
    them in batches (insertmanyvalues with RETURNING).
    """
    if not session.info.get(_NUMBER):
        return
    new = [o for o in session.new if isinstance(o, Message) and o.id is None]
    if not new:
        return
    conn = session.connection()
    if conn.dialect.name != "sqlite":
        return
    first: int | None = session.info.get(_NEXT)
    if first is None:  # once a transaction (the lock is held): then counted on
        first = (conn.execute(select(func.max(Message.id))).scalar() or 0) + 1
    new.sort(key=lambda m: inspect(m).insert_order)
    for number, msg in enumerate(new, first):
        msg.id = number
    session.info[_NEXT] = first + len(new)


_NEXT = "mailcrm.next_message_id"


@event.listens_for(Session, "after_soft_rollback")
def _forget_next(session: Session, previous_transaction: object) -> None:
    """After a rollback (a savepoint's too) the largest id is asked again."""
    session.info.pop(_NEXT, None)


@event.listens_for(Session, "after_commit")
def _forget_next_at_commit(session: Session) -> None:
    """The lock goes with the commit: another writer may insert next."""
    session.info.pop(_NEXT, None)
    session.info.pop(_NUMBER, None)


def add_activity(session: Session, message: Message, contact: Contact | None, row: dict[str, Any]) -> None:
    """Hold an activity of ``message`` on ``contact`` (both may be unflushed: ids are read later)."""
    rows = _pending(session).get(id(message))
    if rows is None:
        rows = _pending(session)[id(message)] = _Rows(message, None)
    rows.activities.append((contact, row))


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    """Insert the held rows of every message the flush gave an id (one executemany per table)."""
    write(session)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    """Rows held for a message flushed earlier (nothing else left to flush) are written now."""
    write(session)


def write(session: Session) -> None:
    """Insert the held rows of every message that has an id (after a flush; idempotent)."""
    pending: dict[int, _Rows] | None = session.info.get(_KEY)
    if not pending:
        return
    blobs: dict[str, dict[str, Any]] = {}
    participants: list[dict[str, Any]] = []
    signatures: list[dict[str, Any]] = []
    activities: list[dict[str, Any]] = []
    for key, rows in list(pending.items()):
        msg = rows.message
        if msg.id is None:
            if msg not in session:
                del pending[key]  # rolled back (with its savepoint) before it was ever inserted
            continue
        del pending[key]
        later = [(c, row) for c, row in rows.signatures if c.id is None and c in session]
        later_acts = [(c, row) for c, row in rows.activities if c is not None and c.id is None and c in session]
        if later or later_acts:  # a contact still pending (before_commit runs before the commit's flush): next time
            pending[key] = _Rows(msg, None, signatures=later, activities=later_acts)
        signatures += [{**row, "message_id": msg.id, "contact_id": c.id} for c, row in rows.signatures
                       if c.id is not None]
        activities += [{**row, "message_id": msg.id, "user_id": msg.user_id, "contact_id": c.id if c else None}
                       for c, row in rows.activities if c is None or c.id is not None or c not in session]
        if rows.raw is not None:
            sha = msg.sha256 or hashlib.sha256(rows.raw).hexdigest()
            blobs[sha] = {"sha256": sha, "data": rows.raw, "size": len(rows.raw)}
        for address, name, contact, role, direction in rows.participants:
            cid = contact.id if isinstance(contact, Contact) else contact
            participants.append({"message_id": msg.id, "address": address, "name": name, "contact_id": cid,
                                 "role": role, "direction": direction, "date": msg.date})
    if blobs:
        conn = session.connection()
        conn.execute(_BLOBS.get(conn.dialect.name, insert(_RAW)), list(blobs.values()))  # type: ignore[arg-type]
    if participants:
        session.connection().execute(_PARTICIPANTS, participants)
    if signatures:
        session.connection().execute(_SIGNATURES, signatures)
    if activities:
        session.connection().execute(_ACTIVITIES, activities)


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    """A rolled-back transaction takes its held rows with it."""
    session.info.pop(_KEY, None)
