"""IMAP folder -> spool: connect, search new UIDs, FETCH in batches, the inbox privacy filter.

Shared by the live sources (``imap.py``) and the one-off import (``sources/imap_once.py``).
Every FETCH uses ``BODY.PEEK`` so the server never sets ``\\Seen`` for us (RFC 3501 6.4.5).
imapclient 4.x refuses ``fetch("1:*")``: we SEARCH for UIDs and FETCH explicit lists.
"""

from __future__ import annotations

import datetime as dt
import email.parser
import email.policy
import email.utils
import queue
import ssl
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from imapclient import IMAPClient
from imapclient.util import to_unicode
from sqlalchemy.orm import Session, sessionmaker

from mailcrm.app import checkpoints as imap_state
from mailcrm.config import ImapConfig
from mailcrm.parse.addresses import is_mail_system
from mailcrm.spool import Inlet, SpoolMeta

BATCH = 200  # UIDs per FETCH: large enough to amortise round trips, small enough for memory
HEADER_ITEM = "BODY.PEEK[HEADER.FIELDS (FROM SENDER RETURN-PATH AUTO-SUBMITTED CONTENT-TYPE SUBJECT X-AUTOREPLY PRECEDENCE)]"
HEADER_KEY = b"BODY[HEADER.FIELDS (FROM SENDER RETURN-PATH AUTO-SUBMITTED CONTENT-TYPE SUBJECT X-AUTOREPLY PRECEDENCE)]"
BODY_ITEM = "BODY.PEEK[]"
BODY_KEY = b"BODY[]"

_AUTO_SUBJECTS = (
    "auto:", "automatic reply", "autoreply", "auto-reply", "out of office", "out of the office",
    "undeliverable", "undelivered mail", "delivery status notification", "mail delivery failed",
    "returned mail", "failure notice", "delivery failure",
    "автоответ", "автоматический ответ", "недоставленное сообщение", "не доставлено", "отпуск",
)


def ssl_context(account: ImapConfig) -> ssl.SSLContext:
    """The TLS context for an account (extra CA file; verification off only when configured)."""
    ctx = ssl.create_default_context(cafile=account.ca_file) if account.ca_file else ssl.create_default_context()
    if not account.verify_tls:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(account: ImapConfig, timeout: float = 60.0) -> IMAPClient:
    """Open, secure (implicit TLS or STARTTLS, RFC 3501 6.2.1) and log in; the password is never logged."""
    password = account.password() or ""
    ctx = None if account.security == "plain" else ssl_context(account)
    client = IMAPClient(account.host, account.port, ssl=account.security == "tls", ssl_context=ctx, timeout=timeout)
    try:
        if account.security == "starttls":
            client.starttls(ctx)
        client.login(account.username, password)
    except BaseException:
        _close_quietly(client)
        raise
    return client


def _close_quietly(client: IMAPClient) -> None:
    try:
        client.shutdown()
    except Exception:  # noqa: BLE001 - already broken: nothing to report
        pass


def edge_decision(header_bytes: bytes, known: Callable[[list[str]], set[str]]) -> str | None:
    """Inbox privacy filter: why a message may be read ("known", "bounce", "autoreply") or None.

    Looks only at a handful of header fields; the body of a personal mail from a stranger
    is never fetched.
    """
    msg = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(header_bytes)

    def get(name: str) -> str:
        return str(msg.get(name, "") or "").strip()

    senders = [a.lower() for _, a in email.utils.getaddresses([get("From"), get("Sender")]) if a and "@" in a]
    ctype = get("Content-Type").lower()
    return_path = get("Return-Path").replace(" ", "")
    if "multipart/report" in ctype or return_path == "<>" or any(
        is_mail_system(a) for a in senders
    ):
        return "bounce"
    auto = get("Auto-Submitted").lower()
    if (auto and not auto.startswith("no")) or get("X-Autoreply") or get("Precedence").lower() == "auto_reply":
        return "autoreply"  # RFC 3834 5.1
    subject = get("Subject")
    if "=?" in subject:
        from mailcrm.parse.mime import decode_header_value

        subject = decode_header_value(subject)
    if subject.lower().startswith(_AUTO_SUBJECTS):
        return "autoreply"
    if senders and known(senders):
        return "known"
    return None


@dataclass
class SyncResult:
    """What one pass over a folder did."""

    uidvalidity: int
    last_uid: int
    seen: int = 0  # new UIDs found
    spooled: int = 0
    private: int = 0  # inbox messages left unread (unknown sender)
    resync: bool = False


@dataclass
class FolderSync:
    """One folder of one account, copied into the spool from its checkpoint on."""

    client: IMAPClient
    account: ImapConfig
    folder: str
    role: str
    spool: Inlet
    factory: sessionmaker[Session]
    source: str  # SpoolMeta.source: "imap:<account>" or "import:imap:<account>"
    checkpoint: str  # SourceState name
    since: dt.date | None = None
    readonly: bool = False
    batch: int = BATCH
    progress: Callable[[int, int], None] | None = None  # (done, total) after each batch
    # Called with the batch spooled, before the checkpoint moves: imports commit it here
    # (their spool is memory).  Live sources leave it None: their spool is on disk.
    on_batch: Callable[[], object] | None = None
    # FETCH the next batch while this one is stored (imports; not the inbox role; see _read_ahead).
    read_ahead: bool = False

    def run(self) -> SyncResult:
        """Spool every message newer than the checkpoint; the checkpoint advances per batch."""
        info = self.client.select_folder(self.folder, readonly=self.readonly)
        uidvalidity = int(info[b"UIDVALIDITY"])
        ck = imap_state.load(self.factory, self.checkpoint)
        last = ck.last_uid
        result = SyncResult(uidvalidity, last)
        if ck.uidvalidity is not None and ck.uidvalidity != uidvalidity:
            # RFC 3501 2.3.1.1: old UIDs mean nothing now.  Read everything again; the
            # identity key makes re-ingesting harmless.
            last = 0
            result.last_uid = 0
            result.resync = True
        criteria: list[Any] = ["UID", f"{last + 1}:*"]
        if self.since is not None:
            criteria += ["SINCE", self.since]
        # "n:*" always matches the highest UID even when it is below n (RFC 3501 9, seq-range).
        uids = sorted(u for u in self.client.search(criteria) if u > last)
        result.seen = len(uids)
        if self.progress is not None:
            self.progress(0, len(uids))
        if not uids:
            if ck.uidvalidity != uidvalidity:
                imap_state.save(self.factory, self.checkpoint, uidvalidity=uidvalidity, last_uid=last)
            return result
        # The inbox filter asks the store who is known: it must see every batch before it committed.
        ahead = self.read_ahead and self.role != "inbox"
        batches = self._read_ahead(uids) if ahead else map(self._fetch, self._chunks(uids))
        done = 0
        for chunk, wanted, data in batches:
            result.private += len(chunk) - len(wanted)
            for uid in wanted:
                raw = data.get(uid, {}).get(BODY_KEY)
                if raw is None:
                    continue  # expunged between SEARCH and FETCH
                self.spool.put(raw, self._meta(uidvalidity, uid))
                result.spooled += 1
            last = chunk[-1]
            if self.on_batch is not None:
                self.on_batch()
            # Only now, with every message of the batch safe (fsync'd in the spool, or committed
            # by on_batch), may the checkpoint move.
            imap_state.save(self.factory, self.checkpoint, uidvalidity=uidvalidity, last_uid=last)
            done += len(chunk)
            if self.progress is not None:
                self.progress(done, len(uids))
        result.last_uid = last
        return result

    def _chunks(self, uids: list[int]) -> list[list[int]]:
        return [uids[i:i + self.batch] for i in range(0, len(uids), self.batch)]

    def _fetch(self, chunk: list[int]) -> tuple[list[int], list[int], dict[int, dict[bytes, Any]]]:
        """(the chunk, the UIDs read, their FETCH data): the inbox filter, then the bodies."""
        wanted = self._filter(chunk) if self.role == "inbox" else chunk
        return chunk, wanted, (self.client.fetch(wanted, [BODY_ITEM]) if wanted else {})

    def _read_ahead(self, uids: list[int]) -> Iterator[tuple[list[int], list[int], dict[int, dict[bytes, Any]]]]:
        """The batches, each FETCHed by a thread while the one before is stored.

        Against a server across the Internet a FETCH of 200 messages takes about as long as
        storing them; one after the other, an import ran at half the speed of either.  The
        thread reads one batch ahead, no more (memory: the batch being stored and the next).
        It is the only user of the connection until the generator ends; an error on either
        side stops both, and a FETCH in flight is let finish so the connection stays usable.
        """
        ahead: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        slot = threading.Semaphore(1)  # taken for each batch fetched, given back when it is taken
        stop = threading.Event()

        def produce() -> None:
            try:
                for chunk in self._chunks(uids):
                    while not slot.acquire(timeout=0.2):
                        if stop.is_set():
                            return
                    if stop.is_set():
                        return
                    ahead.put(("batch", self._fetch(chunk)))
                ahead.put(("end", None))
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
                ahead.put(("error", exc))

        reader = threading.Thread(target=produce, name=f"imap-read-ahead-{self.account.name}", daemon=True)
        reader.start()
        try:
            while True:
                kind, value = ahead.get()
                if kind == "end":
                    return
                if kind == "error":
                    raise value
                slot.release()  # the reader may fetch the next batch while this one is stored
                yield value
        finally:
            stop.set()
            reader.join()

    def _filter(self, uids: list[int]) -> list[int]:
        headers = self.client.fetch(uids, [HEADER_ITEM])
        out: list[int] = []
        for uid in uids:
            hdr = headers.get(uid, {}).get(HEADER_KEY)
            if hdr is not None and edge_decision(hdr, lambda a: imap_state.known_addresses(self.factory, a)):
                out.append(uid)
        return out

    def _meta(self, uidvalidity: int, uid: int) -> SpoolMeta:
        ref: dict[str, Any] = {"account": self.account.name, "folder": self.folder, "uidvalidity": uidvalidity,
                               "uid": uid}
        if self.account.create_contacts:
            ref["create_contacts"] = True
        # The dropbox role receives mail from outside: its author needs proof as over SMTP
        # (the inbox and sent roles are the user's own mailbox, proof by themselves).
        evidence = {"imap": self.account.name} if self.role == "dropbox" else None
        return SpoolMeta(source=self.source, role=self.role, source_ref=ref, evidence=evidence)


def folder_name(raw: Any) -> str:
    """A folder name from imapclient (already decoded from modified UTF-7) as text."""
    return to_unicode(raw) if isinstance(raw, bytes) else str(raw)
