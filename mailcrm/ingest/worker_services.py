"""The daemon's store-side services, run in the worker process beside the ingest worker.

They all read and write the store, so they live where the store already is (issue 26): the SMTP
front end then imports neither SQLAlchemy nor the app, and the daemon's two processes together
stay small.  Each reacts to the worker's commits in-process:

- IMAP sources (one thread per account; a message's \\Seen flag only after its commit);
- the answer sender (``app/answer_outbox``): after each commit of mail, and when a retry is due;
- the lead notifier: the "new lead" mail of each lead not yet announced, after each commit that
  may have made one (digests on: the notices go through the digest's relay);
- repeat warnings ("already sent", ``works.warn_mail``), once per burst of stored mail;
- the digest scheduler (APScheduler), when digests are on.

The asynchronous ones share one asyncio loop in a thread of their own.  ``stop`` ends them in the
reverse order once the worker has drained; a message in the middle of being sent finishes or is
retried from its durable outbox row at the next start.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.config import Config
from mailcrm.errors import StoreUnavailable
from mailcrm.ingest.worker import Worker
from mailcrm.outcomes import Outcome
from mailcrm.spool import Spool, SpoolItem

# A stop waits this long for repeat warnings being mailed, and each cancelled task this long to end;
# together well inside the daemon's drain time for the whole worker process (DRAIN_SECONDS, 30 s).
STOP_SECONDS = 10.0
CANCEL_SECONDS = 3.0
# Repeat warnings are looked for at most this often while mail is being stored (each look is a
# query): a burst costs one look, not one per message.
WARNING_KICK_DELAY = 0.5


class WorkerServices:
    """IMAP threads, the scheduler and the outbound-mail tasks of one worker process."""

    def __init__(self, cfg: Config, factory: sessionmaker[Session], spool: Spool, worker: Worker,
                 stop_event: threading.Event) -> None:
        self.cfg, self.factory, self.spool, self.worker = cfg, factory, spool, worker
        self.stop_event = stop_event
        self.log = log.get("mailcrm.services")
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="mailcrm-services", daemon=True)
        self.imap_threads: list[threading.Thread] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.scheduler: Any = None
        self.warnings: Any = None
        self.stopping = False  # the loops end on it too: asyncio.wait_for can swallow a cancel (3.11)

    # -- start / stop --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the loop thread, its tasks, the IMAP threads and the scheduler."""
        self.thread.start()
        self._call(self._start_tasks())
        if self.cfg.imap:
            from mailcrm.sources import imap

            self.imap_threads = imap.start_sources(self.cfg, self.spool, self.worker, self.factory, self.stop_event)

    def stop(self) -> None:
        """Stop in reverse order (the worker has drained); waits up to ``STOP_SECONDS`` for mail in flight."""
        for t in self.imap_threads:  # they watch the stop event every second
            t.join(CANCEL_SECONDS)
        if self.thread.is_alive():
            try:
                self._call(self._stop_tasks(), timeout=STOP_SECONDS + 2 * CANCEL_SECONDS + 2)
            except Exception as exc:  # noqa: BLE001 - stopping must finish
                self.log.warning("services stop", error=f"{type(exc).__name__}: {exc}")
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()

    def _call(self, coro: Coroutine[Any, Any, None], timeout: float | None = 30.0) -> None:
        asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        if self.cfg.works.warn_mail:
            # Repeats ("already sent") are mailed right after the commit that recorded them (issue 22).
            from mailcrm.app.work_warnings import WarningMailer

            mailer = self.warnings = WarningMailer(self.cfg, self.factory, loop)
            kick = _Throttled(loop, WARNING_KICK_DELAY, mailer.kick)
            self.worker.on_committed(lambda _item, outcome: kick() if outcome == Outcome.STORED else None)
            mailer.kick()  # any left pending by the last run
        # Answers owed by mail (answer_outbox) go out after each commit, and again when a retry is due.
        answer_wake = asyncio.Event()
        self.worker.on_committed(_waker(loop, answer_wake, lambda item: item.meta.kind != "intake"))
        self.tasks.append(asyncio.create_task(self._send_answers(answer_wake)))
        if self.cfg.digest.enabled:  # the relay the notices go through is the digest's
            # A lead (from the intake or a form's mail) may need its "new lead" mail.
            notify_wake = asyncio.Event()
            self.worker.on_committed(_waker(loop, notify_wake,
                                            lambda item: item.meta.kind == "intake" or item.meta.mail_from is not None))
            self.tasks.append(asyncio.create_task(self._notify_leads(notify_wake)))
        if self.cfg.digest.enabled:
            # Imported here (APScheduler is only needed when digests are on); a failed import is an
            # error at start, never a silently disabled digest.  It runs its jobs on this loop.
            from mailcrm.digest import schedule

            self.scheduler = schedule.start_scheduler(self.cfg, self.factory, f"{socket.gethostname()}:{os.getpid()}")

    async def _stop_tasks(self) -> None:
        self.stopping = True
        if self.scheduler is not None:
            try:
                self.scheduler.shutdown(wait=False)
            except Exception as exc:  # noqa: BLE001
                self.log.warning("scheduler shutdown", error=str(exc))
        for task in self.tasks:
            task.cancel()
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=CANCEL_SECONDS)
        if self.warnings is not None and self.warnings.tasks:
            await asyncio.wait(list(self.warnings.tasks), timeout=STOP_SECONDS)
        # What is left (a digest being sent) is cancelled as asyncio.run would: the digest run is
        # recorded as retryable and the next start sends it.
        rest = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in rest:
            task.cancel()
        if rest:
            _done, pending = await asyncio.wait(rest, timeout=CANCEL_SECONDS)
            if pending:
                self.log.warning("left running at stop", tasks=sorted(repr(t.get_coro()) for t in pending))

    # -- the tasks -------------------------------------------------------------------------------
    async def _notify_leads(self, wake: asyncio.Event) -> None:
        """Send the "new lead" mail of every lead not yet announced; woken after each commit."""
        from mailcrm.app import leads
        from mailcrm.digest import lead_notice
        from mailcrm.digest.send import RelayError, send_once

        while not self.stopping:
            try:
                for notice in await asyncio.to_thread(leads.pending_notices, self.factory):
                    msg = lead_notice.build_notice(notice, from_address=self.cfg.digest.from_address)
                    try:
                        await send_once(self.cfg.digest, msg)
                        error = None
                    except RelayError as exc:
                        error = str(exc)
                        self.log.warning("lead notice failed", lead=notice.lead_id, error=error)
                    for attempt in range(5):  # sent but not marked would send it again: insist
                        try:
                            await asyncio.to_thread(leads.mark_notice, self.factory, notice.lead_id, error)
                            break
                        except StoreUnavailable:
                            if attempt == 4:
                                raise
                            await asyncio.sleep(0.5 * (attempt + 1))
                    if error is not None:
                        break  # the relay is down: try the rest on the next round
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the notifier must outlive a database hiccup
                self.log.warning("lead notifier error", error=f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.wait_for(wake.wait(), timeout=30.0)
            except asyncio.TimeoutError:
                pass
            wake.clear()

    async def _send_answers(self, wake: asyncio.Event) -> None:
        """Mail the answers owed (app/answer_outbox.py); sleep until the next commit or the next retry due."""
        from mailcrm.app import answer_outbox
        from mailcrm.store.models import utcnow

        while not self.stopping:
            timeout = 30.0
            try:
                await answer_outbox.deliver_due(self.factory, self.cfg)
                due = await asyncio.to_thread(answer_outbox.next_due, self.factory)
                if due is not None:
                    timeout = min(timeout, max(0.05, (due - utcnow()).total_seconds()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - the sender must outlive a database hiccup
                self.log.warning("answer sender error", error=f"{type(exc).__name__}: {exc}")
            try:
                await asyncio.wait_for(wake.wait(), timeout=timeout)
            except asyncio.TimeoutError:
                pass
            wake.clear()


def _waker(loop: asyncio.AbstractEventLoop, event: asyncio.Event,
           wanted: Callable[[SpoolItem], bool]) -> Callable[[SpoolItem, Outcome], None]:
    """A commit callback (worker thread) that sets ``event`` on ``loop``: one wake per burst, not one per item."""
    asked = threading.Event()  # a wake is on its way to the loop

    def set_wake() -> None:
        asked.clear()
        event.set()

    def committed(item: SpoolItem, _outcome: Outcome) -> None:
        if wanted(item) and not asked.is_set():
            asked.set()
            loop.call_soon_threadsafe(set_wake)

    return committed


class _Throttled:
    """Thread-safe: ``fn`` runs on the loop ``delay`` seconds after the first call of a burst, once."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float, fn: Any) -> None:
        self.loop, self.delay, self.fn = loop, delay, fn
        self.asked = threading.Event()

    def __call__(self) -> None:
        if self.asked.is_set():
            return
        self.asked.set()
        self.loop.call_soon_threadsafe(self.loop.call_later, self.delay, self._fire)

    def _fire(self) -> None:
        self.asked.clear()
        self.fn()
