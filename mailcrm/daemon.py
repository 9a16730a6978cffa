"""Composition root for `mailcrm serve`: build, start in order, stop in reverse.

Start: logging -> database (migrate, sync users) -> spool recovery -> worker thread ->
IMAP threads -> SMTP listener -> digest scheduler.  SIGTERM/SIGINT drain: the listener
stops accepting, in-flight SMTP sessions get up to ``DRAIN_SECONDS`` to finish, the
worker finishes its transaction, IMAP threads stop, the scheduler shuts down.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import threading
from typing import Any

from aiosmtpd.smtp import SMTP

from mailcrm import log
from mailcrm.app import cases
from mailcrm.app.handle import open_store
from mailcrm.config import Config, is_loopback
from mailcrm.errors import ConfigError
from mailcrm.ingest.parse_pool import ParsePool
from mailcrm.ingest.worker import Worker, start_thread
from mailcrm.sources import smtp as smtp_mod
from mailcrm.spool import Spool

DRAIN_SECONDS = 30.0


def parse_listen(value: str) -> tuple[str, int]:
    """"HOST:PORT" or "[v6]:PORT" -> (host, port); ConfigError on junk."""
    host, sep, port = value.rpartition(":")
    if not sep or not port.isdigit() or not (0 <= int(port) <= 65535):
        raise ConfigError(f"--listen {value!r}: expected HOST:PORT, e.g. 127.0.0.1:2525")
    return host.strip("[]") or "127.0.0.1", int(port)


class Daemon:
    """The running service."""

    def __init__(self, cfg: Config, listen: tuple[str, int] | None = None) -> None:
        self.cfg = cfg
        self.listen = listen or (cfg.smtp.host, cfg.smtp.port)
        self.log = log.get("mailcrm.daemon")
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sessions: set[SMTP] = set()
        self.server: asyncio.base_events.Server | None = None
        self.scheduler: Any = None

    def build(self) -> None:
        """Open the store (migrated), sync users, recover the spool, create the worker."""
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
        self.parser = ParsePool(self.cfg.ingest.parser_processes())
        self.worker = Worker(self.cfg, self.factory, self.spool, self.parser)
        self.log.info("store ready", db=self.engine.dialect.name, pending=pending)

    async def start(self) -> None:
        """Start the worker, the IMAP sources, the SMTP listener and the scheduler."""
        self.threads.append(start_thread(self.worker, self.stop_event))
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
        if self.cfg.digest.enabled:
            # Imported here (APScheduler is only needed when digests are on); a failed import is an
            # error at start, never a silently disabled digest.
            from mailcrm.digest import schedule

            self.scheduler = schedule.start_scheduler(self.cfg, self.factory, f"{socket.gethostname()}:{os.getpid()}")

    async def stop(self) -> None:
        """Drain and stop everything in reverse order."""
        self.log.info("stopping")
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
        for t in self.threads:
            await asyncio.to_thread(t.join, DRAIN_SECONDS)
        await asyncio.to_thread(self.parser.close)
        self.engine.dispose()
        self.spool.stop_being_worker()
        self.log.info("stopped")

    async def run_forever(self) -> None:
        """Start, wait for SIGTERM/SIGINT, stop."""
        await self.start()
        loop = asyncio.get_running_loop()
        done = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        await done.wait()
        await self.stop()


def serve(cfg: Config, listen: tuple[str, int] | None = None) -> None:
    """Run the daemon until a signal stops it."""
    daemon = Daemon(cfg, listen)
    daemon.build()
    asyncio.run(daemon.run_forever())
