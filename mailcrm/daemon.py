"""Composition root for `mailcrm serve` (the front end): build, start in order, stop in reverse.

Start: logging -> spool recovery -> worker process (it opens and migrates the database, syncs
the users, then starts the store-side services: IMAP sources, answers by mail, lead notices,
repeat warnings, the digest scheduler) -> once it is ready, the SMTP listener -> the web
listener (when [web] or --web).  A database that cannot be opened is one line and exit 2, before
anything listens.  The listeners only spool (fsync, then 250 / 2xx); everything that touches the
store runs in the worker process that this one supervises (``ingest/worker_process.py``:
restarted when it dies, drained at stop), so this process imports neither SQLAlchemy nor the app
unless the web listener is on (issue 26).  SIGTERM/SIGINT drain: the listener stops accepting,
in-flight SMTP sessions get up to ``DRAIN_SECONDS`` to finish, then the worker process finishes
the spool and its transaction and stops its services.
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
from mailcrm.config import Config, WebConfig, insecure_listen, is_loopback
from mailcrm.errors import ConfigError
from mailcrm.ingest import worker_process
from mailcrm.ingest.worker_process import WorkerProcess
from mailcrm.sources import smtp as smtp_mod
from mailcrm.spool import Spool

DRAIN_SECONDS = 30.0


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
        self.engine: Any = None  # the web listener's store (only when it is on)
        self.log = log.get("mailcrm.daemon")
        self.stop_event = threading.Event()
        self.threads: list[threading.Thread] = []
        self.sessions: set[SMTP] = set()
        self.server: asyncio.base_events.Server | None = None
        self.sockets: list[dict[str, str]] = []  # as bound, for `mailcrm status` (runtime.py)

    def build(self) -> None:
        """Check the settings, take and recover the spool, prepare the worker process (it opens the store)."""
        if not self.cfg.users:
            raise ConfigError(f"{self.cfg.source}: users: no [[users]] configured; run `mailcrm init`")
        if self.cfg.smtp.auth_allow_plaintext and not is_loopback(self.listen[0]):
            # The config check sees [smtp] host only; `serve --listen` may name another address.
            raise ConfigError(f"{self.cfg.source}: smtp.auth_allow_plaintext: true would send passwords in clear "
                              f"to {self.listen[0]} (--listen): allowed only on a loopback address")
        self.spool = Spool(self.cfg.spool_path())
        if not self.spool.become_worker():
            raise ConfigError(f"{self.cfg.spool_path()}: another `mailcrm serve` is already running on this spool "
                              "(each daemon needs its own data_dir)")
        pending = self.spool.recover()
        self.worker = WorkerProcess(self.cfg, self.spool)
        self.log.info("spool ready", pending=pending)

    async def start(self) -> None:
        """Start the worker process and wait until it opened the store; then the SMTP and web listeners."""
        self.threads.append(self.worker.start(self.stop_event))
        await asyncio.to_thread(self.worker.wait_ready)  # ConfigError / StoreUnavailable: one line, exit 2
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
        if self.web_listen is not None:
            # Imported here: uvicorn, starlette and the store load only when the web listener is on.
            from mailcrm.app.handle import open_store
            from mailcrm.web.app import WebContext, WebServer, create_app

            store = open_store(self.cfg, migrate_schema=False)  # the worker process migrated it
            self.engine = store.engine
            web_cfg = self.cfg.web or WebConfig()
            ctx = WebContext(self.cfg, self.spool, store.factory)
            self.web = WebServer(create_app(ctx), *self.web_listen,
                                 tls=(web_cfg.tls_cert, web_cfg.tls_key) if web_cfg.tls_cert and web_cfg.tls_key else None)
            await self.web.start()

    async def stop(self) -> None:
        """Drain and stop everything in reverse order."""
        self.log.info("stopping")
        if self.web is not None:
            await self.web.stop()  # answers in flight finish: their items are already spooled
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
        for t in self.threads:  # the worker's supervisor drains the worker process and its services
            await asyncio.to_thread(t.join, DRAIN_SECONDS + worker_process.DRAIN_SECONDS + 10)
        if self.engine is not None:
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


def _hostport(bound: tuple[Any, ...]) -> str:
    host, port = bound[0], bound[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def serve(cfg: Config, listen: tuple[str, int] | None = None, web_listen: tuple[str, int] | None = None) -> None:
    """Run the daemon until a signal stops it."""
    daemon = Daemon(cfg, listen, web_listen)
    daemon.build()
    asyncio.run(daemon.run_forever())
