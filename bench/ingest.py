"""Ingest throughput: `mailcrm serve` vs a bare aiosmtpd sink that only fsyncs, in one run.

Usage: python bench/ingest.py [--count 3000] [--seed 1] [--connections 8] [--db URL] [--parse-processes N]
       [--group-commit-ms MS] [--worker-nice N] [--synthetic [--size 20000] [--contacts 500]] [--json]
The mail is bench/corpus.py's, fed as a user does: the user's own mail as BCC copies, delivery
reports and auto-replies as they come, received mail forwarded as an attachment; both sides get
the same bytes.  ``--synthetic``: the old identical unsigned sent copies.
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
USER = "me@example.org"
DROPBOX = "crm+bench@example.org"

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


def make_messages(count: int, size: int, contacts: int = 500) -> list[tuple[str, bytes]]:
    """(--synthetic) Distinct ~size-byte unsigned sent copies, each to one of ``contacts`` people."""
    line = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.\r\n"
    body = line * max(1, size // len(line))
    out = []
    for i in range(count):
        who = i % contacts if contacts else i
        out.append((USER, (
            f"From: Me <{USER}>\r\nTo: Contact {who} <c{who}@company{who % 97}.example>\r\n"
            f"Subject: bench {i}\r\nMessage-ID: <bench-{i}-{os.getpid()}@example.org>\r\n"
            f"Date: Mon, 02 Nov 2026 10:00:00 +0300\r\n\r\n{body}"
        ).encode()))
    return out


def corpus_messages(count: int, seed: int = 1) -> list[tuple[str, bytes]]:
    """bench/corpus.py mail as a user feeds the dropbox: (envelope sender, bytes with CRLF line ends).

    The user's own mail is a BCC copy (sent as it is); delivery reports and auto-replies come as
    they are, from the null sender (the dropbox takes them); mail the user received is forwarded
    by the user as an attachment (message/rfc822, "forward as attachment").
    """
    from email.parser import BytesHeaderParser
    from email.policy import compat32

    from corpus import generate

    headers = BytesHeaderParser(policy=compat32)
    out: list[tuple[str, bytes]] = []
    for i, raw in enumerate(generate(count + count // 100 + 10, seed=seed, user=USER)):
        if len(out) == count:
            break
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        if max(map(len, crlf.split(b"\r\n"))) > 998:
            continue  # no SMTP server takes a line over 998 characters (RFC 5322 2.1.1): a client would re-encode it
        head = headers.parsebytes(crlf.split(b"\r\n\r\n", 1)[0])
        author = str(head.get("From", "")).lower()
        if USER in author:
            out.append((USER, crlf))
        elif "mailer-daemon" in author or str(head.get("Auto-Submitted", "no")).lower() != "no" \
                or "multipart/report" in str(head.get("Content-Type", "")).lower():
            out.append(("", crlf))
        else:
            boundary = f"fwd-{seed}-{i}-{os.urandom(6).hex()}"
            subject = " ".join(str(head.get("Subject", "")).split())
            wrapper = (f"From: Alex Morozov <{USER}>\r\nTo: <{DROPBOX}>\r\nSubject: Fwd: {subject}\r\n"
                       f"Date: {head.get('Date', 'Mon, 02 Nov 2026 10:00:00 +0300')}\r\n"
                       f"Message-ID: <fwd-{seed}-{i}@example.org>\r\nMIME-Version: 1.0\r\n"
                       f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
                       f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nFYI\r\n\r\n"
                       f"--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment\r\n\r\n")
            out.append((USER, wrapper.encode() + crlf + f"\r\n--{boundary}--\r\n".encode()))
    return out


def blast(port: int, msgs: list[tuple[str, bytes]], connections: int, rcpt: str) -> float:
    """Send all messages over N connections; returns seconds until the last 250."""
    chunks = [msgs[k::connections] for k in range(connections)]
    errors: list[str] = []

    def run(chunk: list[tuple[str, bytes]]) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=60) as s:
            for sender, m in chunk:
                try:
                    s.sendmail(sender, [rcpt], m)
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
    sys.path.insert(0, str(ROOT / "bench"))
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
    ap.add_argument("--seed", type=int, default=1, help="bench/corpus.py seed")
    ap.add_argument("--synthetic", action="store_true",
                    help="identical unsigned sent copies of --size bytes to --contacts people (the old bench) instead of the corpus")
    ap.add_argument("--json", action="store_true", help="print one JSON object (received_ratio, stored_ratio, peak_rss_mb, ...)")
    args = ap.parse_args()
    msgs = (make_messages(args.count, args.size, args.contacts) if args.synthetic
            else corpus_messages(args.count, args.seed))
    size = sum(len(m) for _, m in msgs) / len(msgs)
    tmp = Path(tempfile.mkdtemp(prefix="mailcrm-bench-"))

    # (a) bare sink
    (tmp / "sink").mkdir()
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(tmp / "sink"), str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE)
    assert sink.stdout is not None
    sink.stdout.readline()
    warm = [(USER, m.replace(b"<bench-0-", b"<warm-up-")) for _, m in make_messages(1, 2000, 1)]  # its own Message-ID
    blast(port, warm, 1, "sink@example.org")
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

    incoming = tmp / "data" / "spool" / "incoming"

    def spooled() -> int:
        """Files in the spool not yet stored (a group file holds several messages)."""
        return len(os.listdir(incoming))

    # One message first, not timed: the worker process and its parser are up and have the store open.
    blast(port, warm, 1, "crm+bench@example.org")
    while stored() < 1 or spooled():
        time.sleep(0.05)
    usage = Usage(daemon.pid)
    client0 = client_cpu()
    t0 = time.perf_counter()
    recv_s = blast(port, msgs, args.connections, "crm+bench@example.org")
    client = client_cpu() - client0
    from mailcrm.spool import Spool

    backlog = Spool(tmp / "data" / "spool").depth()
    while spooled():  # every message committed (stored, a duplicate, skipped) or quarantined
        if time.perf_counter() - t0 > 1800:
            raise SystemExit(f"{spooled()} spool files left after 30 minutes")
        time.sleep(0.02)
    stored_s = time.perf_counter() - t0
    rows = stored() - 1
    quarantined = len(os.listdir(tmp / "data" / "spool" / "quarantine"))
    used = usage.take()
    daemon.terminate()
    daemon.wait(60)
    engine.dispose()

    n = args.count
    ms = {role: cpu / n * 1000 for role, (cpu, _rss) in used.items()}
    rss = {role: r for role, (_cpu, r) in used.items()}
    peak = rss["front"] + rss["worker"]  # what was one daemon process before the worker moved out
    result = {
        "count": n, "mean_size": round(size), "mail": "synthetic" if args.synthetic else f"corpus seed {args.seed}",
        "connections": args.connections, "db": engine.dialect.name, "message_rows": rows, "quarantined": quarantined,
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
    mail = (f"synthetic sent copies to {args.contacts or n} people" if args.synthetic
            else f"bench/corpus.py seed {args.seed} (BCC copies, forwards, reports)")
    print(f"messages: {n}, mean {size / 1000:.1f} KB, {mail}, over {args.connections} connections; "
          f"db: {engine.dialect.name}; {os.cpu_count()} cores")
    print(f"(a) bare aiosmtpd + fsync sink : {n / sink_s:8.1f} msg/s")
    print(f"(b) mailcrm serve, 250 received: {n / recv_s:8.1f} msg/s  ratio b/a = {sink_s / recv_s:.2f}"
          "  (target >= 0.9, >= 1.0 with group commit)")
    print(f"(b) mailcrm serve, stored in DB: {n / stored_s:8.1f} msg/s  ratio b/a = {sink_s / stored_s:.2f}"
          f"  (target >= 0.6); {backlog} not yet stored at the last 250")
    print(f"stored: {rows} message rows, {quarantined} quarantined (the rest duplicates or skipped)")
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
