"""Issue 21 item 1: a spool item that cannot be read or decoded is quarantined with its reason,
its bytes kept, and never holds back another item (worker on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from sqlalchemy import func, select
from test_worker_batch import CFG, SENT, mail

from mailcrm.ingest.parse_pool import ParsePool
from mailcrm.ingest.worker import Worker
from mailcrm.spool import INCOMING, QUARANTINE, Spool
from mailcrm.store import db, repository
from mailcrm.store.models import Message

# Sorted first, so they sit at the head of the first claimed batch.
NULL_SIDECAR = "00000000T000000000000-nullside.msg"
NO_NEWLINE = "00000000T000000000001-nonewline.msg"
A_DIRECTORY = "00000000T000000000002-adirectory.msg"
BAD_TYPES = "00000000T000000000003-badtypes.msg"


def plant_corrupt(incoming: Path) -> None:
    """The four kinds of bad spool file the issue found stalling ingest."""
    (incoming / NULL_SIDECAR).write_bytes(b"null\nFrom: a@b\r\n\r\nbody\r\n")
    (incoming / NO_NEWLINE).write_bytes(b'{"source": "smtp"}')
    (incoming / A_DIRECTORY).mkdir()
    (incoming / A_DIRECTORY / "inner").write_bytes(b"x")
    (incoming / BAD_TYPES).write_bytes(b'{"source": "smtp", "attempts": "many"}\nFrom: a@b\r\n\r\nx\r\n')


def test_claim_marks_corrupt_items_and_quarantine_keeps_every_byte(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    plant_corrupt(tmp_path / INCOMING)
    items = {i.path.name: i for i in spool.claim()}
    assert set(items) == {NULL_SIDECAR, NO_NEWLINE, A_DIRECTORY, BAD_TYPES}
    assert "not an object" in (items[NULL_SIDECAR].corrupt or "")
    assert "no newline" in (items[NO_NEWLINE].corrupt or "")
    assert "cannot read" in (items[A_DIRECTORY].corrupt or "")
    assert "wrong types" in (items[BAD_TYPES].corrupt or "")
    for item in items.values():
        spool.quarantine(item, item.corrupt or "")
    assert spool.depth() == 0 and spool.quarantine_count() == 4
    by_file = {q.meta.spool_file: q for q in spool.quarantined()}
    assert by_file[f"incoming/{NULL_SIDECAR}"].read() == b"null\nFrom: a@b\r\n\r\nbody\r\n"
    assert by_file[f"incoming/{NO_NEWLINE}"].read() == b'{"source": "smtp"}'
    moved = by_file[f"incoming/{A_DIRECTORY}"]
    assert "kept as quarantine/" in (moved.meta.reason or "")
    assert (tmp_path / QUARANTINE / f"{A_DIRECTORY}.unreadable" / "inner").read_bytes() == b"x"


def test_corrupt_items_never_hold_back_the_others(store, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    engine, factory = store
    with db.transaction(factory) as s:
        repository.sync_users(s, CFG)
    spool = Spool(tmp_path / "spool")
    plant_corrupt(spool.root / INCOMING)
    for n in range(100):
        spool.put(mail(f"hello {n}", "Ann <ann@example.com>", f"m{n}@example.org"), SENT)
    worker = Worker(CFG, factory, spool, ParsePool(0))
    handled = worker.process_available()
    assert handled == 104
    with factory() as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 100
    assert spool.depth() == 0 and spool.quarantine_count() == 4
    assert os.listdir(spool.root / INCOMING) == []
    # And a fresh daemon (restart) finds nothing stuck.
    assert Spool(spool.root).recover() == 0


def test_quarantine_list_json_names_the_spool_file(tmp_path: Path) -> None:
    import subprocess
    import sys

    from mailcrm.spool import SpoolItem, SpoolMeta

    cfg_path = tmp_path / "mailcrm.toml"
    cfg_path.write_text(f'data_dir = "{tmp_path / "data"}"\n[[users]]\nemail = "me@example.org"\n'
                        'dropbox = "crm+secret@example.org"\n')
    spool = Spool(tmp_path / "data" / "spool")
    (spool.root / INCOMING / NULL_SIDECAR).write_bytes(b"null\nraw")
    [item] = spool.claim()
    assert isinstance(item, SpoolItem) and isinstance(item.meta, SpoolMeta)
    spool.quarantine(item, item.corrupt or "")
    env = dict(os.environ, MAILCRM_CONFIG=str(cfg_path), PYTHONPATH=str(Path(__file__).parent.parent))
    res = subprocess.run([sys.executable, "-m", "mailcrm", "quarantine", "list", "--json"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    [row] = json.loads(res.stdout)
    assert row["spool_file"] == f"incoming/{NULL_SIDECAR}" and "not an object" in row["reason"]
