"""When digests go out: one APScheduler cron job per user, and the (user, date) claim.

Each user gets a ``CronTrigger`` at ``digest_time`` in their own IANA zone (APScheduler does
the DST arithmetic: 08:00 stays 08:00 local across a change).  Jobs live in the in-memory job
store, so nothing is "missed" from the scheduler's point of view after a restart; instead, at
start we look at each user's local clock and send a digest missed while down if it is still
that day and past ``digest_time``.  What makes "at most once" true is the store, not the
scheduler: a ``DigestRun`` row, unique on (user, local date), is inserted before sending (a
unique violation means another daemon or an earlier run has it) and marked after.  A claim
left in 'sending' by a crash is taken over after ``STALE_CLAIM``; a failed one is retried at
the next start up to ``max_retries`` times.
"""

from __future__ import annotations

import asyncio
import datetime as dt
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
from mailcrm.store.models import DigestRun, utcnow

STALE_CLAIM = dt.timedelta(minutes=15)  # longer than any send with all its retries
MISFIRE_GRACE = 3600  # a loop stalled for up to an hour still sends that morning's digest

SENT, SKIPPED, FAILED, TAKEN = "sent", "skipped", "failed", "taken"


def trigger_for(user: UserConfig) -> CronTrigger:
    """The daily cron trigger at the user's digest_time in the user's zone."""
    t = dt.time.fromisoformat(user.digest_time)
    return CronTrigger(hour=t.hour, minute=t.minute, timezone=ZoneInfo(user.timezone))


def claim(factory: sessionmaker[Session], uid: int, local_date: dt.date, instance_id: str,
          max_attempts: int, now: dt.datetime | None = None) -> int | None:
    """Claim (user, date) for sending; the DigestRun id, or None when someone else has it or it is done."""
    now = now or utcnow()
    try:
        with transaction(factory) as s:
            run = DigestRun(user_id=uid, local_date=local_date, status="sending", attempts=1,
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
        stale = row.status == "sending" and row.claimed_at < now - STALE_CLAIM
        retry = row.status == "failed" and row.attempts < max_attempts
        if not (stale or retry):
            return None
        # Compare-and-set on the row we saw: of two daemons taking over, exactly one updates it.
        result = s.execute(update(DigestRun).where(
            DigestRun.id == row.id, DigestRun.status == row.status, DigestRun.claimed_at == row.claimed_at,
            DigestRun.attempts == row.attempts,
        ).values(status="sending", attempts=row.attempts + 1, claimed_by=instance_id[:200], claimed_at=now))
        return row.id if result.rowcount == 1 else None  # type: ignore[attr-defined]


def _finish(factory: sessionmaker[Session], run_id: int, status: str, *, error: str | None = None,
            summary: dict[str, Any] | None = None, relay_ok: bool | None = None) -> None:
    with transaction(factory) as s:
        values: dict[str, Any] = {"status": status, "error": error}
        if status == SENT:
            values["sent_at"] = utcnow()
        if summary is not None:
            values["summary"] = summary
        s.execute(update(DigestRun).where(DigestRun.id == run_id).values(**values))
        if relay_ok is not None:
            send_mod.record_relay(s, relay_ok, error)


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
    try:
        attempts = await send_mod.deliver(cfg.digest, message, base_delay=base_delay)
    except send_mod.RelayError as exc:
        await asyncio.to_thread(_finish, factory, run_id, FAILED, error=str(exc), summary=summary, relay_ok=False)
        logger.error("digest not sent", error=str(exc))
        return {"outcome": FAILED, "user": user.email, "date": local_date, "error": str(exc)}
    await asyncio.to_thread(_finish, factory, run_id, SENT, summary=summary, relay_ok=True)
    logger.info("digest sent", attempts=attempts, **summary)
    return {"outcome": SENT, "user": user.email, "date": local_date, "summary": summary, "attempts": attempts}


async def _job(cfg: Config, factory: sessionmaker[Session], email: str, instance_id: str) -> None:
    user = next(u for u in cfg.users if u.email == email)
    try:
        await run_digest(cfg, factory, user, local_today(user), instance_id)
    except Exception as exc:  # noqa: BLE001 - logged; tomorrow's job still runs
        log.get("mailcrm.digest").error("digest job failed", user=email, error=f"{type(exc).__name__}: {exc}")


def missed_today(user: UserConfig, now: dt.datetime | None = None) -> bool:
    """True when the user's digest_time has passed on their local today (catch-up at start)."""
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(ZoneInfo(user.timezone))
    return now.time().replace(second=0, microsecond=0) >= dt.time.fromisoformat(user.digest_time)


def start_scheduler(cfg: Config, factory: sessionmaker[Session], instance_id: str) -> AsyncIOScheduler:
    """Start one cron job per user (inside the running loop) plus catch-up runs for missed digests."""
    scheduler = AsyncIOScheduler(timezone=dt.timezone.utc)
    for user in cfg.users:
        args = [cfg, factory, user.email, instance_id]
        scheduler.add_job(_job, trigger_for(user), args=args, id=f"digest:{user.email}", name=f"digest {user.email}",
                          misfire_grace_time=MISFIRE_GRACE, coalesce=True, max_instances=1)
        if missed_today(user):
            # Run now; the claim makes this a no-op when today's digest already went out.
            scheduler.add_job(_job, "date", run_date=dt.datetime.now(dt.timezone.utc), args=args,
                              id=f"catch-up:{user.email}", misfire_grace_time=MISFIRE_GRACE)
    scheduler.start()
    log.get("mailcrm.digest").info("scheduler started", users=len(cfg.users), instance=instance_id)
    return scheduler
