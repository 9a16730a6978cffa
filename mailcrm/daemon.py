"""Composition root for `mailcrm serve`: build, start in order, stop in reverse.

Start: logging -> database (migrate, sync users) -> spool recovery -> worker process ->
IMAP threads -> SMTP listener -> web listener (when [web] or --web) -> digest scheduler ->
lead notifier.  The listeners only spool (fsync, then 250 / 2xx); the ingest worker (parse +
write) runs in a process of its own that this one supervises (``ingest/worker_process.py``:
restarted when it dies, drained at stop).  SIGTERM/SIGINT drain: the listener stops accepting,
in-flight SMTP sessions get up to ``DRAIN_SECONDS`` to finish, the worker process finishes the
spool and its transaction, IMAP threads stop, the scheduler shuts down.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from typing import Any

from aiosmtpd.smtp import SMTP

from mailcrm import log, runtime
from mailcrm.app import cases
from mailcrm.app.handle import open_store
from mailcrm.config import Config, WebConfig, insecure_listen, is_loopback
from mailcrm.errors import ConfigError, StoreUnavailable
from mailcrm.ingest import worker_process
from mailcrm.ingest.worker_process import WorkerProcess
from mailcrm.sources import smtp as smtp_mod
from mailcrm.spool import Spool

DRAIN_SECONDS = 30.0
# Repeat warnings are looked for at most this often while mail is being stored (each look is a
# query in this process, whose loop answers SMTP): a burst costs one look, not one per message.
WARNING_KICK_DELAY = 0.5


def parse_listen(value: str) -> tuple[str, int]:
    """"HOST:PORT" or "[v6]:PORT" -> (host, port); ConfigError on junk."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not (0 <= int(port) <= 65535):
        raise ConfigError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:2525")
    return host.strip("[]") or "127.0.0.1", int(port)


def exposure_warnings(cfg: Config, host: str) -> list[str]:
    """Listening beyond loopback with neither SMTP AUTH required nor author_auth = "require"."""
    if is_loopback(host) or cfg.smtp.require_auth or cfg.security.author_auth == "require":
        return []
    return [f"{cfg.source}: smtp listens on {host} (beyond loopback) with neither smtp.require_auth nor "
            f"security.author_auth = \"require\" (it is {cfg.security.author_auth!r}): anyone who learns the "
            "dropbox can write as you"]


class Daemon:
    """The running service."""

    def __init__(self, cfg: Config, listen: tuple[str, int] | None = None,
                 web_listen: tuple[str, int] | None = None) -> None:
        self.cfg = cfg
        self.listen = listen or (cfg.smtp.host, cfg.smtp.port)
        if web_listen is None and cfg.web is not None:
            web_listen = parse_listen(cfg.web.listen)
        if web_listen is not None:
            # Checked before anything starts: --web may name a public address [web] listen does not.
            problem = insecure_listen(web_listen[0], cfg.web or WebConfig())
            if problem:
                raise ConfigError(f"--web / [web] listen: {problem}")
        self.web_listen = web_listen
        self.web: Any = None
        self.notifier: asyncio.Task[None] | None = None
        self.notify_wake: asyncio.Event | None = None
        self.answerer: asyncio.Task[None] | None = None
        self.answer_wake: asyncio.Event | None = None
        self.log = log.get("mailcrm.daemon")
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sessions: set[SMTP] = set()
        self.server: asyncio.base_events.Server | None = None
        self.scheduler: Any = None
        self.sockets: list[dict[str, str]] = []  # as bound, for `mailcrm status` (runtime.py)
        self.warnings: Any = None

    def build(self) -> None:
        """Open the store (migrated), sync users, recover the spool, prepare the worker process."""
        if not self.cfg.users:
            raise ConfigError(f"{self.cfg.source}: users: no [[users]] configured; run `mailcrm init`")
        if self.cfg.smtp.auth_allow_plaintext and not is_loopback(self.listen[0]):
            # The config check sees [smtp] host only; `serve --listen` may name another address.
            raise ConfigError(f"{self.cfg.source}: smtp.auth_allow_plaintext: true would send passwords in clear "
                              f"to {self.listen[0]} (--listen): allowed only on a loopback address")
        store = open_store(self.cfg)
        self.engine, self.factory = store.engine, store.factory
        cases.sync_users(store, self.cfg)
        self.spool = Spool(self.cfg.spool_path())
        if not self.spool.become_worker():
            raise ConfigError(f"{self.cfg.spool_path()}: another `mailcrm serve` is already running on this spool "
                              "(each daemon needs its own data_dir)")
        pending = self.spool.recover()
        self.worker = WorkerProcess(self.cfg, self.spool)
        self.log.info("store ready", db=self.engine.dialect.name, pending=pending)

    async def start(self) -> None:
        """Start the worker, the IMAP sources, the SMTP listener and the scheduler."""
        if self.cfg.works.warn_mail:
            # Repeats ("already sent") are mailed right after the commit that recorded them (issue 22).
            from mailcrm.app.work_warnings import WarningMailer
            from mailcrm.outcomes import Outcome

            mailer = self.warnings = WarningMailer(self.cfg, self.factory, asyncio.get_running_loop())
            kick = _Throttled(asyncio.get_running_loop(), WARNING_KICK_DELAY, mailer.kick)
            self.worker.on_committed(lambda _item, outcome: kick() if outcome == Outcome.STORED else None)
            mailer.kick()  # any left pending by the last run
        self.threads.append(self.worker.start(self.stop_event))
        if self.cfg.imap:
            from mailcrm.sources import imap

            self.threads.extend(imap.start_sources(self.cfg, self.spool, self.worker, self.factory, self.stop_event))
        handler = smtp_mod.DropboxHandler(self.cfg, self.spool)
        self.handler = handler
        loop = asyncio.get_running_loop()
        host, port = self.listen
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.server = await loop.create_server(
            smtp_mod.make_protocol_factory(self.cfg, handler, self.sessions), host=host, port=port,
            family=family, reuse_address=True,
        )
        bound = self.server.sockets[0].getsockname()
        self.log.info("smtp listening", host=bound[0], port=bound[1], pid=os.getpid())
        self.sockets.append({"kind": "smtp", "listen": _hostport(bound)})
        runtime.write(self.cfg.data_path(), self.sockets)
        for warning in [*self.cfg.warnings(), *exposure_warnings(self.cfg, host)]:
            self.log.warning("insecure setting", problem=warning)
        self.notify_wake = asyncio.Event()
        wake = self.notify_wake
        asked = threading.Event()  # a wake is on its way to the loop: one per burst, not one per item

        def set_wake() -> None:
            asked.clear()
            wake.set()

        def lead_committed(item: Any, outcome: Any) -> None:
            # A lead (from the intake or a form's mail) may need its "new lead" mail.
            if (item.meta.kind == "intake" or item.meta.mail_from is not None) and not asked.is_set():
                asked.set()
                loop.call_soon_threadsafe(set_wake)

        if self.cfg.digest.enabled:  # the relay the notices go through is the digest's
            self.worker.on_committed(lead_committed)
        # Answers owed by mail (answer_outbox) go out after each commit, and again when a retry is due.
        self.answer_wake = asyncio.Event()
        answer_wake = self.answer_wake
        answer_asked = threading.Event()

        def set_answer_wake() -> None:
            answer_asked.clear()
            answer_wake.set()

        def answer_committed(item: Any, outcome: Any) -> None:
            if item.meta.kind != "intake" and not answer_asked.is_set():
                answer_asked.set()
                loop.call_soon_threadsafe(set_answer_wake)

        self.worker.on_committed(answer_committed)
        self.answerer = asyncio.create_task(self._send_answers())
        if self.web_listen is not None:
            # Imported here: uvicorn and starlette load only when the web listener is on.
            from mailcrm.web.app import WebContext, WebServer, create_app

            web_cfg = self.cfg.web or WebConfig()
            ctx = WebContext(self.cfg, self.spool, self.factory)
            self.web = WebServer(create_app(ctx), *self.web_listen,
                                 tls=(web_cfg.tls_cert, web_cfg.tls_key) if web_cfg.tls_cert and web_cfg.tls_key else None)
            await self.web.start()
        if self.cfg.digest.enabled:
            self.notifier = asyncio.create_task(self._notify_leads())
        if self.cfg.digest.enabled:
            # Imported here (APScheduler is only needed when digests are on); a failed import is an
            # error at start, never a silently disabled digest.
            from mailcrm.digest import schedule

            self.scheduler = schedule.start_scheduler(self.cfg, self.factory, f"{socket.gethostname()}:{os.getpid()}")

    async def _notify_leads(self) -> None:
        """Send the "new lead" mail of every lead not yet announced; woken after each commit."""
        from mailcrm.app import leads
        from mailcrm.digest import lead_notice
        from mailcrm.digest.send import RelayError, send_once

        assert self.notify_wake is not None
        while True:
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
                await asyncio.wait_for(self.notify_wake.wait(), timeout=30.0)
            except asyncio.TimeoutError:
                pass
            self.notify_wake.clear()

    async def _send_answers(self) -> None:
        """Mail the answers owed (app/answer_outbox.py); sleep until the next commit or the next retry due."""
        from mailcrm.app import answer_outbox
        from mailcrm.store.models import utcnow

        assert self.answer_wake is not None
        while True:
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
                await asyncio.wait_for(self.answer_wake.wait(), timeout=timeout)
            except asyncio.TimeoutError:
                pass
            self.answer_wake.clear()

    async def stop(self) -> None:
        """Drain and stop everything in reverse order."""
        self.log.info("stopping")
        for task in (self.notifier, self.answerer):
            if task is None:
                continue
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
        if self.web is not None:
            await self.web.stop()  # answers in flight finish: their items are already spooled
        if self.scheduler is not None:
            try:
                self.scheduler.shutdown(wait=False)
            except Exception as exc:  # noqa: BLE001
                self.log.warning("scheduler shutdown", error=str(exc))
        if self.server is not None:
            self.server.close()  # stop accepting; established sessions continue
            loop = asyncio.get_running_loop()
            deadline = loop.time() + DRAIN_SECONDS
            while loop.time() < deadline:
                # Only sessions inside a mail transaction (MAIL given, DATA not finished) hold us up.
                busy = [s for s in self.sessions if s.envelope is not None and s.envelope.mail_from is not None]
                if not busy and not self.handler.in_flight:
                    break
                await asyncio.sleep(0.05)
            for s in list(self.sessions):
                if s.transport is not None:
                    s.transport.close()
        self.stop_event.set()
        self.spool.wake()
        for t in self.threads:  # the worker's supervisor first drains the worker process (its own timeout)
            await asyncio.to_thread(t.join, DRAIN_SECONDS + worker_process.DRAIN_SECONDS + 10)
        if self.warnings is not None and self.warnings.tasks:
            await asyncio.wait(list(self.warnings.tasks), timeout=DRAIN_SECONDS)
        self.engine.dispose()
        self.spool.stop_being_worker()
        runtime.remove(self.cfg.data_path())
        self.log.info("stopped")

    async def run_forever(self) -> None:
        """Start, wait for SIGTERM/SIGINT, stop."""
        try:
            await self.start()
        except BaseException:
            # A listener that cannot bind (port taken): stop what did start (the worker thread would
            # otherwise keep the process alive after the one-line error).
            await self.stop()
            raise
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        await self.stop()


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


def _hostport(bound: tuple[Any, ...]) -> str:
    host, port = bound[0], bound[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(cfg: Config, listen: tuple[str, int] | None = None, web_listen: tuple[str, int] | None = None) -> None:
    """Run the daemon until a signal stops it."""
    daemon = Daemon(cfg, listen, web_listen)
    daemon.build()
    asyncio.run(daemon.run_forever())
