"""Group commit of the spool (issue 26): one fsync covers a group, no 250 before its group's fsync.

The spool half runs on a real directory; the SMTP half is the daemon's listener on a loopback port
(tests/smtp_live.py) with smtplib clients, the fsync path instrumented to record what was made
durable and when.
"""

from __future__ import annotations

import asyncio
import smtplib
import threading
import time
from pathlib import Path

import pytest
from smtp_live import config_text, live_listener

import mailcrm.spool as spool_mod
from mailcrm.spool import GROUP_SUFFIX, INCOMING, Spool, SpoolMeta
from mailcrm.spool_commit import GroupCommit


def _msg(i: int) -> bytes:
    return (f"From: me@example.org\r\nTo: c{i}@example.com\r\nSubject: group {i}\r\n"
            f"Message-ID: <group-{i}@example.org>\r\n\r\nbody {i}\r\n").encode()


# -- the spool's group files ---------------------------------------------------------------------
def test_put_many_is_one_file_whose_members_are_claimed_read_and_removed(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    ids = spool.put_many([(_msg(i), SpoolMeta(source="smtp", mail_from=f"s{i}@x.org")) for i in range(3)])
    files = sorted((tmp_path / "spool" / INCOMING).iterdir())
    assert [f.suffix for f in files] == [GROUP_SUFFIX]
    assert spool.pending_ids() == ids and spool.depth() == 3
    items = spool.claim(limit=10)
    assert [i.id for i in items] == ids
    assert [i.read() for i in items] == [_msg(i) for i in range(3)]
    assert [i.meta.mail_from for i in items] == ["s0@x.org", "s1@x.org", "s2@x.org"]
    spool.done(items[0])
    spool.done(items[1])
    assert files[0].exists() and spool.pending_ids() == [ids[2]]  # not until its last member is done
    spool.done(items[2])
    assert not files[0].exists() and spool.depth() == 0


def test_one_entry_is_a_plain_item(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    [item_id] = spool.put_many([(_msg(1), SpoolMeta(source="smtp"))])
    assert (tmp_path / "spool" / INCOMING / f"{item_id}.msg").exists()


def test_quarantined_and_released_members_survive_a_crash_once(tmp_path: Path) -> None:
    """After a crash the group is read again: members already settled on their own are not replayed."""
    root = tmp_path / "spool"
    spool = Spool(root)
    ids = spool.put_many([(_msg(i), SpoolMeta(source="smtp")) for i in range(4)])
    a, b, c, d = spool.claim(limit=10)
    spool.quarantine(a, "bad")
    spool.release(b, "database down")
    spool.done(c)
    # SIGKILL here: a fresh process (the restarted worker) sees the group file again.
    fresh = Spool(root)
    fresh.recover()
    assert fresh.pending_ids() == sorted([ids[1], ids[2], ids[3]])  # c was committed but is replayed (duplicate)
    replay = {i.id: i for i in fresh.claim(limit=10)}
    assert replay[ids[1]].meta.attempts == 1 and replay[ids[1]].read() == _msg(1)  # the released copy
    assert replay[ids[3]].read() == _msg(3)
    assert [q.id for q in fresh.quarantined()] == [ids[0]]
    assert next(fresh.quarantined()).read() == _msg(0)
    for item in replay.values():
        fresh.done(item)
    assert fresh.depth() == 0 and list((root / INCOMING).iterdir()) == []
    assert d.id == ids[3]


def test_group_file_with_unreadable_header_is_quarantined_whole(tmp_path: Path) -> None:
    root = tmp_path / "spool"
    spool = Spool(root)
    (root / INCOMING / f"20260101T000000000000-abc{GROUP_SUFFIX}").write_bytes(b"not json\nraw bytes")
    [item] = spool.claim()
    assert item.corrupt
    spool.quarantine(item, item.corrupt)
    [q] = list(spool.quarantined())
    assert q.read() == b"not json\nraw bytes" and spool.depth() == 0


# -- the committer ---------------------------------------------------------------------------------
def test_concurrent_puts_share_one_fsync_and_a_lone_one_waits_only_the_window(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    window = 0.05
    gc = GroupCommit(spool, window)
    written: list[tuple[float, list[str]]] = []
    gc.on_written = lambda ids: written.append((time.monotonic(), ids))

    async def run() -> tuple[list[str], float, float]:
        ids = await asyncio.gather(*(gc.put(_msg(i), SpoolMeta(source="smtp")) for i in range(10)))
        t0 = time.monotonic()
        lone = await gc.put(_msg(99), SpoolMeta(source="smtp"))
        return [*ids, lone], t0, time.monotonic()

    ids, t0, t1 = asyncio.run(run())
    assert len(written) == 2 and written[0][1] == ids[:10] and written[1][1] == [ids[10]]
    assert gc.groups == 2 and gc.items == 11
    # The lone message was written once the window passed, not held for company beyond it
    # (generous slack: the machine is shared).
    assert window <= written[1][0] - t0 < window + 0.5
    assert t1 >= written[1][0]


def test_a_full_group_is_written_at_once(tmp_path: Path) -> None:
    gc = GroupCommit(Spool(tmp_path / "spool"), window=30.0, max_items=4)

    async def run() -> list[str]:
        return await asyncio.wait_for(asyncio.gather(*(gc.put(_msg(i), SpoolMeta(source="smtp")) for i in range(4))), 10)

    assert len(asyncio.run(run())) == 4 and gc.groups == 1


def test_a_failed_write_fails_every_caller_of_the_group(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spool = Spool(tmp_path / "spool")
    gc = GroupCommit(spool, 0.01)

    def full(*_a: object, **_k: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(spool_mod, "_write_durable", full)

    async def run() -> list[object]:
        return await asyncio.gather(*(gc.put(_msg(i), SpoolMeta(source="smtp")) for i in range(3)), return_exceptions=True)

    assert all(isinstance(r, OSError) for r in asyncio.run(run()))
    assert list((tmp_path / "spool" / "tmp").iterdir()) == []


# -- over SMTP: no 250 before the fsync that covers it --------------------------------------------------
def test_no_250_precedes_its_groups_fsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    durable_files: set[str] = set()  # file names whose bytes were fsync'd (temp name = final name)
    dir_synced: set[str] = set()  # names present in incoming/ when its directory fsync returned
    lock = threading.Lock()
    write_durable, fsync_dir = spool_mod._write_durable, spool_mod._fsync_dir

    def recording_write(path: Path, data: bytes) -> None:
        write_durable(path, data)
        with lock:
            durable_files.add(path.name)

    def recording_fsync_dir(path: Path) -> None:
        fsync_dir(path)
        if path.name == INCOMING:
            names = {p.name for p in path.iterdir()}
            with lock:
                dir_synced.update(names)

    monkeypatch.setattr(spool_mod, "_write_durable", recording_write)
    monkeypatch.setattr(spool_mod, "_fsync_dir", recording_fsync_dir)
    text = config_text(tmp_path) + "[ingest]\ngroup_commit_ms = 20\n"
    answered: list[str] = []
    violations: list[str] = []

    with live_listener(tmp_path, text) as live:
        def client(k: int) -> None:
            with smtplib.SMTP("127.0.0.1", live.port, timeout=30) as s:
                s.ehlo()
                for i in range(5):
                    s.mail("me@example.org")
                    s.rcpt("crm+secret@example.org")
                    code, reply = s.data(_msg(k * 100 + i))
                    assert code == 250, reply
                    item_id = reply.decode().rsplit(" ", 1)[-1]
                    group = item_id.rpartition(".")[0] if "." in item_id else ""
                    name = f"{group}{GROUP_SUFFIX}" if group else f"{item_id}.msg"
                    with lock:  # the reply is here: its bytes and its directory entry must be durable already
                        if name not in durable_files or name not in dir_synced:
                            violations.append(item_id)
                        answered.append(item_id)

        threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert len(answered) == 30, "a client failed (see the thread's exception)"
        assert live.handler is not None
        groups, items = live.handler.committer.groups, live.handler.committer.items
        assert sorted(live.spool.pending_ids()) == sorted(answered)
    assert len(answered) == 30 and not violations
    assert items == 30 and groups < 30  # six clients at once: some messages shared an fsync
