"""The durable spool: raw bytes + JSON sidecar, written temp -> fsync -> rename -> fsync dir.

Layout under the spool directory::

    tmp/           partial writes (removed by recover())
    incoming/      <id>.msg: one line of JSON (the sidecar), then the raw bytes exactly as received;
                   <group>.grp: several items written by one group commit (``put_many``): one line of
                   JSON {"items": [[sidecar, size], ...]}, then their raw bytes one after another
    quarantine/    items that failed; the sidecar carries "reason"

One file per item keeps a put at two fsyncs (file, directory), like a bare sink; a group commit
(the SMTP and web listeners, ``group.py``) puts what arrived within a millisecond or two into one
group file: two fsyncs for all of them.  A group member's id is ``<group>.<nnn>``.  A member that
is quarantined or given back for a retry is first written as a file of its own (``quarantine/`` or
``incoming/<group>.<nnn>.msg``), which from then on supersedes its copy in the group; the group
file is removed once every member is resolved.  After a crash the members not yet superseded are
claimed again, like an item whose commit happened just before a crash (the store's identities
make a replay a duplicate).

A source (SMTP, IMAP, importers) answers "accepted" only after ``put`` returned:
the bytes and sidecar are on disk and the directory entry is fsync'd (Mailman's
queue-file pattern, Radicale's atomic write).  The worker claims items in order,
and removes them (``done``) only after its database transaction committed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import glob
import json
import os
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from mailcrm.private_files import open_private, private_dir, write_private

INCOMING = "incoming"
GROUP_SUFFIX = ".grp"
QUARANTINE = "quarantine"
TMP = "tmp"


@dataclass
class SpoolMeta:
    """The sidecar of one spooled message."""

    source: str  # "smtp", "imap:<account>", "import:mbox", ...
    received_at: str = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).isoformat())
    mail_from: str | None = None  # envelope sender ("" for the null sender <>)
    rcpt_tos: list[str] = field(default_factory=list)
    attempts: int = 0
    reason: str | None = None  # why it is in quarantine
    last_error: str | None = None
    source_ref: dict[str, Any] = field(default_factory=dict)  # e.g. {"folder":..,"uidvalidity":..,"uid":..}
    role: str | None = None  # IMAP folder role: dropbox | inbox | sent; None = dropbox semantics
    peer: str | None = None
    auth_user: str | None = None
    spool_file: str | None = None  # where a quarantined item came from, e.g. "incoming/<id>.msg"
    # What only the receiving source knows about the sender, recorded so the worker can judge the
    # author: SMTP {"client_ip", "helo", "authenticated", "trusted_network"}; IMAP dropbox
    # {"imap": account}.  None: a sidecar from before sender authentication (not judged).
    evidence: dict[str, Any] | None = None
    auth: dict[str, Any] | None = None  # the verifier's verdict (trust.verify.Verdict), kept across retries
    # What the bytes are: "mail" (RFC 5322 message) or "intake" (an HTTP form submission's body;
    # source_ref holds form, content_type; peer the client address).
    kind: str = "mail"

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "SpoolMeta":
        """Build from a sidecar dict, ignoring unknown keys (forward compatible)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


class CorruptItem(ValueError):
    """A spool file that cannot be read as one sidecar line followed by the raw bytes."""


@dataclass
class SpoolItem:
    """A claimed spool entry."""

    id: str
    path: Path  # the .msg file (a group member: its group's .grp file)
    meta: SpoolMeta
    corrupt: str | None = None  # why the file is not sidecar + bytes: it goes to quarantine as it is
    group: str | None = None  # a group member: its group's id, and where its bytes are in the group file
    offset: int = 0
    size: int = 0

    def read(self) -> bytes:
        """The raw bytes as received; ``CorruptItem`` when the file has no sidecar line."""
        if self.group is not None:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                raw = fh.read(self.size)
            if len(raw) != self.size:
                raise CorruptItem("group file shorter than its header says")
            return raw
        data = self.path.read_bytes()
        end = data.find(b"\n")
        if end < 0:
            raise CorruptItem("spool file has no newline after the sidecar")
        return data[end + 1:]


MAX_SIDECAR = 1 << 20  # a sidecar is a few hundred bytes; a longer first line is not one


def _encode(raw: bytes, meta: SpoolMeta) -> bytes:
    return json.dumps(asdict(meta), ensure_ascii=True).encode() + b"\n" + raw


def _check_meta(meta: SpoolMeta) -> None:
    """TypeError when a decoded sidecar has values of the wrong type (the worker would trip on them)."""
    if not isinstance(meta.source, str) or not isinstance(meta.attempts, int) or not isinstance(meta.rcpt_tos, list):
        raise TypeError("sidecar fields have the wrong types")
    if not all(isinstance(r, str) for r in meta.rcpt_tos) or not isinstance(meta.source_ref, dict):
        raise TypeError("sidecar fields have the wrong types")
    for name in ("mail_from", "role", "peer", "auth_user", "reason", "last_error", "received_at"):
        if not isinstance(getattr(meta, name), (str, type(None))):
            raise TypeError(f"sidecar field {name} is not a string")


def _member_id(group_id: str, k: int) -> str:
    return f"{group_id}.{k:03d}"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durable(path: Path, data: bytes) -> None:
    write_private(path, data, fsync=True)  # 0600: raw mail and the dropbox address are private


def _install(tmp: Path, data: bytes, target: Path) -> None:
    """Write ``data`` to ``tmp`` durably, then rename it over ``target`` (whole or not at all).

    A failed write (disk full) leaves no temporary file behind.  The caller fsyncs the directory.
    """
    try:
        _write_durable(tmp, data)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, target)


class Inlet(Protocol):
    """What a source needs of the queue: put one raw message with its metadata."""

    def put(self, raw: bytes, meta: SpoolMeta) -> str:
        """Accept one message; returns its id."""
        ...


class WorkQueue(Protocol):
    """What a worker needs of its queue: the disk ``Spool`` (live mail) and the import's in-memory batch.

    Both implement it; neither is a subclass of the other.
    """

    def claim(self, limit: int = 100, only: set[str] | None = None) -> list[SpoolItem]:
        """Claim up to ``limit`` waiting items (or just ``only``)."""
        ...

    def unclaim(self, items: list[SpoolItem]) -> None:
        """Give claimed items back untouched."""
        ...

    def done(self, item: SpoolItem) -> None:
        """Forget an item whose transaction committed."""
        ...

    def release(self, item: SpoolItem, error: str | None = None) -> None:
        """Give an item back after a transient failure, counting the attempt."""
        ...

    def quarantine(self, item: SpoolItem, reason: str) -> None:
        """Keep the raw bytes durably, with the reason, out of the queue."""
        ...

    def depth(self) -> int:
        """Items waiting or claimed."""
        ...

    def wait(self, timeout: float) -> bool:
        """Block until woken or ``timeout``; True when woken."""
        ...


class Spool:
    """A directory of durable queue files; safe for many writers and one claiming worker."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        private_dir(self.root)
        for sub in (TMP, INCOMING, QUARANTINE):
            private_dir(self.root / sub)
        self._claimed: set[str] = set()
        self._lock = threading.RLock()  # claim() lists pending ids under it
        self._wakeup = threading.Event()
        self._worker_lock: Any = None
        # Group files seen by this process: group id -> its members (SpoolItem templates), and the
        # members not yet resolved here (done, quarantined or given back as a file of their own).
        self._groups: dict[str, list[SpoolItem]] = {}
        self._group_left: dict[str, set[str]] = {}
        # Set by a daemon whose worker runs in another process: called wherever this process's
        # worker would be woken (a put, a requeue, wake()), so that process learns of new items.
        self.notify: Callable[[], None] | None = None

    # -- the one claiming process ------------------------------------------------
    def become_worker(self) -> bool:
        """Take the spool's worker lock (an flock held while this process runs); False if another has it.

        Claims are tracked in memory, so only one process may claim from a spool: the daemon, or a
        CLI command (``quarantine retry``) when no daemon runs.  The kernel drops the lock when the
        holder dies, so a SIGKILLed daemon never leaves it stale.
        """
        if self._worker_lock is not None:
            return True
        fh = os.fdopen(open_private(self.root / "worker.lock", os.O_RDWR | os.O_APPEND), "a+b")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._worker_lock = fh
        return True

    def stop_being_worker(self) -> None:
        """Release the worker lock (at shutdown)."""
        if self._worker_lock is not None:
            self._worker_lock.close()
            self._worker_lock = None

    # -- writing -----------------------------------------------------------------
    def put(self, raw: bytes, meta: SpoolMeta, wake: bool = True) -> str:
        """Store ``raw`` durably; returns the item id.  Only then may a source acknowledge.

        ``wake=False``: leave waking the worker to the caller (the web intake wakes it a moment
        later, once per burst, so a stream of submissions is committed in batches).
        """
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        item_id = f"{stamp}-{uuid.uuid4().hex[:12]}"
        inc = self.root / INCOMING
        _install(self.root / TMP / f"{item_id}.msg", _encode(raw, meta), inc / f"{item_id}.msg")
        _fsync_dir(inc)
        if wake:
            self.wake()
        return item_id

    def put_many(self, entries: list[tuple[bytes, SpoolMeta]], wake: bool = True) -> list[str]:
        """Store several items with one file fsync and one directory fsync (group commit); their ids.

        One entry is stored as ``put`` stores it.  Only after this returned may a source
        acknowledge any of them.
        """
        if len(entries) == 1:
            return [self.put(entries[0][0], entries[0][1], wake=wake)]
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
        group_id = f"{stamp}-{uuid.uuid4().hex[:12]}"
        header = json.dumps({"items": [[asdict(meta), len(raw)] for raw, meta in entries]}, ensure_ascii=True)
        inc = self.root / INCOMING
        _install(self.root / TMP / f"{group_id}{GROUP_SUFFIX}",
                 b"".join([header.encode(), b"\n", *(raw for raw, _ in entries)]), inc / f"{group_id}{GROUP_SUFFIX}")
        _fsync_dir(inc)
        if wake:
            self.wake()
        return [_member_id(group_id, k) for k in range(len(entries))]

    # -- claiming ----------------------------------------------------------------
    def pending_ids(self) -> list[str]:
        """Ids of committed items in incoming/ (group members included), oldest first."""
        names = os.listdir(self.root / INCOMING)
        ids = {name[:-4] for name in names if name.endswith(".msg")}
        groups = [name[:-len(GROUP_SUFFIX)] for name in names if name.endswith(GROUP_SUFFIX)]
        with self._lock:
            for gone in set(self._groups) - set(groups):  # removed (by the claiming process): forget it
                self._groups.pop(gone, None)
                self._group_left.pop(gone, None)
            singles = set(ids)
            for g in groups:
                ids.update(self._members_left(g, singles))
        return sorted(ids)

    def _members_left(self, group_id: str, singles: set[str]) -> set[str]:
        """The members of a group not resolved yet (read from its header when first seen; under _lock)."""
        if group_id not in self._groups:
            members = self._read_group(group_id)
            if members is None:
                return {group_id}  # gone meanwhile, or unreadable: claimed as a corrupt item
            quarantined = {n[:-4] for n in os.listdir(self.root / QUARANTINE) if n.endswith(".msg")}
            self._groups[group_id] = members
            self._group_left[group_id] = {m.id for m in members if m.id not in singles and m.id not in quarantined}
        return {m for m in self._group_left.get(group_id, set()) if m not in singles}

    def _read_group(self, group_id: str) -> list[SpoolItem] | None:
        """A group file's members from its header; None when it cannot be read as one."""
        path = self.root / INCOMING / f"{group_id}{GROUP_SUFFIX}"
        try:
            with open(path, "rb") as fh:
                head = fh.readline(MAX_SIDECAR * 64)
            data = json.loads(head)
            offset = len(head)
            members = []
            for k, (sidecar, size) in enumerate(data["items"]):
                meta = SpoolMeta.from_json(sidecar)
                _check_meta(meta)
                if not isinstance(size, int) or size < 0:
                    raise TypeError("bad size")
                members.append(SpoolItem(_member_id(group_id, k), path, meta, group=group_id, offset=offset, size=size))
                offset += size
        except (OSError, ValueError, TypeError, KeyError, AttributeError):
            return None
        return members

    def _resolve(self, item: SpoolItem) -> None:
        """A group member is settled; the group file goes when its last member is (under _lock)."""
        assert item.group is not None
        left = self._group_left.get(item.group)
        if left is None:
            return
        left.discard(item.id)
        if not left:
            try:
                os.unlink(self.root / INCOMING / f"{item.group}{GROUP_SUFFIX}")
            except FileNotFoundError:
                pass
            self._groups.pop(item.group, None)
            self._group_left.pop(item.group, None)

    def claim(self, limit: int = 100, only: set[str] | None = None) -> list[SpoolItem]:
        """Claim up to ``limit`` unclaimed items (in-process; one worker per spool), or just ``only``."""
        out: list[SpoolItem] = []
        with self._lock:
            for item_id in self.pending_ids():
                if only is not None and item_id not in only:
                    continue
                if item_id in self._claimed:
                    continue
                item = self._load(INCOMING, item_id)
                if item is None:
                    continue
                self._claimed.add(item_id)
                out.append(item)
                if len(out) >= limit:
                    break
        return out

    def _load(self, sub: str, item_id: str) -> SpoolItem | None:
        """The item as stored; one that cannot be read or decoded comes back with ``corrupt`` set.

        Never raises for a bad file (a directory named ``*.msg``, a first line that is not a JSON
        object, no newline at all): the worker quarantines such an item instead of stalling on it.
        """
        group_id, _, k = item_id.rpartition(".")
        if sub == INCOMING and group_id in self._groups and not (self.root / sub / f"{item_id}.msg").exists():
            member = self._groups[group_id][int(k)]
            return SpoolItem(member.id, member.path, SpoolMeta.from_json(asdict(member.meta)), group=group_id,
                             offset=member.offset, size=member.size)
        path = self.root / sub / f"{item_id}.msg"
        if sub == INCOMING and not path.exists() and (self.root / sub / f"{item_id}{GROUP_SUFFIX}").exists():
            # A group file whose header cannot be read: quarantined whole, as a corrupt item.
            return SpoolItem(item_id, self.root / sub / f"{item_id}{GROUP_SUFFIX}", SpoolMeta(source="unknown"),
                             corrupt="unreadable group file header")
        try:
            with open(path, "rb") as fh:
                head = fh.readline(MAX_SIDECAR)
        except FileNotFoundError:
            return None
        except OSError as exc:  # IsADirectoryError, EACCES, EIO: quarantine it, never retry forever
            return SpoolItem(item_id, path, SpoolMeta(source="unknown"),
                             corrupt=f"cannot read spool file: {exc.strerror or exc}")
        if not head.endswith(b"\n"):
            return SpoolItem(item_id, path, SpoolMeta(source="unknown"),
                             corrupt="spool file has no newline after the sidecar")
        try:
            data = json.loads(head)
            if not isinstance(data, dict):
                raise TypeError(f"sidecar is JSON {type(data).__name__}, not an object")
            meta = SpoolMeta.from_json(data)
            _check_meta(meta)
        except (ValueError, TypeError) as exc:
            return SpoolItem(item_id, path, SpoolMeta(source="unknown"), corrupt=f"unreadable sidecar: {exc}")
        return SpoolItem(item_id, path, meta)

    def release(self, item: SpoolItem, error: str | None = None) -> None:
        """Give a claimed item back (transient failure); the attempt is counted in the sidecar."""
        item.meta.attempts += 1
        item.meta.last_error = error
        try:
            if item.group is not None:
                self._split_out(item)  # a file of its own, then the group forgets it
            else:
                self._rewrite(INCOMING, item)
        finally:
            # Given back even when the sidecar could not be rewritten (disk full): a claim kept
            # here would hold the item until a restart.
            with self._lock:
                self._claimed.discard(item.id)

    def unclaim(self, items: list[SpoolItem]) -> None:
        """Give claimed items back untouched (claimed ahead, never attempted)."""
        with self._lock:
            for item in items:
                self._claimed.discard(item.id)

    def done(self, item: SpoolItem) -> None:
        """Remove a processed item: call only after its transaction committed."""
        if item.group is not None:
            with self._lock:
                self._resolve(item)
                self._claimed.discard(item.id)
            return
        try:
            os.unlink(self.root / INCOMING / f"{item.id}.msg")
        except FileNotFoundError:
            pass
        with self._lock:
            self._claimed.discard(item.id)

    def _split_out(self, item: SpoolItem) -> None:
        """Write a group member as ``incoming/<id>.msg`` (durably), superseding its copy in the group."""
        target = self.root / INCOMING / f"{item.id}.msg"
        _install(self.root / TMP / f"{item.id}.msg.tmp", _encode(item.read(), item.meta), target)
        _fsync_dir(self.root / INCOMING)
        with self._lock:
            self._resolve(item)
        item.path, item.group, item.offset, item.size = target, None, 0, 0

    def quarantine(self, item: SpoolItem, reason: str) -> None:
        """Move an item to quarantine/ with its reason; the raw bytes are kept.

        A corrupt item (see ``_load``) is kept whole: its whole file becomes the raw bytes under a
        fresh sidecar, and a directory is moved aside next to its quarantine entry.
        """
        item.meta.reason = reason
        item.meta.spool_file = f"{INCOMING}/{item.path.name if item.group or item.corrupt else item.id + '.msg'}"
        try:
            if item.group is not None:
                self._quarantine_member(item)
                return
            if item.corrupt is None:
                try:
                    self._rewrite(INCOMING, item)
                except CorruptItem as exc:
                    item.corrupt = str(exc)
            if item.corrupt is None:
                os.rename(self.root / INCOMING / f"{item.id}.msg", self.root / QUARANTINE / f"{item.id}.msg")
            else:
                self._quarantine_as_is(item)
            _fsync_dir(self.root / QUARANTINE)
            _fsync_dir(self.root / INCOMING)
        finally:
            with self._lock:  # on failure (disk full) it stays in incoming/, claimable again
                self._claimed.discard(item.id)

    def _quarantine_member(self, item: SpoolItem) -> None:
        """A group member goes to quarantine as a file of its own; then the group forgets it."""
        target = self.root / QUARANTINE / f"{item.id}.msg"
        _install(self.root / TMP / f"{item.id}.msg.tmp", _encode(item.read(), item.meta), target)
        _fsync_dir(self.root / QUARANTINE)
        with self._lock:
            self._resolve(item)
        item.path, item.group = target, None

    def _quarantine_as_is(self, item: SpoolItem) -> None:
        """Quarantine a file that is not sidecar + bytes, keeping every byte of it."""
        src = item.path if item.path.parent == self.root / INCOMING else self.root / INCOMING / f"{item.id}.msg"
        target = self.root / QUARANTINE / f"{item.id}.msg"
        try:
            raw = src.read_bytes() if src.is_file() else None
        except OSError:
            raw = None
        if raw is None:  # not a regular file (a directory named *.msg) or unreadable: move it aside
            aside = self.root / QUARANTINE / f"{item.id}.msg.unreadable"
            os.rename(src, aside)
            item.meta.reason = f"{item.meta.reason} (kept as {QUARANTINE}/{aside.name})"
            raw = b""
        _install(self.root / TMP / f"{item.id}.msg.tmp", _encode(raw, item.meta), target)
        if src.exists() and not src.is_dir():
            src.unlink()
        item.path = target
        item.corrupt = None

    def _rewrite(self, sub: str, item: SpoolItem) -> None:
        """Replace the sidecar line (atomic rewrite of the whole file)."""
        target = self.root / sub / f"{item.id}.msg"
        _install(self.root / TMP / f"{item.id}.msg.tmp", _encode(item.read(), item.meta), target)
        item.path = target

    # -- quarantine management ---------------------------------------------------------
    def quarantined(self) -> Iterator[SpoolItem]:
        """Items in quarantine, oldest first."""
        for p in sorted((self.root / QUARANTINE).glob("*.msg")):
            item = self._load(QUARANTINE, p.name[:-4])
            if item is not None:
                yield item

    def get_quarantined(self, item_id: str) -> SpoolItem | None:
        """One quarantined item by id (or unique id prefix)."""
        matches = [p.name[:-4] for p in (self.root / QUARANTINE).glob(f"{glob.escape(item_id)}*.msg")]
        if len(matches) != 1:
            return None
        return self._load(QUARANTINE, matches[0])

    def requeue(self, item: SpoolItem) -> None:
        """Move a quarantined item back to incoming/ for another try (attempts reset)."""
        item.meta.attempts = 0
        item.meta.reason = None
        self._rewrite(QUARANTINE, item)
        inc = self.root / INCOMING
        os.rename(self.root / QUARANTINE / f"{item.id}.msg", inc / f"{item.id}.msg")
        item.path = inc / f"{item.id}.msg"
        _fsync_dir(inc)
        self.wake()

    # -- recovery and waiting ----------------------------------------------------------
    def recover(self) -> int:
        """Clean up after a crash: drop partial writes (never acknowledged); returns items pending."""
        for p in (self.root / TMP).iterdir():
            p.unlink(missing_ok=True)
        with self._lock:
            self._claimed.clear()
            self._groups.clear()
            self._group_left.clear()
        return len(self.pending_ids())

    def depth(self) -> int:
        """Number of committed items waiting in incoming/."""
        return len(self.pending_ids())

    def quarantine_count(self) -> int:
        """Number of items in quarantine/."""
        return sum(1 for name in os.listdir(self.root / QUARANTINE) if name.endswith(".msg"))

    def wait(self, timeout: float) -> bool:
        """Block until put() signals new work or ``timeout`` passes (for the worker thread)."""
        hit = self._wakeup.wait(timeout)
        self._wakeup.clear()
        return hit

    def wake(self) -> None:
        """Wake a waiting worker (used by SIGTERM drain and by other processes' hints)."""
        self._wakeup.set()
        if self.notify is not None:
            self.notify()
