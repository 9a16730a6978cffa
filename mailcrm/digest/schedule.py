"""When digests go out: one APScheduler cron job per user, and the (user, date) claim.

Each user gets a ``CronTrigger`` at ``digest_time`` in their own IANA zone (APScheduler does
the DST arithmetic: 08:00 stays 08:00 local across a change; a time that happens twice on the
autumn night fires twice, and the claim below turns the second into a no-op).  Jobs live in the
in-memory job store, so nothing is "missed" from the scheduler's point of view after a restart;
instead, at start we look at each user's local clock and send a digest missed while down if it
is still that day and past ``digest_time``.

What makes "at most once" true is the store, not the scheduler: a ``DigestRun`` row, unique on
(user, local date), is inserted before anything is sent (a unique violation means another
daemon or an earlier run has it) and moves through these states:

    claimed ──> sending ──> sent            (skipped: nothing to do and empty_day = "none")
       ^           │
       └── retry ──┘──> failed              (every attempt failed; retried later the same day)

``claimed`` means nothing has gone to the relay yet: a claim left there by a crash is taken
over after ``STALE_CLAIM``.  ``sending`` means an SMTP transaction was under way; the relay may
have accepted the mail before the crash, so such a run is never re-sent automatically (it
shows in `mailcrm status` via its error).  A ``failed`` run is retried by a later job the same
local day, or at the next start, up to ``max_retries + 1`` runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.config import Config, UserConfig
from mailcrm.digest import send as send_mod
from mailcrm.digest.compose import local_today, make_digest, user_id
from mailcrm.store.db import transaction
from mailcrm.store.models import DigestRun, User, utcnow

STALE_CLAIM = dt.timedelta(minutes=15)  # longer than one SMTP attempt plus the longest backoff pause
MISFIRE_GRACE = 3600  # a loop stalled for up to an hour still sends that morning's digest
RETRY_LATER = dt.timedelta(minutes=15)  # a failed run (relay down through all retries) is tried again

SENT, SKIPPED, FAILED, TAKEN = "sent", "skipped", "failed", "taken"
CLAIMED, SENDING = "claimed", "sending"


def trigger_for(user: UserConfig) -> CronTrigger:
    """The daily cron trigger at the user's digest_time in the user's zone."""
    t = dt.time.fromisoformat(user.digest_time)
    return CronTrigger(hour=t.hour, minute=t.minute, timezone=ZoneInfo(user.timezone))


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
        return result.rowcount == 1  # type: ignore[attr-defined]


def mark_retrying(factory: sessionmaker[Session], run_id: int, error: str, *, user: str | None = None,
                  local_date: dt.date | None = None, attempt: int | None = None) -> None:
    """After a failed SMTP attempt: nothing was delivered, the claim is ours again; relay health noted."""
    with transaction(factory) as s:
        s.execute(update(DigestRun).where(DigestRun.id == run_id, DigestRun.status == SENDING)
                  .values(status=CLAIMED, claimed_at=utcnow(), error=error[:2000]))
        send_mod.record_relay(s, False, error, user=user, local_date=local_date, attempt=attempt)


def _finish(factory: sessionmaker[Session], run_id: int, status: str, *, error: str | None = None,
            summary: dict[str, Any] | None = None, relay_ok: bool | None = None, user: str | None = None,
            local_date: dt.date | None = None, attempt: int | None = None) -> None:
    with transaction(factory) as s:
        values: dict[str, Any] = {"status": status, "error": error}
        if status == SENT:
            values["sent_at"] = utcnow()
        if summary is not None:
            values["summary"] = summary
        s.execute(update(DigestRun).where(DigestRun.id == run_id).values(**values))
        if relay_ok is not None:
            send_mod.record_relay(s, relay_ok, error, user=user, local_date=local_date, attempt=attempt)


async def run_digest(cfg: Config, factory: sessionmaker[Session], user: UserConfig, local_date: dt.date,
                     instance_id: str, *, base_delay: float = 2.0) -> dict[str, Any]:
    """Claim, build and send one user's digest for one local date (at most once); returns the outcome."""
    logger = log.get("mailcrm.digest", user=user.email, date=local_date.isoformat())

    def _uid() -> int:
        with transaction(factory) as s:
            return user_id(s, user)

    uid = await asyncio.to_thread(_uid)
    run_id = await asyncio.to_thread(claim, factory, uid, local_date, instance_id, cfg.digest.max_retries + 1)
    if run_id is None:
        logger.info("digest already sent or claimed")
        return {"outcome": TAKEN, "user": user.email, "date": local_date}

    def _build() -> tuple[Any, Any]:
        with transaction(factory) as s:
            return make_digest(s, cfg, user, local_date)

    try:
        digest, rendered = await asyncio.to_thread(_build)
    except Exception as exc:  # noqa: BLE001 - a bug in a rule must not leave the claim hanging
        await asyncio.to_thread(_finish, factory, run_id, FAILED, error=f"build: {type(exc).__name__}: {exc}")
        logger.error("digest build failed", error=str(exc))
        raise
    summary = digest.summary()
    if digest.is_empty and cfg.digest.empty_day == "none":
        await asyncio.to_thread(_finish, factory, run_id, SKIPPED, summary=summary)
        logger.info("digest empty, not sent")
        return {"outcome": SKIPPED, "user": user.email, "date": local_date, "summary": summary}
    message = send_mod.build_message(rendered, from_address=cfg.digest.from_address, to=user.email,
                                     to_name=user.name, local_date=local_date)
    lost_claim: list[bool] = []
    in_smtp: list[bool] = []

    async def _before(attempt: int) -> None:
        if not await asyncio.to_thread(mark_sending, factory, run_id, instance_id):
            lost_claim.append(True)
            raise send_mod.RelayError("claim lost to another instance", permanent=True)
        in_smtp.append(True)

    async def _failed(attempt: int, exc: send_mod.RelayError) -> None:
        in_smtp.clear()
        if not lost_claim:
            await asyncio.to_thread(mark_retrying, factory, run_id, str(exc), user=user.email,
                                    local_date=local_date, attempt=attempt)

    try:
        attempts = await send_mod.deliver(cfg.digest, message, base_delay=base_delay, before_attempt=_before,
                                          after_failure=_failed)
    except asyncio.CancelledError:
        # Stopped (SIGTERM) while waiting between attempts: nothing went out, so the next start may
        # retry.  Stopped inside an SMTP transaction: the relay may have it; leave "sending".
        # The task is being cancelled, so nothing more may be awaited: one short write, in line.
        if not in_smtp and not lost_claim:
            _finish(factory, run_id, FAILED, error="daemon stopped before sending", summary=summary)
        raise
    except send_mod.RelayError as exc:
        if lost_claim:
            logger.warning("digest claim taken over by another instance; not sent here")
            return {"outcome": TAKEN, "user": user.email, "date": local_date}
        await asyncio.to_thread(_finish, factory, run_id, FAILED, error=str(exc), summary=summary, relay_ok=False,
                                user=user.email, local_date=local_date)
        logger.error("digest not sent", error=str(exc))
        return {"outcome": FAILED, "user": user.email, "date": local_date, "error": str(exc)}
    await asyncio.to_thread(_finish, factory, run_id, SENT, summary=summary, relay_ok=True, user=user.email,
                            local_date=local_date, attempt=attempts)
    logger.info("digest sent", attempts=attempts, **summary)
    return {"outcome": SENT, "user": user.email, "date": local_date, "summary": summary, "attempts": attempts}


def missed_today(user: UserConfig, now: dt.datetime | None = None, since: dt.datetime | None = None) -> bool:
    """True when today's digest was due while the user was registered and has not run (catch-up at start).

    Due: the user's digest_time has passed on their local today.  ``since`` (UTC; naive means
    UTC, as the store keeps it) is when the user was registered: a digest time that passed before
    that was never missed, so a first start late in the day sends nothing until tomorrow morning.
    """
    zone = ZoneInfo(user.timezone)
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(zone)
    due = dt.datetime.combine(now.date(), dt.time.fromisoformat(user.digest_time), tzinfo=zone)
    if now.replace(microsecond=0) < due:
        return False
    if since is not None:
        since = since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
        return since <= due
    return True


def start_scheduler(cfg: Config, factory: sessionmaker[Session], instance_id: str) -> AsyncIOScheduler:
    """Start one cron job per user (inside the running loop) plus catch-up runs for missed digests."""
    scheduler = AsyncIOScheduler(timezone=dt.timezone.utc)
    logger = log.get("mailcrm.digest")

    async def job(email: str, local_date: dt.date | None = None) -> None:
        user = next(u for u in cfg.users if u.email == email)
        today = local_today(user)
        day = local_date or today
        if day != today:
            logger.info("digest retry dropped: the local day is over", user=email, date=day.isoformat())
            return
        try:
            result = await run_digest(cfg, factory, user, day, instance_id)
        except asyncio.CancelledError:
            logger.info("digest interrupted by shutdown", user=email, date=day.isoformat())
            return  # the run is recorded as retryable; the next start picks it up
        except Exception as exc:  # noqa: BLE001 - logged; tomorrow's job still runs
            logger.error("digest job failed", user=email, error=f"{type(exc).__name__}: {exc}")
            return
        if result["outcome"] == FAILED:
            # The relay stayed down through every backoff step: try again later the same day.
            when = dt.datetime.now(dt.timezone.utc) + RETRY_LATER
            scheduler.add_job(job, "date", run_date=when, args=[email, day], id=f"retry:{email}",
                              replace_existing=True, misfire_grace_time=MISFIRE_GRACE)
            logger.info("digest retry scheduled", user=email, at=when.isoformat())

    with transaction(factory) as session:
        registered = dict(session.execute(select(User.email, User.created_at)).tuples().all())
    for user in cfg.users:
        scheduler.add_job(job, trigger_for(user), args=[user.email], id=f"digest:{user.email}",
                          name=f"digest {user.email}", misfire_grace_time=MISFIRE_GRACE, coalesce=True,
                          max_instances=1)
        if missed_today(user, since=registered.get(user.email)):
            # Run now; the claim makes this a no-op when today's digest already went out.
            scheduler.add_job(job, "date", run_date=dt.datetime.now(dt.timezone.utc), args=[user.email],
                              id=f"catch-up:{user.email}", misfire_grace_time=MISFIRE_GRACE)
    scheduler.start()
    logger.info("scheduler started", users=len(cfg.users), instance=instance_id)
    return scheduler
