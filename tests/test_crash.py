"""Crash test: 2,000 messages over several connections, SIGKILL twice; nothing acked is lost or doubled."""

from __future__ import annotations

import json
import smtplib
import threading
import time
from pathlib import Path

import pytest
from conftest import free_port, make_config_text
from daemon_proc import DROPBOX, USER, DaemonProcess
from sqlalchemy import create_engine, text

from mailcrm.store.db import normalize_url

TOTAL = 2000
CONNECTIONS = 4


def _message(i: int) -> bytes:
    return (
        f"From: Me <me@example.org>\r\nTo: Contact {i % 50} <c{i % 50}@crash{i % 7}.example>\r\n"
        f"Subject: crash test {i}\r\nMessage-ID: <crash-{i}@example.org>\r\n"
        f"Date: Mon, 02 Nov 2026 10:00:00 +0300\r\n\r\nbody {i}\r\n" + ("x" * 76 + "\r\n") * 25
    ).encode()


@pytest.mark.slow
def test_sigkill_twice_loses_nothing(tmp_path: Path, db_url: str) -> None:
    port = free_port()
    cfg = tmp_path / "config.toml"
    cfg.write_text(make_config_text(tmp_path, db_url, port))
    d = DaemonProcess(cfg, port, tmp_path / "serve.log").start()
    acked: set[int] = set()
    lock = threading.Lock()
    sent_count = [0]

    def client(indices: list[int]) -> None:
        pending = list(indices)
        conn: smtplib.SMTP | None = None
        deadline = time.monotonic() + 300
        while pending and time.monotonic() < deadline:
            try:
                if conn is None:
                    conn = smtplib.SMTP("127.0.0.1", port, timeout=30)
                i = pending[0]
                conn.sendmail(USER, [DROPBOX], _message(i))
                with lock:
                    acked.add(i)
                    sent_count[0] += 1
                pending.pop(0)
            except (OSError, smtplib.SMTPException):
                # Like a real MTA: the message without a 250 is tried again later.
                try:
                    if conn is not None:
                        conn.close()
                except Exception:  # noqa: BLE001
                    pass
                conn = None
                time.sleep(0.05)
        if conn is not None:
            try:
                conn.quit()
            except (OSError, smtplib.SMTPException):
                pass

    chunks = [list(range(k, TOTAL, CONNECTIONS)) for k in range(CONNECTIONS)]
    threads = [threading.Thread(target=client, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    try:
        for kill_at in (TOTAL // 3, 2 * TOTAL // 3):
            while sent_count[0] < kill_at and any(t.is_alive() for t in threads):
                time.sleep(0.01)
            d.kill()  # SIGKILL: no drain, no cleanup
            d.start()
        for t in threads:
            t.join(360)
        assert len(acked) == TOTAL, "every message eventually got its 250"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if json.loads(d.cli("status", "--json").stdout)["spool_depth"] == 0:
                break
            time.sleep(0.3)
    finally:
        d.stop()
    engine = create_engine(normalize_url(db_url))
    with engine.connect() as c:
        rows = c.execute(text("SELECT message_id, COUNT(*) FROM messages GROUP BY message_id")).all()
    engine.dispose()
    counts = {mid: n for mid, n in rows}
    missing = [i for i in acked if counts.get(f"crash-{i}@example.org", 0) == 0]
    doubled = [mid for mid, n in counts.items() if n != 1]
    assert not missing, f"{len(missing)} acknowledged messages lost, e.g. {missing[:5]}"
    assert not doubled, f"stored more than once: {doubled[:5]}"
    assert len(counts) == TOTAL
