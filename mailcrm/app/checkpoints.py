"""Store access for IMAP sources and imports: checkpoints, health rows, known-address lookup.

Rows live in ``source_state``: ``imap:<account>`` holds the account's health (ok_at,
error), ``imap:<account>:<folder>`` the folder checkpoint (UIDVALIDITY + last UID, RFC 3501
2.3.1.1: a UID is only meaningful together with its mailbox's UIDVALIDITY).  Imports use
``import:<kind>:<where>`` with their position in ``state``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.store import db
from mailcrm.store.models import EmailAddress, SourceState, utcnow


@dataclass(frozen=True)
class Checkpoint:
    """Where a folder (or an import) stopped."""

    uidvalidity: int | None
    last_uid: int
    state: dict[str, Any]


def account_key(account: str) -> str:
    """The health row of one IMAP account."""
    return f"imap:{account}"


def folder_key(account: str, folder: str, prefix: str = "imap") -> str:
    """The checkpoint row of one folder (``prefix`` "import:imap" for one-off imports)."""
    return f"{prefix}:{account}:{folder}"


@contextmanager
def _writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction; on SQLite BEGIN IMMEDIATE, so it waits for the worker instead of failing.

    (A deferred one reads first and cannot upgrade to a writer once the worker committed since.)
    """
    with db.transaction(factory) as s:
        s.connection(execution_options={"immediate": True})
        yield s


def _row(session: Session, name: str) -> SourceState:
    row = session.get(SourceState, name)
    if row is None:
        row = SourceState(name=name[:400], state={})
        session.add(row)
    return row


def load(factory: sessionmaker[Session], name: str) -> Checkpoint:
    """The checkpoint stored under ``name`` (empty when none)."""
    with db.transaction(factory) as s:
        row = s.get(SourceState, name)
        if row is None:
            return Checkpoint(None, 0, {})
        return Checkpoint(row.uidvalidity, int(row.last_uid or 0), dict(row.state or {}))


def save(factory: sessionmaker[Session], name: str, *, uidvalidity: int | None = None, last_uid: int | None = None,
         state: dict[str, Any] | None = None) -> None:
    """Advance a checkpoint; call only after the messages it covers are safe (spooled, or committed)."""
    with _writing(factory) as s:
        row = _row(s, name)
        if uidvalidity is not None:
            row.uidvalidity = uidvalidity
        if last_uid is not None:
            row.last_uid = last_uid
        if state is not None:
            row.state = {**(row.state or {}), **state}
        row.ok_at = utcnow()
        row.error = None


def record_ok(factory: sessionmaker[Session], name: str, **state: Any) -> None:
    """Mark a source healthy now (clears the error)."""
    with _writing(factory) as s:
        row = _row(s, name)
        row.ok_at = utcnow()
        row.error = None
        if state:
            row.state = {**(row.state or {}), **state}


def record_error(factory: sessionmaker[Session], name: str, error: str, **state: Any) -> None:
    """Remember why a source failed (one line; never a password)."""
    with _writing(factory) as s:
        row = _row(s, name)
        row.error = error.splitlines()[0][:500] if error else "error"
        row.error_at = utcnow()
        if state:
            row.state = {**(row.state or {}), **state}


def reset(factory: sessionmaker[Session], name: str) -> None:
    """Forget a checkpoint (a finished or restarted import)."""
    with _writing(factory) as s:
        row = s.get(SourceState, name)
        if row is not None:
            row.uidvalidity = None
            row.last_uid = 0
            row.state = {}


def known_addresses(factory: sessionmaker[Session], addresses: Iterable[str]) -> set[str]:
    """The subset of ``addresses`` the CRM already has (read-only; the inbox privacy filter)."""
    wanted = sorted({a.lower() for a in addresses if a})
    if not wanted:
        return set()
    found: set[str] = set()
    with db.transaction(factory) as s:
        for i in range(0, len(wanted), 500):
            found.update(s.scalars(select(EmailAddress.address).where(EmailAddress.address.in_(wanted[i:i + 500]))))
    return found


def imap_status(factory: sessionmaker[Session]) -> list[dict[str, Any]]:
    """Health and checkpoints of every IMAP account and folder (for `mailcrm status`)."""
    with db.transaction(factory) as s:
        rows = s.scalars(select(SourceState).where(SourceState.name.like("imap:%")).order_by(SourceState.name))
        return [
            {"name": r.name, "ok_at": r.ok_at, "error": r.error, "error_at": r.error_at,
             "uidvalidity": r.uidvalidity, "last_uid": r.last_uid, "state": dict(r.state or {})}
            for r in rows
        ]
