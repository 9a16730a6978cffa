"""Issue 21 item 5: directories 0700 and files 0600 whatever the umask (data dir, spool files and
sidecars, quarantine, the SQLite database and its -wal/-shm, exports); the config stays 0600."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mailcrm.spool import INCOMING, QUARANTINE, TMP, Spool, SpoolMeta
from mailcrm.store import db
from mailcrm.transfer.export import ExportContact, export_contacts

REPO = Path(__file__).resolve().parents[1]


def mode(path: Path) -> int:
    """The permission bits of ``path``."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The widest umask (0): anything not forced private comes out world-readable (and writable)."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def test_init_with_umask_022_leaves_nothing_readable_by_others(tmp_path: Path) -> None:
    data = tmp_path / "home" / "data"
    cfg = tmp_path / "home" / "mailcrm.toml"
    env = dict(os.environ, PYTHONPATH=str(REPO))
    code = ("import os, sys; os.umask(0o022); from mailcrm.cli import main; sys.argv = sys.argv[1:]; main()")
    res = subprocess.run([sys.executable, "-c", code, "mailcrm", "--config", str(cfg), "init",
                          "--email", "me@example.org", "--data-dir", str(data)],
                         env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert mode(cfg) == 0o600
    assert mode(data) == 0o700
    for sub in ("spool", f"spool/{INCOMING}", f"spool/{QUARANTINE}", f"spool/{TMP}"):
        assert mode(data / sub) == 0o700, sub
    assert mode(data / "mailcrm.sqlite3") == 0o600
    for extra in ("mailcrm.sqlite3-wal", "mailcrm.sqlite3-shm"):
        if (data / extra).exists():
            assert mode(data / extra) == 0o600, extra


def test_spool_files_and_quarantine_are_private(tmp_path: Path, open_umask: None) -> None:
    spool = Spool(tmp_path / "spool")
    assert mode(tmp_path / "spool") == 0o700
    spool.put(b"From: a@b\r\n\r\nsecret body\r\n", SpoolMeta(source="smtp", rcpt_tos=["crm+secret@example.org"]))
    spool.put(b"two", SpoolMeta(source="smtp"))
    [f1, f2] = sorted((tmp_path / "spool" / INCOMING).iterdir())
    assert mode(f1) == 0o600 and mode(f2) == 0o600
    one, two = spool.claim()
    spool.release(one, "db down")  # a sidecar rewrite
    spool.quarantine(two, "bad")
    assert mode(f1) == 0o600
    [q] = (tmp_path / "spool" / QUARANTINE).iterdir()
    assert mode(q) == 0o600
    assert spool.become_worker()
    assert mode(tmp_path / "spool" / "worker.lock") == 0o600
    spool.stop_being_worker()


def test_existing_wide_modes_are_tightened(tmp_path: Path, open_umask: None) -> None:
    root = tmp_path / "spool"
    for sub in ("", INCOMING, QUARANTINE, TMP):
        (root / sub).mkdir(mode=0o755, exist_ok=True)
    Spool(root)
    assert all(mode(root / sub) == 0o700 for sub in ("", INCOMING, QUARANTINE, TMP))
    dbfile = tmp_path / "old.sqlite3"
    dbfile.touch(mode=0o644)
    db.make_engine(f"sqlite:///{dbfile}").dispose()
    assert mode(dbfile) == 0o600


def test_sqlite_database_wal_and_shm_are_private(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "new" / "crm.sqlite3"
    engine = db.make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        # The connection is open: SQLite keeps -wal and -shm until the last one closes.
        for name in ("crm.sqlite3", "crm.sqlite3-wal", "crm.sqlite3-shm"):
            assert (path.parent / name).exists(), name
            assert mode(path.parent / name) == 0o600, name
    engine.dispose()
    assert mode(path.parent) == 0o700


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "vcard"])
def test_exports_are_private(tmp_path: Path, open_umask: None, fmt: str) -> None:
    contact = ExportContact(1, "Anna Smirnova", "ACME", None, [], None, None, None, ["anna@example.com"])
    out = tmp_path / f"contacts.{fmt}"
    export_contacts([contact], fmt, out)
    assert out.stat().st_size > 0 and mode(out) == 0o600
