"""Issue 21 item 4: on a full disk SMTP answers 451 and leaves no temp files; once writes succeed
again the worker resumes by itself (no restart) and every accepted message is stored.

Runs on a small tmpfs mounted for the test (root only); skipped where mount is not allowed."""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import subprocess
import threading
import time
from collections.abc import Iterator
from email.utils import format_datetime
from pathlib import Path

import pytest
from smtp_live import config_text, live_listener
from sqlalchemy import func, select

from mailcrm import config
from mailcrm.app import cases
from mailcrm.app.handle import open_store
from mailcrm.ingest.parse_pool import ParsePool
from mailcrm.ingest.worker import Worker, start_thread
from mailcrm.spool import TMP, Spool, SpoolMeta
from mailcrm.store.models import Message

USER, DROPBOX = "me@example.org", "crm+secret@example.org"


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs at tmp_path/disk, unmounted after the test."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mnt)], capture_output=True,
                         timeout=30)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {res.stderr.decode(errors='replace').strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def fill(disk: Path) -> Path:
    """Write a ballast file until the disk is full; returns it (delete it to free the space)."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return ballast


def message(n: int) -> bytes:
    """A small message from the user to a new contact."""
    when = format_datetime(dt.datetime(2026, 11, 3, 9, 0, tzinfo=dt.timezone.utc))
    return (f"From: Me <{USER}>\r\nTo: Contact {n} <c{n}@example.com>\r\nSubject: hello {n}\r\n"
            f"Message-ID: <full-{n}@example.org>\r\nDate: {when}\r\n\r\nHello {n}\r\n").encode()


def test_put_on_a_full_disk_leaves_no_temp_file(small_disk: Path) -> None:
    spool = Spool(small_disk / "spool")
    ballast = fill(small_disk)
    for _ in range(20):
        with pytest.raises(OSError):
            spool.put(b"x" * 20000, SpoolMeta(source="smtp"))
    assert os.listdir(spool.root / TMP) == [] and spool.depth() == 0
    ballast.unlink()
    spool.put(b"x" * 20000, SpoolMeta(source="smtp"))
    assert spool.depth() == 1


def test_worker_resumes_by_itself_after_the_disk_frees(small_disk: Path, tmp_path: Path) -> None:
    text = config_text(small_disk.parent, "", "").replace(f'data_dir = "{small_disk.parent / "data"}"',
                                                           f'data_dir = "{small_disk / "data"}"')
    text += "[ingest]\nmax_attempts = 1000\nparse_processes = 0\n"
    cfg = config.parse(text, "t")
    store = open_store(cfg)
    cases.sync_users(store, cfg)
    stop = threading.Event()
    with live_listener(small_disk, text) as live:
        accepted, refused = 0, 0
        with smtplib.SMTP("127.0.0.1", live.port, timeout=30) as c:  # accepted before the disk fills
            for n in range(30):
                c.sendmail(USER, [DROPBOX], message(n))
                accepted += 1
        ballast = fill(small_disk)
        worker = Worker(cfg, store.factory, live.spool, ParsePool(0))
        thread = start_thread(worker, stop)
        try:
            # Mail keeps arriving while the disk is full: every answer is 250 or 451, nothing else.
            with smtplib.SMTP("127.0.0.1", live.port, timeout=30) as c:
                for n in range(30, 60):
                    try:
                        c.sendmail(USER, [DROPBOX], message(n))
                        accepted += 1
                    except smtplib.SMTPDataError as exc:
                        assert exc.smtp_code == 451
                        refused += 1
            assert refused > 0
            assert os.listdir(live.spool.root / TMP) == []  # failed writes removed at once
            # Accepted mail sits in incoming/ while the store cannot write; then space returns.
            time.sleep(2.0)
            assert worker.last_error and "full" in worker.last_error  # the store could not write
            assert live.spool.depth() > 0
            ballast.unlink()
            with smtplib.SMTP("127.0.0.1", live.port, timeout=30) as c:
                c.sendmail(USER, [DROPBOX], message(999))
                accepted += 1
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and live.spool.depth():
                time.sleep(0.2)
            assert live.spool.depth() == 0, f"{live.spool.depth()} accepted messages still waiting"
            with store.factory() as s:
                stored = s.scalar(select(func.count()).select_from(Message))
            assert stored == accepted and live.spool.quarantine_count() == 0
            assert os.listdir(live.spool.root / TMP) == []
        finally:
            stop.set()
            live.spool.wake()
            thread.join(timeout=60)
            store.close()
