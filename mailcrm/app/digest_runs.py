"""The digest's run records: the (user, local date) claim that makes "at most once" true.

A ``DigestRun`` row, unique on (user, local date), is inserted before anything is sent (a unique
violation means another daemon or an earlier run has it) and moves claimed -> sending -> sent
(or skipped / failed); see digest/schedule.py for the whole story.  Each function here is one
transaction; the scheduler calls them from its threads.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.config import Config, UserConfig
from mailcrm.digest import send as send_mod
from mailcrm.digest.compose import make_digest, user_id
from mailcrm.parse.identity import normalize_message_id
from mailcrm.store.db import transaction
from mailcrm.store.models import DigestRun, User, utcnow

if TYPE_CHECKING:
    from mailcrm.digest.render import Rendered
    from mailcrm.digest.rules import Digest

STALE_CLAIM = dt.timedelta(minutes=15)  # longer than one SMTP attempt plus the longest backoff pause

SENT, SKIPPED, FAILED, TAKEN = "sent", "skipped", "failed", "taken"
CLAIMED, SENDING = "claimed", "sending"


def user_id_of(factory: sessionmaker[Session], user: UserConfig) -> int:
    """The store's id of ``user`` (the row is created when missing)."""
    with transaction(factory) as s:
        return user_id(s, user)


def build(factory: sessionmaker[Session], cfg: Config, user: UserConfig,
          local_date: dt.date) -> tuple[Digest, Rendered]:
    """Collect, apply the rules and render ``user``'s digest for ``local_date`` (read only)."""
    with transaction(factory) as s:
        return make_digest(s, cfg, user, local_date)


def registered_at(factory: sessionmaker[Session]) -> dict[str, dt.datetime]:
    """When each user row was created (a digest time before that was never missed)."""
    with transaction(factory) as s:
        return dict(s.execute(select(User.email, User.created_at)).tuples().all())


def instance_alive(claimed_by: str | None) -> bool:
    """False only when ``claimed_by`` ("[cli:]host:pid") names a process on this host that is gone."""
    host, _, pid = (claimed_by or "").removeprefix("cli:").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine (or unknown): only the STALE_CLAIM timeout can tell
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def claim(factory: sessionmaker[Session], uid: int, local_date: dt.date, instance_id: str,
          max_attempts: int, now: dt.datetime | None = None,
          alive: Callable[[str | None], bool] = instance_alive) -> int | None:
    """Claim (user, date) for sending; the DigestRun id, or None when someone else has it or it is done."""
    now = now or utcnow()
    try:
        with transaction(factory) as s:
            run = DigestRun(user_id=uid, local_date=local_date, status=CLAIMED, attempts=1,
                            claimed_by=instance_id[:200], claimed_at=now, summary={})
            s.add(run)
            s.flush()
            return run.id
    except IntegrityError:
        pass  # the row exists: sent, being sent, or left behind by a crash or a failure
    with transaction(factory) as s:
        row = s.scalar(select(DigestRun).where(DigestRun.user_id == uid, DigestRun.local_date == local_date))
        if row is None:
            return None
        # Only a claim that never reached the relay may be taken over; "sending" might have been delivered.
        stale = row.status == CLAIMED and (row.claimed_at < now - STALE_CLAIM or not alive(row.claimed_by))
        retry = row.status == FAILED and row.attempts < max_attempts
        if row.status == SENDING and (row.claimed_at < now - STALE_CLAIM or not alive(row.claimed_by)):
            # At most once wins over at least once: say so where the user looks (`mailcrm status`).
            note = f"digest {local_date.isoformat()}: sender {row.claimed_by} stopped during SMTP; may not have arrived"
            log.get("mailcrm.digest").warning("digest delivery uncertain", user_id=uid, date=local_date.isoformat(),
                                              claimed_by=row.claimed_by)
            send_mod.record_uncertain(s, local_date, note)
        if not (stale or retry):
            return None
        # Compare-and-set on the row we saw: of two daemons taking over, exactly one updates it.
        result = s.execute(update(DigestRun).where(
            DigestRun.id == row.id, DigestRun.status == row.status, DigestRun.claimed_at == row.claimed_at,
            DigestRun.attempts == row.attempts,
        ).values(status=CLAIMED, attempts=row.attempts + 1, claimed_by=instance_id[:200], claimed_at=now))
        return row.id if result.rowcount == 1 else None  # type: ignore[attr-defined]


def mark_sending(factory: sessionmaker[Session], run_id: int, instance_id: str) -> bool:
    """Record "handing to the relay now" (only while we still hold the claim); False when we lost it."""
    with transaction(factory) as s:
        result = s.execute(update(DigestRun).where(
            DigestRun.id == run_id, DigestRun.status == CLAIMED, DigestRun.claimed_by == instance_id[:200],
        ).values(status=SENDING, claimed_at=utcnow()))
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_retrying(factory: sessionmaker[Session], run_id: int, error: str, *, user: str | None = None,
                  local_date: dt.date | None = None, attempt: int | None = None) -> None:
    """After a failed SMTP attempt: nothing was delivered, the claim is ours again; relay health noted."""
    with transaction(factory) as s:
        s.execute(update(DigestRun).where(DigestRun.id == run_id, DigestRun.status == SENDING)
                  .values(status=CLAIMED, claimed_at=utcnow(), error=error[:2000]))
        send_mod.record_relay(s, False, error, user=user, local_date=local_date, attempt=attempt)


def finish(factory: sessionmaker[Session], run_id: int, status: str, *, error: str | None = None,
            summary: dict[str, Any] | None = None, relay_ok: bool | None = None, user: str | None = None,
            local_date: dt.date | None = None, attempt: int | None = None) -> None:
    """End a run in ``status`` (sent, skipped, failed), with its summary and the relay's health."""
    with transaction(factory) as s:
        values: dict[str, Any] = {"status": status, "error": error}
        if status == SENT:
            values["sent_at"] = utcnow()
        if summary is not None:
            values["summary"] = summary
        s.execute(update(DigestRun).where(DigestRun.id == run_id).values(**values))
        if relay_ok is not None:
            send_mod.record_relay(s, relay_ok, error, user=user, local_date=local_date, attempt=attempt)


def record_lines(factory: sessionmaker[Session], run_id: int, message_id: str, lines: list[dict[str, Any]]) -> None:
    """Keep the digest's Message-ID and what each line number meant, before it is handed to the relay."""
    with transaction(factory) as s:
        mid = normalize_message_id(message_id) or message_id  # as replies' References are read (parse/identity)
        s.execute(update(DigestRun).where(DigestRun.id == run_id).values(message_id=mid[:1000], lines=lines))


def run_for_reply(session: Session, user_id: int, references: Sequence[str]) -> DigestRun | None:
    """The digest sent to ``user_id`` that a reply references (normalized Message-IDs), newest first."""
    if not references:
        return None
    return session.scalars(select(DigestRun).where(
        DigestRun.user_id == user_id, DigestRun.message_id.in_([r[:1000] for r in references]))
        .order_by(DigestRun.local_date.desc()).limit(1)).first()
