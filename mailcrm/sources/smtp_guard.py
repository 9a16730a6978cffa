"""Guards of the SMTP listener against a hostile client: AUTH guessing and connection floods.

- AUTH: every failure is logged (login, never the password) and counted; the client then waits
  a delay that doubles with each recent failure of its address; after
  ``auth_failures_per_connection`` failures the connection gets 421 and is closed, and after
  ``auth_failures_per_address`` failures within ``auth_lockout_seconds`` the address is locked
  out (421 at connect and at AUTH) for that long.
- Connections: at most ``max_connections`` in total and ``max_connections_per_address`` from
  one address; beyond, 421 and close at once (RFC 5321 4.2.3: 421 = service not available,
  closing), so file descriptors stay free for the worker and the database.

The counters are written (at most once a second) to a small JSON file in the data directory,
where ``mailcrm status`` reads them.  Everything here runs on the event loop thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import resource
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.smtp import SMTP

from mailcrm import log
from mailcrm.config import SmtpConfig
from mailcrm.private_files import write_private

STATS_FILE = "smtp-stats.json"
# Descriptors kept free for everything but client sockets: the database pool (SQLite opens the
# db, -wal and -shm per connection), spool writes and directory fsyncs, parser pipes, IMAP, logs.
FD_RESERVE = 128
MAX_DELAY = 30.0  # seconds; the doubling delay stops growing here (aiosmtpd's timeout is 300 s)
MAX_TRACKED = 10_000  # addresses remembered; expired ones are dropped first


@dataclass
class _Address:
    failures: deque[float] = field(default_factory=deque)  # monotonic times of recent AUTH failures
    locked_until: float = 0.0
    active: int = 0  # open connections


class SmtpGuard:
    """Per-address AUTH throttling and connection limits, with counters for ``status``."""

    def __init__(self, cfg: SmtpConfig, stats_path: Path | None = None,
                 clock: Callable[[], float] = time.monotonic, max_total: int | None = None) -> None:
        self.cfg = cfg
        self.max_total = max_total or cfg.max_connections
        self.stats_path = stats_path
        self.clock = clock
        self.addresses: dict[str, _Address] = {}
        self.active = 0
        self.counters = {"auth_failures": 0, "auth_lockouts": 0, "auth_refused_locked": 0,
                         "connections_refused_total": 0, "connections_refused_per_address": 0,
                         "connections_refused_locked": 0}
        self.log = log.get("mailcrm.smtp")
        self._last_write = 0.0
        self._write_pending = False
        self.started_at = dt.datetime.now(dt.timezone.utc).isoformat()

    # -- connections ---------------------------------------------------------------------
    def admit(self, ip: str) -> str | None:
        """Count a new connection from ``ip``; returns the refusal text when it must be refused."""
        addr = self.addresses.get(ip)
        if addr is not None and addr.locked_until > self.clock():
            self._count("connections_refused_locked")
            return "Too many failed authentications from your address, try again later"
        if self.active >= self.max_total:
            self._count("connections_refused_total")
            return "Too many connections, try again later"
        if addr is not None and addr.active >= self.cfg.max_connections_per_address:
            self._count("connections_refused_per_address")
            return "Too many connections from your address, try again later"
        if addr is None:
            addr = self.addresses[ip] = _Address()
        addr.active += 1
        self.active += 1
        return None

    def release(self, ip: str) -> None:
        """A connection admitted by ``admit`` has closed."""
        addr = self.addresses.get(ip)
        if addr is not None and addr.active > 0:
            addr.active -= 1
            self.active -= 1
        self._prune()

    # -- AUTH ------------------------------------------------------------------------------
    def locked_for(self, ip: str) -> float:
        """Seconds ``ip`` stays locked out (0 when it is not)."""
        addr = self.addresses.get(ip)
        return max(0.0, addr.locked_until - self.clock()) if addr is not None else 0.0

    def auth_failed(self, ip: str, on_connection: int) -> tuple[float, bool]:
        """Record a failed AUTH; returns (delay before the next command, close the connection now)."""
        now = self.clock()
        addr = self.addresses.setdefault(ip, _Address())
        window = self.cfg.auth_lockout_seconds
        while addr.failures and addr.failures[0] <= now - window:
            addr.failures.popleft()
        addr.failures.append(now)
        self._count("auth_failures")
        recent = len(addr.failures)
        locked = recent >= self.cfg.auth_failures_per_address
        if locked:
            addr.locked_until = now + window
            addr.failures.clear()
            self._count("auth_lockouts")
        delay = min(MAX_DELAY, self.cfg.auth_failure_delay * 2 ** (recent - 1))
        return delay, locked or on_connection >= self.cfg.auth_failures_per_connection

    def refused_locked(self) -> None:
        """An AUTH from a locked-out address was refused."""
        self._count("auth_refused_locked")

    # -- counters for `status` -----------------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """The counters, open connections and currently locked-out addresses."""
        now = self.clock()
        locked = sorted(ip for ip, a in self.addresses.items() if a.locked_until > now)
        return {**self.counters, "connections_open": self.active, "locked_addresses": locked,
                "since": self.started_at, "pid": os.getpid(),
                "updated_at": dt.datetime.now(dt.timezone.utc).isoformat()}

    def write_stats(self) -> None:
        """Write the snapshot for ``mailcrm status`` (atomic replace; a failure is only logged)."""
        self._write_pending = False
        self._last_write = self.clock()
        if self.stats_path is None:
            return
        tmp = self.stats_path.with_name(self.stats_path.name + ".tmp")
        try:
            write_private(tmp, json.dumps(self.snapshot()).encode())
            os.replace(tmp, self.stats_path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.log.warning("smtp stats not written", error=str(exc))

    def _count(self, key: str) -> None:
        self.counters[key] += 1
        if self._write_pending:
            return
        wait = 1.0 - (self.clock() - self._last_write)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.write_stats()
            return
        self._write_pending = True
        loop.call_later(max(0.0, wait), self.write_stats)

    def _prune(self) -> None:
        if len(self.addresses) <= MAX_TRACKED:
            return
        now = self.clock()
        window = self.cfg.auth_lockout_seconds
        for ip in [ip for ip, a in self.addresses.items()
                   if not a.active and a.locked_until <= now and (not a.failures or a.failures[-1] <= now - window)]:
            del self.addresses[ip]


def connection_budget(wanted: int) -> int:
    """``wanted`` (max_connections), lowered if the open-file limit cannot hold it and FD_RESERVE.

    The soft RLIMIT_NOFILE is raised towards the hard limit first (systemd's default soft
    limit is 1,024): without this, idle sockets could take every descriptor and the worker
    and the database would fail with EMFILE.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


def read_stats(data_dir: Path) -> dict[str, Any] | None:
    """The last counters a daemon wrote (None when no daemon ever ran here)."""
    try:
        data = json.loads((data_dir / STATS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def peer_ip(peer: Any) -> str:
    """The address part of a peername (``"?"`` when unknown)."""
    if isinstance(peer, tuple) and peer:
        return str(peer[0])
    return str(peer) if peer else "?"


class GuardedSMTP(SMTP):
    """An aiosmtpd session that obeys an ``SmtpGuard``: connection limits at connect, AUTH throttling."""

    def __init__(self, handler: Any, *, guard: SmtpGuard | None = None, **kw: Any) -> None:
        super().__init__(handler, **kw)
        self._guard = guard
        self._guard_ip: str | None = None  # set once admitted; released on connection_lost
        self._refused = False
        self._auth_failures = 0
        self._failed_login: str | None = None
        self._closing = False
        self._delay = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Admit or refuse (421) the connection; a STARTTLS re-entry is not a new connection."""
        if self._guard is not None and self.transport is None and not self._refused:
            ip = peer_ip(transport.get_extra_info("peername"))
            refusal = self._guard.admit(ip)
            if refusal is not None:
                self._refused = True
                self._guard.log.info("connection refused", peer=ip, reason=refusal)  # rate-limited by log.py
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(f"421 4.7.0 {self.hostname} {refusal}\r\n".encode())
                transport.close()
                return
            self._guard_ip = ip
        super().connection_made(transport)

    def connection_lost(self, error: Exception | None) -> None:
        """Release the connection's slot (once), then let aiosmtpd clean up."""
        if self._refused:
            return  # never started: aiosmtpd has no state to tear down
        if self._guard is not None and self._guard_ip is not None:
            self._guard.release(self._guard_ip)
            self._guard_ip = None
        super().connection_lost(error)

    async def push(self, status: Any) -> None:
        """Send a reply; client bytes echoed in it (VRFY, unknown commands) cannot make it fail.

        aiosmtpd decodes commands with surrogateescape and encodes replies strictly, so a
        non-UTF-8 argument echoed back raised UnicodeEncodeError (found by tests/test_fuzz.py).
        """
        if isinstance(status, str):
            charset = "utf-8" if self.enable_SMTPUTF8 else "ascii"
            status = status.encode(charset, "replace").decode(charset)
        await super().push(status)

    def note_auth_failure(self, login: str) -> str | None:
        """The authenticator's call on wrong credentials (the login, never the password).

        Records the failure now; returns the reply to send instead of 535 when this failure
        closes the connection (421), else None.
        """
        self._auth_failures += 1
        self._failed_login = login
        if self._guard is None:
            return None
        ip = self._guard_ip or peer_ip(self.session.peer if self.session else None)
        self._delay, self._closing = self._guard.auth_failed(ip, self._auth_failures)
        self._guard.log.warning("auth failed", peer=ip, login=login[:200], failures=self._auth_failures,
                                delay=round(self._delay, 2), closing=self._closing)
        return "421 4.7.0 Too many failed authentications, closing connection" if self._closing else None

    async def smtp_AUTH(self, arg: str) -> None:
        """AUTH, refused (421) for a locked-out address; after a failure, close or wait the delay."""
        guard = self._guard
        ip = self._guard_ip or peer_ip(self.session.peer if self.session else None)
        if guard is not None and guard.locked_for(ip) > 0:
            guard.refused_locked()
            await self._close_with("421 4.7.0 Too many failed authentications from your address, try again later")
            return
        if arg and not arg.split():
            # Only separators that str.split() knows and strip() does not (e.g. \x1c, U+2028):
            # aiosmtpd would index an empty list and answer 451 (found by tests/test_fuzz.py).
            await self.push("501 5.5.4 Syntax: AUTH mechanism [initial-response]")
            return
        self._failed_login = None
        self._closing, self._delay = False, 0.0
        await super().smtp_AUTH(arg)
        if self._failed_login is None:
            return
        self._failed_login = None
        if self._closing:
            await self._close_with(None)  # the 421 was the reply to this AUTH
            return
        await asyncio.sleep(self._delay)  # the next command waits: guessing slows down with every failure

    async def _close_with(self, reply: str | None) -> None:
        if reply is not None:
            await self.push(reply)
        if self._handler_coroutine is not None:
            self._handler_coroutine.cancel()
        if self.transport is not None:
            self.transport.close()
