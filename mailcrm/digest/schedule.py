"""When digests go out: one APScheduler cron job per user; the (user, date) claim is app/digest_runs.py.

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
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.app import digest_runs
from mailcrm.app.digest_runs import FAILED, SENT, SKIPPED, TAKEN, claim, finish, mark_retrying, mark_sending
from mailcrm.config import Config, UserConfig
from mailcrm.digest import send as send_mod
from mailcrm.digest.compose import local_today
from mailcrm.digest.rules import numbered_lines

MISFIRE_GRACE = 3600  # a loop stalled for up to an hour still sends that morning's digest
RETRY_LATER = dt.timedelta(minutes=15)  # a failed run (relay down through all retries) is tried again



def trigger_for(user: UserConfig) -> CronTrigger:
    """The daily cron trigger at the user's digest_time in the user's zone."""
    t = dt.time.fromisoformat(user.digest_time)
    return CronTrigger(hour=t.hour, minute=t.minute, timezone=ZoneInfo(user.timezone))


async def run_digest(cfg: Config, factory: sessionmaker[Session], user: UserConfig, local_date: dt.date,
                     instance_id: str, *, base_delay: float = 2.0) -> dict[str, Any]:
    """Claim, build and send one user's digest for one local date (at most once); returns the outcome."""
    logger = log.get("mailcrm.digest", user=user.email, date=local_date.isoformat())

    uid = await asyncio.to_thread(digest_runs.user_id_of, factory, user)
    run_id = await asyncio.to_thread(claim, factory, uid, local_date, instance_id, cfg.digest.max_retries + 1)
    if run_id is None:
        logger.info("digest already sent or claimed")
        return {"outcome": TAKEN, "user": user.email, "date": local_date}

    try:
        digest, rendered = await asyncio.to_thread(digest_runs.build, factory, cfg, user, local_date)
    except Exception as exc:  # noqa: BLE001 - a bug in a rule must not leave the claim hanging
        await asyncio.to_thread(finish, factory, run_id, FAILED, error=f"build: {type(exc).__name__}: {exc}")
        logger.error("digest build failed", error=str(exc))
        raise
    summary = digest.summary()
    if digest.is_empty and cfg.digest.empty_day == "none":
        await asyncio.to_thread(finish, factory, run_id, SKIPPED, summary=summary)
        logger.info("digest empty, not sent")
        return {"outcome": SKIPPED, "user": user.email, "date": local_date, "summary": summary}
    message = send_mod.build_message(rendered, from_address=cfg.digest.from_address, to=user.email,
                                     to_name=user.name, local_date=local_date,
                                     reply_to=send_mod.plus_address(user.dropbox, "digest"))
    await asyncio.to_thread(digest_runs.record_lines, factory, run_id, str(message["Message-ID"]),
                            [line.to_json() for line in numbered_lines(digest)])
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
            finish(factory, run_id, FAILED, error="daemon stopped before sending", summary=summary)
        raise
    except send_mod.RelayError as exc:
        if lost_claim:
            logger.warning("digest claim taken over by another instance; not sent here")
            return {"outcome": TAKEN, "user": user.email, "date": local_date}
        await asyncio.to_thread(finish, factory, run_id, FAILED, error=str(exc), summary=summary, relay_ok=False,
                                user=user.email, local_date=local_date)
        logger.error("digest not sent", error=str(exc))
        return {"outcome": FAILED, "user": user.email, "date": local_date, "error": str(exc)}
    await asyncio.to_thread(finish, factory, run_id, SENT, summary=summary, relay_ok=True, user=user.email,
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

    registered = digest_runs.registered_at(factory)
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
