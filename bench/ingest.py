"""Ingest throughput: `mailcrm serve` vs a bare aiosmtpd sink that only fsyncs, in one run.

Usage: python bench/ingest.py [--count 3000] [--size 20000] [--connections 8] [--contacts 500] [--db URL]
       [--parse-processes N] [--json]
Prints messages/s for both, the ratio for "250 received" and for "stored in the database" (the
time until the last message is in the database), CPU per message of the sink, the client and each
of the daemon's processes (front end: SMTP + spool; worker: verify + store; parser), and peak RSS.
Targets (issue 26): received >= 0.9 of the sink (>= 1.0 with group commit), stored >= 0.6,
daemon RSS < 150 MB.  ``--json`` prints one object with received_ratio, stored_ratio, peak_rss_mb.
"""

from __future__ import annotations

import argparse
import json
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


def children(pid: int) -> list[int]:
    """Direct children of a live process."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            out.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            pass
    return out


def process_roles(daemon_pid: int) -> dict[str, list[int]]:
    """The daemon's processes by role: front end (itself), worker (its child), parser (the worker's children).

    multiprocessing's resource trackers are counted apart ("helper").
    """
    roles: dict[str, list[int]] = {"front": [daemon_pid], "worker": [], "parser": [], "helper": []}

    def walk(pid: int, depth: int) -> None:
        for c in children(pid):
            try:
                cmd = Path(f"/proc/{c}/cmdline").read_bytes()
            except OSError:
                continue
            role = "helper" if b"resource_tracker" in cmd else ("worker" if depth == 1 else "parser")
            roles[role].append(c)
            walk(c, depth + 1)

    walk(daemon_pid, 1)
    return roles


class Usage:
    """CPU seconds of a set of processes since construction (each found again at ``take``)."""

    def __init__(self, daemon_pid: int) -> None:
        self.daemon_pid = daemon_pid
        self.start = {pid: cpu_seconds(pid) for pids in process_roles(daemon_pid).values() for pid in pids}

    def take(self) -> dict[str, tuple[float, float]]:
        """role -> (CPU seconds used in the run, peak RSS MB summed over its processes)."""
        out: dict[str, tuple[float, float]] = {}
        for role, pids in process_roles(self.daemon_pid).items():
            cpu = sum(cpu_seconds(p) - self.start.get(p, 0.0) for p in pids)
            out[role] = (cpu, sum(peak_rss_mb(p) for p in pids))
        return out


def client_cpu() -> float:
    """CPU seconds of this process (the SMTP client threads)."""
    t = os.times()
    return t.user + t.system


def main() -> None:
    """Run both sides and print the ratios."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--size", type=int, default=20000)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir)")
    ap.add_argument("--contacts", type=int, default=500,
                    help="people the mail goes to (round robin; 0: a new contact for every message)")
    ap.add_argument("--parse-processes", default="auto", help='[ingest] parse_processes for the daemon ("auto", 0, 1, ...)')
    ap.add_argument("--group-commit-ms", type=float, default=None,
                    help="[ingest] group_commit_ms for the daemon (default: the config's default; 0: one fsync per message)")
    ap.add_argument("--worker-nice", type=int, default=None, help="[ingest] worker_nice for the daemon")
    ap.add_argument("--json", action="store_true", help="print one JSON object (received_ratio, stored_ratio, peak_rss_mb, ...)")
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
    sink_cpu0, client0 = cpu_seconds(sink.pid), client_cpu()
    sink_s = blast(port, msgs, args.connections, "sink@example.org")
    sink_cpu, sink_client = cpu_seconds(sink.pid) - sink_cpu0, client_cpu() - client0
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
        + (f'group_commit_ms = {args.group_commit_ms}\n' if args.group_commit_ms is not None else '')
        + (f'worker_nice = {args.worker_nice}\n' if args.worker_nice is not None else '')
        + '[[users]]\nemail = "me@example.org"\ndropbox = "crm+bench@example.org"\n'
    )
    env = dict(os.environ, MAILCRM_CONFIG=str(cfg))
    daemon = subprocess.Popen([sys.executable, "-m", "mailcrm", "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(tmp / "serve.log", "wb"))
    wait_port(port)
    from sqlalchemy import create_engine, text

    from mailcrm.store.db import normalize_url

    engine = create_engine(normalize_url(db))

    def stored() -> int:
        with engine.connect() as c:
            return int(c.execute(text("SELECT COUNT(*) FROM messages")).scalar() or 0)

    stored()
    time.sleep(1.0)  # the worker process and its parser start after the listener: let them settle
    usage = Usage(daemon.pid)
    client0 = client_cpu()
    t0 = time.perf_counter()
    recv_s = blast(port, msgs, args.connections, "crm+bench@example.org")
    client = client_cpu() - client0
    backlog = args.count - stored()
    while True:
        n = stored()
        if n >= args.count:
            break
        if time.perf_counter() - t0 > 1800:
            raise SystemExit(f"only {n} of {args.count} stored after 30 minutes")
        time.sleep(0.05)
    stored_s = time.perf_counter() - t0
    used = usage.take()
    daemon.terminate()
    daemon.wait(60)
    engine.dispose()

    n = args.count
    ms = {role: cpu / n * 1000 for role, (cpu, _rss) in used.items()}
    rss = {role: r for role, (_cpu, r) in used.items()}
    peak = rss["front"] + rss["worker"]  # what was one daemon process before the worker moved out
    result = {
        "count": n, "size": args.size, "connections": args.connections, "db": engine.dialect.name,
        "sink_msg_s": round(n / sink_s, 1), "received_msg_s": round(n / recv_s, 1), "stored_msg_s": round(n / stored_s, 1),
        "received_ratio": round(sink_s / recv_s, 3), "stored_ratio": round(sink_s / stored_s, 3),
        "backlog_at_last_250": backlog,
        "cpu_ms_per_msg": {"sink": round(sink_cpu / n * 1000, 3), "sink_client": round(sink_client / n * 1000, 3),
                           "client": round(client / n * 1000, 3), **{k: round(v, 3) for k, v in ms.items()}},
        "peak_rss_mb": round(peak, 1), "rss_mb": {k: round(v, 1) for k, v in rss.items()},
    }
    if args.json:
        print(json.dumps(result))
        return
    print(f"messages: {n} x ~{args.size} B over {args.connections} connections, to "
          f"{args.contacts or n} people; db: {engine.dialect.name}; {os.cpu_count()} cores")
    print(f"(a) bare aiosmtpd + fsync sink : {n / sink_s:8.1f} msg/s")
    print(f"(b) mailcrm serve, 250 received: {n / recv_s:8.1f} msg/s  ratio b/a = {sink_s / recv_s:.2f}"
          "  (target >= 0.9, >= 1.0 with group commit)")
    print(f"(b) mailcrm serve, stored in DB: {n / stored_s:8.1f} msg/s  ratio b/a = {sink_s / stored_s:.2f}"
          f"  (target >= 0.6); {backlog} not yet stored at the last 250")
    print(f"CPU per message: sink {ms_fmt(sink_cpu / n)} (its client {ms_fmt(sink_client / n)}); mailcrm front end "
          f"(SMTP, spool) {ms['front']:.2f} ms, worker {ms['worker']:.2f} ms, parser {ms['parser']:.2f} ms, "
          f"helpers {ms['helper']:.2f} ms (its client {ms_fmt(client / n)})")
    print(f"daemon peak RSS: {peak:.1f} MB = front end {rss['front']:.1f} + worker {rss['worker']:.1f} (target < 150 MB); "
          f"parser process(es) {rss['parser']:.1f} MB, helpers {rss['helper']:.1f} MB more")


def ms_fmt(seconds: float) -> str:
    """Seconds as milliseconds."""
    return f"{seconds * 1000:.2f} ms"


if __name__ == "__main__":
    main()
