"""The durable spool: put/claim/done/quarantine/requeue/recover."""

from __future__ import annotations

import os
from pathlib import Path

from mailcrm.spool import INCOMING, QUARANTINE, TMP, Spool, SpoolMeta


def test_put_claim_done_roundtrip(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    raw = b"From: a@b\r\n\r\nbody with \x00 NUL and \xff bytes\r\n"
    item_id = spool.put(raw, SpoolMeta(source="smtp", mail_from="", rcpt_tos=["crm+x@example.org"]))
    assert spool.depth() == 1
    [item] = spool.claim()
    assert item.id == item_id and item.read() == raw  # the bytes exactly as received
    assert item.meta.mail_from == "" and item.meta.rcpt_tos == ["crm+x@example.org"]
    assert spool.claim() == []  # claimed items are not handed out twice
    spool.done(item)
    assert spool.depth() == 0 and not list((tmp_path / INCOMING).iterdir())


def test_release_counts_attempts_and_quarantine_keeps_bytes(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(b"raw", SpoolMeta(source="smtp"))
    [item] = spool.claim()
    spool.release(item, "db down")
    [again] = spool.claim()
    assert again.meta.attempts == 1 and again.meta.last_error == "db down"
    spool.quarantine(again, "bad mail")
    assert spool.depth() == 0 and spool.quarantine_count() == 1
    [q] = list(spool.quarantined())
    assert q.meta.reason == "bad mail" and q.read() == b"raw"
    assert spool.get_quarantined(q.id[:10]) is not None
    spool.requeue(q)
    [back] = spool.claim()
    assert back.read() == b"raw" and back.meta.attempts == 0 and back.meta.reason is None
    assert not list((tmp_path / QUARANTINE).iterdir())


def test_recover_drops_partial_writes_and_keeps_committed(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.put(b"one", SpoolMeta(source="smtp"))
    (tmp_path / TMP / "crashed-mid-write.msg").write_bytes(b'{"source": "smtp"}\npart')  # never acknowledged
    claimed = spool.claim()
    assert len(claimed) == 1
    fresh = Spool(tmp_path)  # a restart: nothing is claimed any more
    assert fresh.recover() == 1
    assert not os.listdir(tmp_path / TMP)
    assert [i.read() for i in fresh.claim()] == [b"one"]


def test_unreadable_sidecar_is_claimed_as_corrupt(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    (tmp_path / INCOMING / "20260101T000000000000-deadbeef.msg").write_bytes(b"not json\nraw bytes")
    [item] = spool.claim()
    assert item.corrupt and "unreadable sidecar" in item.corrupt
    assert item.read() == b"raw bytes"


def test_one_claiming_process_per_spool(tmp_path: Path) -> None:
    """Claims live in memory, so a second process may not claim: the worker lock says who may."""
    import subprocess
    import sys

    spool = Spool(tmp_path / "spool")
    assert spool.become_worker()
    probe = ("import sys; from mailcrm.spool import Spool; "
             "print(Spool(sys.argv[1]).become_worker())")
    other = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "spool")], capture_output=True, text=True,
                           timeout=60)
    assert other.stdout.strip() == "False", other.stderr
    spool.stop_being_worker()
    other = subprocess.run([sys.executable, "-c", probe, str(tmp_path / "spool")], capture_output=True, text=True,
                           timeout=60)
    assert other.stdout.strip() == "True", other.stderr


def test_the_import_batch_is_a_work_queue_not_a_spool_subclass(tmp_path) -> None:
    """The worker takes any WorkQueue; the import's in-memory batch implements it without inheriting the disk spool."""
    from mailcrm.ingest.import_runner import BatchSpool
    from mailcrm.spool import Spool, SpoolMeta

    assert not issubclass(BatchSpool, Spool)
    batch = BatchSpool(tmp_path / "staging", tmp_path / "quarantine")
    first = batch.put(b"Subject: a\r\n\r\nx", SpoolMeta(source="import:mbox"))
    second = batch.put(b"Subject: b\r\n\r\ny", SpoolMeta(source="import:mbox"))
    claimed = batch.claim(limit=1)
    assert [i.id for i in claimed] == [first] and batch.depth() == 2
    batch.unclaim(claimed)
    both = batch.claim()
    assert [i.id for i in both] == [first, second]
    batch.done(both[0])
    batch.quarantine(both[1], "unprocessable: test")
    assert batch.depth() == 0
    kept = list((tmp_path / "quarantine").glob("*.msg"))
    assert len(kept) == 1 and b"Subject: b" in kept[0].read_bytes()
