"""Ingest throughput: `mailcrm serve` vs a bare aiosmtpd sink that only fsyncs, in one run.

Usage: python bench/ingest.py [--count 5000] [--size 20000] [--connections 8] [--contacts 500] [--db URL]
       [--parse-processes N]
Prints messages/s for both, the ratio for "250 received" and for "stored in the database",
and the peak RSS of the daemon and of its parser process.  Targets (issue 2): end-to-end >= 0.5 of the sink, RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import os
import smtplib
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SINK = textwrap.dedent('''
    import asyncio, os, sys, uuid
    from aiosmtpd.controller import Controller
    out = sys.argv[1]
    class Sink:
        async def handle_DATA(self, server, session, envelope):
            def write():
                p = os.path.join(out, uuid.uuid4().hex)
                with open(p, "wb") as fh:
                    fh.write(envelope.original_content)
                    fh.flush(); os.fsync(fh.fileno())
                fd = os.open(out, os.O_RDONLY); os.fsync(fd); os.close(fd)
            await asyncio.to_thread(write)
            return "250 OK"
    c = Controller(Sink(), hostname="127.0.0.1", port=int(sys.argv[2]), data_size_limit=50_000_000)
    c.start(); print("ready", flush=True)
    sys.stdin.read()
    c.stop()
''')


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_messages(count: int, size: int, contacts: int = 500) -> list[bytes]:
    """Distinct ~size-byte sent copies, each to one of ``contacts`` people (0: a new person each)."""
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
    body = line * max(1, size // len(line))
    out = []
    for i in range(count):
        who = i % contacts if contacts else i
        out.append((
            f"From: Me <me@example.org>\r\nTo: Contact {who} <c{who}@company{who % 97}.example>\r\n"
            f"Subject: bench {i}\r\nMessage-ID: <bench-{i}-{os.getpid()}@example.org>\r\n"
            f"Date: Mon, 02 Nov 2026 10:00:00 +0300\r\n\r\n{body}"
        ).encode())
    return out


def blast(port: int, msgs: list[bytes], connections: int, rcpt: str) -> float:
    """Send all messages over N connections; returns seconds until the last 250."""
    chunks = [msgs[k::connections] for k in range(connections)]
    errors: list[str] = []

    def run(chunk: list[bytes]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            for m in chunk:
                try:
                    s.sendmail("me@example.org", [rcpt], m)
                except smtplib.SMTPException as exc:
                    errors.append(str(exc))

    t0 = time.perf_counter()
    threads = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"{len(errors)} SMTP errors, e.g. {errors[0]}")
    return time.perf_counter() - t0


def wait_port(port: int, timeout: float = 30) -> None:
    """Wait until something listens on the port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def peak_rss_mb(pid: int) -> float:
    """VmHWM of a live process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    """Run both sides and print the ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir)")
    ap.add_argument("--contacts", type=int, default=500,
                    help="people the mail goes to (round robin; 0: a new contact for every message)")
    ap.add_argument("--parse-processes", default="auto", help='[ingest] parse_processes for the daemon ("auto", 0, 1, ...)')
    args = ap.parse_args()
    msgs = make_messages(args.count, args.size, args.contacts)
    tmp = Path(tempfile.mkdtemp(prefix="mailcrm-bench-"))

    # (a) bare sink
    (tmp / "sink").mkdir()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(tmp / "sink"), str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert sink.stdout is not None
    sink.stdout.readline()
    sink_cpu0 = cpu_seconds(sink.pid)
    sink_s = blast(port, msgs, args.connections, "sink@example.org")
    sink_cpu = cpu_seconds(sink.pid) - sink_cpu0
    sink.communicate(b"", timeout=30)

    # (b) mailcrm serve
    port = free_port()
    db = args.db or f"sqlite:///{tmp / 'bench.sqlite3'}"
    cfg = tmp / "config.toml"
    pp = args.parse_processes if args.parse_processes.isdigit() else '"auto"'
    cfg.write_text(
        f'data_dir = "{tmp / "data"}"\n[database]\nurl = "{db}"\n[smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        '[digest]\nenabled = false\n[log]\nlevel = "warning"\nformat = "json"\n'
        f'[ingest]\nparse_processes = {pp}\n'
        '[[users]]\nemail = "me@example.org"\ndropbox = "crm+bench@example.org"\n'
    )
    env = dict(os.environ, MAILCRM_CONFIG=str(cfg))
    daemon = subprocess.Popen([sys.executable, "-m", "mailcrm", "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / "serve.log", "wb"))
    wait_port(port)
    cpu0 = cpu_seconds(daemon.pid)
    t0 = time.perf_counter()
    recv_s = blast(port, msgs, args.connections, "crm+bench@example.org")
    from sqlalchemy import create_engine, text

    from mailcrm.store.db import normalize_url

    engine = create_engine(normalize_url(db))
    while True:
        with engine.connect() as c:
            n = c.execute(text("SELECT COUNT(*) FROM messages")).scalar() or 0
        if n >= args.count:
            break
        if time.perf_counter() - t0 > 1800:
            raise SystemExit(f"only {n} of {args.count} stored after 30 minutes")
        time.sleep(0.2)
    stored_s = time.perf_counter() - t0
    rss = peak_rss_mb(daemon.pid)
    children = [int(c) for t in Path(f"/proc/{daemon.pid}/task").iterdir() for c in (t / "children").read_text().split()]
    child_rss = sum(peak_rss_mb(c) for c in children)
    daemon_cpu = cpu_seconds(daemon.pid) - cpu0
    child_cpu = sum(cpu_seconds(c) for c in children)
    daemon.terminate()
    daemon.wait(60)
    engine.dispose()

    sink_rate = args.count / sink_s
    print(f"messages: {args.count} x ~{args.size} B over {args.connections} connections, to "
          f"{args.contacts or args.count} people; db: {engine.dialect.name}")
    print(f"(a) bare aiosmtpd + fsync sink : {sink_rate:8.1f} msg/s")
    print(f"(b) mailcrm serve, 250 received: {args.count / recv_s:8.1f} msg/s  ratio b/a = {sink_s / recv_s:.2f}")
    print(f"(b) mailcrm serve, stored in DB: {args.count / stored_s:8.1f} msg/s  ratio b/a = {sink_s / stored_s:.2f}"
          "  (target >= 0.5)")
    print(f"CPU per message: sink {sink_cpu / args.count * 1000:.2f} ms, daemon {daemon_cpu / args.count * 1000:.2f} ms, "
          "parser process(es) "
          f"{child_cpu / args.count * 1000:.2f} ms (this machine has {os.cpu_count()} cores)")
    print(f"daemon peak RSS: {rss:.1f} MB (target < 150 MB); its {len(children)} helper processes "
          f"(parser, multiprocessing's resource tracker): {child_rss:.1f} MB more")


if __name__ == "__main__":
    main()
