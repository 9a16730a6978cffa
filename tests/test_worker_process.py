"""The ingest worker runs in its own process (issue 26): the listener only spools, the daemon supervises.

A real `mailcrm serve`: the worker process is found among the daemon's children; SIGKILLed, it is
replaced and what was answered meanwhile is stored; SIGTERM to the daemon drains and ends it too;
SIGKILL of the daemon takes the worker with it.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from conftest import free_port, make_config_text
from daemon_proc import DROPBOX, USER, DaemonProcess
from sqlalchemy import func, select
from test_smtp_daemon import _count, _msg, wait_for

from mailcrm.store.models import Message


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def _worker_pid(daemon_pid: int) -> int | None:
    """The daemon's child that is the worker (not multiprocessing's resource tracker)."""
    for c in _children(daemon_pid):
        try:
            if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes():
                return c
        except OSError:
            pass
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purposes
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _start(tmp_path: Path, db_url: str) -> DaemonProcess:
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, db_url, port))
    return DaemonProcess(cfg, port, tmp_path / "serve.log").start()


def _send(d: DaemonProcess, tag: str, n: int) -> None:
    with d.smtp() as s:
        for i in range(n):
            s.sendmail(USER, [DROPBOX], _msg(f"{tag} {i}", mid=f"{tag}-{i}@example.org"))


def test_worker_killed_is_restarted_and_nothing_answered_is_lost(tmp_path: Path, db_url: str) -> None:
    d = _start(tmp_path, db_url)
    messages = select(func.count()).select_from(Message)
    try:
        assert d.proc is not None
        assert wait_for(lambda: _worker_pid(d.proc.pid) is not None)  # type: ignore[union-attr]
        first = _worker_pid(d.proc.pid)
        assert first is not None and first != d.proc.pid
        _send(d, "before", 5)
        assert wait_for(lambda: _count(db_url, messages) == 5)
        os.kill(first, signal.SIGKILL)
        # The listener does not depend on the worker: mail is answered while no worker runs.
        _send(d, "while-down", 5)
        assert wait_for(lambda: (_worker_pid(d.proc.pid) or first) != first, timeout=30)  # type: ignore[union-attr]
        second = _worker_pid(d.proc.pid)
        assert wait_for(lambda: _count(db_url, messages) == 10, timeout=30)
        assert "worker process died" in d.log_path.read_text()
    finally:
        code = d.stop()
    assert code == 0 and second is not None and not _alive(second)


def test_sigterm_drains_the_worker_and_sigkill_of_the_daemon_takes_it_along(tmp_path: Path, db_url: str) -> None:
    d = _start(tmp_path, db_url)
    assert d.proc is not None
    assert wait_for(lambda: _worker_pid(d.proc.pid) is not None)  # type: ignore[union-attr]
    worker = _worker_pid(d.proc.pid)
    assert worker is not None
    _send(d, "drain", 20)
    assert d.stop() == 0  # SIGTERM: the worker stores what was spooled, then both exit
    assert wait_for(lambda: not _alive(worker), timeout=10)
    assert _count(db_url, select(func.count()).select_from(Message)) == 20
    assert list((tmp_path / "data" / "spool" / "incoming").iterdir()) == []

    d2 = _start(tmp_path, db_url)
    assert d2.proc is not None
    assert wait_for(lambda: _worker_pid(d2.proc.pid) is not None)  # type: ignore[union-attr]
    worker2 = _worker_pid(d2.proc.pid)
    assert worker2 is not None
    os.kill(d2.proc.pid, signal.SIGKILL)  # the daemon alone, not its process group
    d2.proc.wait(10)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _alive(worker2):
        time.sleep(0.05)
    assert not _alive(worker2)
