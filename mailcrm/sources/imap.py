"""Live IMAP sources: one thread per account, IDLE (RFC 2177) or polling, acks after commit.

Each account thread loops: connect -> copy new mail of every folder into the spool
(``imap_fetch.FolderSync``) -> apply queued acks -> wait (IDLE on the first folder when the
server has it, re-entered before ``idle_timeout`` because servers may drop an IDLE after 30
minutes, RFC 2177; otherwise sleep ``poll_interval``).  Any failure (bad password, server
down, connection lost) is recorded on the account's ``source_state`` row and retried with
exponential backoff capped at five minutes; other accounts and SMTP never notice.

Acks: the worker calls ``on_committed`` from its own thread after the transaction
committed; imapclient is not thread-safe, so the ack is queued and the account thread
flags (STORE +FLAGS) or moves it (MOVE, RFC 6851; else COPY + flag).  Nothing is ever
deleted or expunged.  Acks apply to ``dropbox`` folders only.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass

from imapclient import IMAPClient
from sqlalchemy.orm import Session, sessionmaker

from mailcrm import log
from mailcrm.app import checkpoints as imap_state
from mailcrm.app.checkpoints import imap_status
from mailcrm.config import Config, ImapConfig
from mailcrm.sources.imap_fetch import FolderSync, connect
from mailcrm.spool import Spool, SpoolItem

__all__ = ["AccountSource", "imap_status", "start_sources"]

BACKOFF_START = 1.0
BACKOFF_CAP = 300.0
TICK = 1.0  # seconds between checks of the stop event and the ack queue while waiting


class ConnectionLost(Exception):
    """The server said BYE or closed the connection."""


@dataclass(frozen=True)
class Ack:
    """A committed message to flag or move."""

    folder: str
    uidvalidity: int
    uid: int


class AccountSource:
    """One IMAP account served by its own thread."""

    def __init__(self, cfg: Config, account: ImapConfig, spool: Spool, factory: sessionmaker[Session],
                 stop: threading.Event) -> None:
        self.cfg = cfg
        self.account = account
        self.spool = spool
        self.factory = factory
        self.stop = stop
        self.acks: queue.Queue[Ack] = queue.Queue()
        self.log = log.get("mailcrm.imap", account=account.name)
        self.source = f"imap:{account.name}"
        self.connected = threading.Event()  # set while a session is up (tests wait on it)
        self.cycles = 0
        self._seen: dict[str, tuple[int, int]] = {}  # folder -> (UIDVALIDITY, last UID spooled)

    # -- called from the worker thread ---------------------------------------------------------
    def on_committed(self, item: SpoolItem, outcome: str) -> None:
        """Queue the flag/move of a committed message of this account (dropbox role only)."""
        if item.meta.source != self.source or item.meta.role != "dropbox" or self.account.after_ingest == "none":
            return
        if outcome not in ("stored", "duplicate", "skipped", "quarantined"):
            return
        ref = item.meta.source_ref
        try:
            self.acks.put(Ack(str(ref["folder"]), int(ref["uidvalidity"]), int(ref["uid"])))
        except (KeyError, TypeError, ValueError):
            self.log.warning("ack without a usable source_ref", spool_id=item.id)

    # -- the thread ----------------------------------------------------------------------------
    def run(self) -> None:
        """Serve the account until the stop event is set; failures back off, never escape."""
        backoff = BACKOFF_START
        key = imap_state.account_key(self.account.name)
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                self._session()
            except Exception as exc:  # noqa: BLE001 - one broken account must not stop the others
                self.connected.clear()
                if self.stop.is_set():
                    break
                error = _describe(exc)
                if time.monotonic() - started > 60:
                    backoff = BACKOFF_START  # it ran a good while: a fresh failure, start small again
                self.log.warning("imap account failed", error=error, retry_in=backoff)
                try:
                    imap_state.record_error(self.factory, key, error, retry_in=backoff)
                except Exception as db_exc:  # noqa: BLE001
                    self.log.error("cannot record imap error", error=str(db_exc))
                self.stop.wait(backoff)
                backoff = min(BACKOFF_CAP, backoff * 2)
        self.connected.clear()

    def _session(self) -> None:
        client = connect(self.account)
        key = imap_state.account_key(self.account.name)
        try:
            idle = client.has_capability("IDLE")
            imap_state.record_ok(self.factory, key, idle=bool(idle), connected=True)
            self.log.info("imap connected", host=self.account.host, idle=bool(idle))
            self.connected.set()
            while not self.stop.is_set():
                self._sync_all(client)
                self._drain_acks(client)
                self.cycles += 1
                if self.stop.is_set():
                    break
                self._wait(client, idle)
        finally:
            self.connected.clear()
            try:
                client.logout()
            except Exception:  # noqa: BLE001 - the connection may be gone already
                try:
                    client.shutdown()
                except Exception:  # noqa: BLE001
                    pass

    def _sync_all(self, client: IMAPClient) -> None:
        for folder, role in self.account.folders.items():
            res = FolderSync(client, self.account, folder, role, self.spool, self.factory, self.source,
                             imap_state.folder_key(self.account.name, folder)).run()
            self._seen[folder] = (res.uidvalidity, res.last_uid)
            if res.resync:
                self.log.warning("uidvalidity changed: full resync", folder=folder, uidvalidity=res.uidvalidity)
            if res.seen:
                self.log.info("imap fetched", folder=folder, new=res.seen, spooled=res.spooled, private=res.private)
        imap_state.record_ok(self.factory, imap_state.account_key(self.account.name))

    # -- acks ------------------------------------------------------------------------------------
    def _drain_acks(self, client: IMAPClient) -> None:
        pending: dict[tuple[str, int], list[int]] = {}
        while True:
            try:
                a = self.acks.get_nowait()
            except queue.Empty:
                break
            pending.setdefault((a.folder, a.uidvalidity), []).append(a.uid)
        for (folder, uidvalidity), uids in pending.items():
            if self.account.folders.get(folder) != "dropbox":
                continue
            info = client.select_folder(folder)
            if int(info[b"UIDVALIDITY"]) != uidvalidity:
                continue  # the UIDs now name other messages (RFC 3501 2.3.1.1): acking would be wrong
            uids = sorted(set(uids))
            if self.account.after_ingest == "flag":
                client.add_flags(uids, [self.account.flag])
            else:
                self._move(client, uids)
            self.log.info("imap acked", folder=folder, count=len(uids), action=self.account.after_ingest)

    def _move(self, client: IMAPClient, uids: list[int]) -> None:
        target = self.account.move_to
        if not client.folder_exists(target):
            client.create_folder(target)
        if client.has_capability("MOVE"):
            client.move(uids, target)  # RFC 6851: atomic, no \Deleted, no EXPUNGE by us
        else:
            client.copy(uids, target)
            client.add_flags(uids, [self.account.flag])  # never \Deleted: nothing is ever removed

    # -- waiting ---------------------------------------------------------------------------------
    def _wait(self, client: IMAPClient, idle: bool) -> None:
        several = len(self.account.folders) > 1
        limit = min(self.account.idle_timeout, self.account.poll_interval) if several else self.account.idle_timeout
        if not idle:
            limit = self.account.poll_interval
            deadline = time.monotonic() + limit
            while time.monotonic() < deadline and not self.stop.is_set() and self.acks.empty():
                self.stop.wait(TICK)
            client.noop()  # a dead connection shows here, not in the sleep
            return
        first = next(iter(self.account.folders))
        if self._arrived_since_sync(client, first):
            return
        client.idle()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.stop.is_set() and self.acks.empty():
            t0 = time.monotonic()
            responses = client.idle_check(timeout=TICK)
            if any(_is_bye(r) for r in responses):
                raise ConnectionLost("server said BYE")
            if not responses and time.monotonic() - t0 < TICK / 4:
                # imapclient swallows EOF during IDLE: a readable socket without a line means closed.
                raise ConnectionLost("connection closed during IDLE")
            if any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses):
                break
        client.idle_done()


    def _arrived_since_sync(self, client: IMAPClient, folder: str) -> bool:
        """Re-SELECT the IDLE folder; True when mail arrived after the sync's SEARCH.

        Mail appended between that SEARCH and this SELECT is counted in the SELECT's EXISTS,
        so IDLE would never announce it (RFC 2177 reports only changes after IDLE began).
        """
        info = client.select_folder(folder)
        uidvalidity, last = self._seen.get(folder, (None, 0))
        if int(info[b"UIDVALIDITY"]) != uidvalidity:
            return True
        uidnext = info.get(b"UIDNEXT")
        if uidnext is not None and int(uidnext) <= last + 1:
            return False  # RFC 3501 2.3.1.1: no UID above ``last`` was ever assigned
        return any(u > last for u in client.search(["UID", f"{last + 1}:*"]))


def _is_bye(response: tuple) -> bool:  # type: ignore[type-arg]
    return bool(response) and response[0] == b"BYE"


def _describe(exc: BaseException) -> str:
    """One line for status and logs; imapclient errors carry the server text, never our password."""
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def start_sources(cfg: Config, spool: Spool, worker, factory: sessionmaker[Session],  # type: ignore[no-untyped-def]
                  stop_event: threading.Event) -> list[threading.Thread]:
    """Start one thread per configured IMAP account; the worker's commits are routed back as acks."""
    return [run_source(src) for src in build_sources(cfg, spool, worker, factory, stop_event)]


def build_sources(cfg: Config, spool: Spool, worker, factory: sessionmaker[Session],  # type: ignore[no-untyped-def]
                  stop_event: threading.Event) -> list[AccountSource]:
    """One AccountSource per [[imap]] account, registered for the worker's commit callbacks."""
    sources = [AccountSource(cfg, acct, spool, factory, stop_event) for acct in cfg.imap]
    for src in sources:
        if worker is not None:
            worker.on_committed(src.on_committed)
    return sources


def run_source(src: AccountSource) -> threading.Thread:
    """Run one account in its own thread (daemon: it checks the stop event every second)."""
    t = threading.Thread(target=src.run, name=f"mailcrm-imap-{src.account.name}", daemon=True)
    t.start()
    return t
