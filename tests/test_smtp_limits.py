"""Issue 21 item 3: max_connections in total and per client address (421 beyond), descriptors kept
for the worker and the database, repeated log lines rate-limited."""

from __future__ import annotations

import io
import json
import logging
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from smtp_live import config_text, live_listener

from mailcrm import log

REPO = Path(__file__).resolve().parents[1]


def connect(port: int, source: str = "127.0.0.1") -> tuple[socket.socket, bytes]:
    """A raw client socket from ``source`` and the server's first line."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    return s, s.makefile("rb").readline()


def wait_until(cond, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    """Poll ``cond`` until true or ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.02)
    return bool(cond())


def test_total_and_per_address_limits_answer_421(tmp_path: Path) -> None:
    text = config_text(tmp_path, "max_connections = 5\nmax_connections_per_address = 3\n")
    with live_listener(tmp_path, text) as live:
        held = []
        for _ in range(3):
            s, first = connect(live.port)
            assert first.startswith(b"220"), first
            held.append(s)
        s, first = connect(live.port)  # a fourth from the same address
        assert first.startswith(b"421 4.7.0") and b"from your address" in first
        assert s.recv(10) == b""  # and closed
        s.close()
        for _ in range(2):
            s, first = connect(live.port, "127.0.0.2")
            assert first.startswith(b"220")
            held.append(s)
        s, first = connect(live.port, "127.0.0.3")  # the sixth in total
        assert first.startswith(b"421 4.7.0 ") and b"Too many connections" in first
        s.close()
        # A slot frees when a client leaves; a normal client then gets its mail through.
        held.pop(0).close()
        assert wait_until(lambda: live.guard.active == 4)
        with smtplib.SMTP("127.0.0.1", live.port, timeout=10) as c:
            assert c.noop()[0] == 250
        for s in held:
            s.close()
        assert wait_until(lambda: live.guard.active == 0)
        assert live.guard.counters["connections_refused_per_address"] == 1
        assert live.guard.counters["connections_refused_total"] == 1


def test_flood_of_idle_sockets_leaves_descriptors_for_the_store(tmp_path: Path) -> None:
    """A daemon-like process with a soft limit of 256 descriptors and max_connections = 1000 admits
    only what leaves FD_RESERVE free: with 300 idle sockets open, its spool and SQLite still work."""
    script = f"""
import resource, sys, json
resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
sys.path[:0] = [{str(REPO)!r}, {str(REPO / 'tests')!r}]
from pathlib import Path
from smtp_live import config_text, live_listener
from sqlalchemy import text
from mailcrm.spool import SpoolMeta
from mailcrm.store import db
from mailcrm import log
log.setup("info", "json", stream=sys.stderr)
tmp = Path(sys.argv[1])
with live_listener(tmp, config_text(tmp, "max_connections = 1000\\nmax_connections_per_address = 1000\\n")) as live:
    print(live.port, flush=True)
    sys.stdin.readline()  # the client holds its sockets open now
    live.spool.put(b"From: a@b\\r\\n\\r\\nx\\r\\n", SpoolMeta(source="smtp"))
    engine = db.make_engine("sqlite:///" + str(tmp / "x.sqlite3"))
    with engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    engine.dispose()
    print(json.dumps({{"budget": live.guard.max_total, "active": live.guard.active,
                      "depth": live.spool.depth()}}), flush=True)
    sys.stdin.readline()
"""
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    socks: list[socket.socket] = []
    try:
        assert proc.stdout is not None and proc.stdin is not None
        port = int(proc.stdout.readline())
        firsts = []
        for _ in range(300):
            s, first = connect(port)
            firsts.append(first[:3])
            if first.startswith(b"220"):
                socks.append(s)
            else:
                s.close()
        proc.stdin.write("go\n")
        proc.stdin.flush()
        out = json.loads(proc.stdout.readline())
        proc.stdin.write("stop\n")
        proc.stdin.flush()
        assert proc.wait(timeout=120) == 0
    finally:
        for s in socks:
            s.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.stderr is not None
    assert out["budget"] == 256 - 128, proc.stderr.read()[-2000:]
    assert firsts.count(b"220") == 128 and firsts.count(b"421") == 300 - 128
    assert out["active"] == 128 and out["depth"] == 1


def test_soft_open_file_limit_is_raised_when_the_hard_limit_allows(tmp_path: Path) -> None:
    script = ("import resource; resource.setrlimit(resource.RLIMIT_NOFILE, (256, 4096)); "
              "from mailcrm.sources.smtp_guard import connection_budget; print(connection_budget(500), "
              "resource.getrlimit(resource.RLIMIT_NOFILE)[0])")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["500", "628"]


def test_repeated_log_lines_are_rate_limited() -> None:
    clock = [0.0]
    limiter = log.RepeatLimiter(limit=3, window=10.0, clock=lambda: clock[0])
    kind = ("error", "accept failed")
    assert [limiter.allow(kind)[0] for _ in range(1000)].count(True) == 3
    assert limiter.allow(("info", "something else")) == (True, 0)  # other lines are untouched
    clock[0] = 10.0
    assert limiter.allow(kind) == (True, 997)  # the next window reports what was dropped


@pytest.fixture
def restore_logging():  # type: ignore[no-untyped-def]
    """Put structlog and the root handlers' streams back after a test that reconfigures them."""
    import structlog

    streams = [(h, h.stream) for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler)]
    yield
    for h, stream in streams:
        h.setStream(stream)
    structlog.reset_defaults()


def test_structlog_and_stdlib_floods_are_cut(restore_logging: None) -> None:
    out = io.StringIO()
    log.setup("info", "json", stream=out)
    lg = log.get("mailcrm.test")
    for _ in range(5000):
        lg.error("accept failed", error="EMFILE")
    for n in range(50):
        lg.info("ingested", spool_id=str(n))  # distinct lines are all kept
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    assert sum(1 for x in lines if x["event"] == "accept failed") == log.REPEAT_LIMIT
    assert sum(1 for x in lines if x["event"] == "ingested") == 50
    handler_out = io.StringIO()
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, logging.StreamHandler):
            h.setStream(handler_out)
    for _ in range(5000):
        logging.getLogger("asyncio").error("socket.accept() out of system resource")
    assert handler_out.getvalue().count("out of system resource") == log.REPEAT_LIMIT
