"""Soak: two `mailcrm serve` daemons on one PostgreSQL, mail over many connections with duplicates,
SIGKILLs of a daemon at random moments, a full-disk window, optionally a PostgreSQL restart.

Usage: python bench/soak.py [--count 5000] [--connections 8] [--dups 0.1] [--kills 3]
       [--no-full-disk] [--private-pg | --pg-restart-cmd "systemctl restart postgresql"] [--seed 1]

Every message has its own Message-ID; a share (--dups) is sent twice, to both daemons.  A sender
retries a message refused with 4xx or a dropped connection (as an MTA would), up to 20 times.
At the end, after both spools drained, it prints: sent (distinct messages), 250 (acceptances,
duplicates included), stored, lost (accepted but not stored), duplicated (stored twice),
retries (the daemons' "ingest retry" log lines, deadlocks among them), and each daemon's peak RSS.
Lost and duplicated must be 0.  The full-disk window needs root (a tmpfs holds daemon B's data
directory); the PostgreSQL restart runs with --private-pg (a throwaway server of its own on a free
port, initdb'd and started as the postgres user, restarted mid-run) or --pg-restart-cmd (the
test server may be shared, so never by default).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import random
import secrets
import signal
import smtplib
import socket
import subprocess
import sys
import tempfile
import threading
import time
from email.utils import formatdate
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DROPBOX = "crm+secret@example.org"
USER = "me@example.org"
PG = os.environ.get("MAILCRM_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def message(i: int) -> bytes:
    """Message i: from the user to one of 300 people at 40 companies."""
    who = i % 300
    return (f"From: Me <{USER}>\r\nTo: Person {who} <p{who}@firm{who % 40}.example>\r\n"
            f"Subject: soak {i}\r\nMessage-ID: <soak-{i}@example.org>\r\nDate: {formatdate(localtime=False)}\r\n"
            f"\r\nHello {i}, " + "lorem ipsum " * 40 + "\r\n").encode()


class Daemon:
    """A `mailcrm serve` subprocess that can be SIGKILLed and restarted; tracks its peak RSS."""

    def __init__(self, name: str, data_dir: Path, db_url: str, work: Path) -> None:
        self.name, self.port, self.data_dir = name, free_port(), data_dir
        self.config = work / f"{name}.toml"
        self.log = work / f"{name}.log"
        self.config.write_text(
            f'data_dir = "{data_dir}"\n[database]\nurl = "{db_url}"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {self.port}\nmax_message_size = 1048576\n'
            "max_connections = 200\nmax_connections_per_address = 200\n"
            '[digest]\nenabled = false\n[log]\nformat = "json"\n[ingest]\nparse_processes = 0\nmax_attempts = 1000\n'
            f'[[users]]\nemail = "{USER}"\ndropbox = "{DROPBOX}"\n')
        self.proc: subprocess.Popen[bytes] | None = None
        self.peak_rss_kb = 0
        self.kills = 0
        self.lock = threading.Lock()

    def env(self) -> dict[str, str]:
        """Environment for this daemon's config."""
        return dict(os.environ, MAILCRM_CONFIG=str(self.config), PYTHONPATH=str(ROOT))

    def start(self) -> None:
        """Start and wait for the port."""
        with self.lock:
            out = open(self.log, "ab")  # noqa: SIM115 - owned by the child
            self.proc = subprocess.Popen([sys.executable, "-m", "mailcrm", "serve"], env=self.env(), stdout=out,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        """SIGKILL the process group (a crash)."""
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
                self.kills += 1

    def stop(self) -> None:
        """SIGTERM and wait."""
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(60)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)

    def sample_rss(self) -> None:
        """Record the daemon's resident set size (kB) if it is higher than seen so far."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
        except OSError:
            pass

    def retries(self) -> tuple[int, int]:
        """(ingest retry lines, those caused by a deadlock) in the log."""
        total = deadlocks = 0
        for line in self.log.read_text(errors="replace").splitlines():
            if '"ingest retry"' in line:
                total += 1
                deadlocks += "deadlock" in line
        return total, deadlocks


class PrivatePostgres:
    """A throwaway PostgreSQL server (initdb, trust auth) on a free loopback port, run as ``postgres``."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="mailcrm-soak-pg-"))
        self.port = free_port()
        os.chmod(self.dir, 0o755)
        subprocess.run(["chown", "postgres:", str(self.dir)], check=True, timeout=30)

    def _as_postgres(self, *cmd: str) -> None:
        subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, timeout=300)

    def _ctl(self, action: str) -> None:
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c max_connections=100"
        self._as_postgres("pg_ctl", "-D", str(self.dir / "data"), "-o", opts, "-l", str(self.dir / "log"),
                          "-m", "fast", "-w", action)

    def start(self) -> str:
        """initdb and start; returns the psycopg URL of its database ``postgres``."""
        self._as_postgres("initdb", "-D", str(self.dir / "data"), "-A", "trust", "-U", "postgres")
        self._ctl("start")
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def restart(self) -> None:
        """A fast restart: every client connection is cut."""
        self._ctl("restart")

    def stop(self) -> None:
        """Stop and remove it."""
        try:
            self._ctl("stop")
        finally:
            subprocess.run(["rm", "-rf", str(self.dir)], timeout=60)


def fresh_schema() -> tuple[str, str]:
    """A new schema in the test database: (URL with search_path, schema name)."""
    import psycopg

    name = "mailcrm_soak_" + secrets.token_hex(4)
    with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{name}"')
    return f"{PG}{'&' if '?' in PG else '?'}options=-csearch_path%3D{name}", name


def drop_schema(name: str) -> None:
    """Drop the bench's schema."""
    import psycopg

    with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def stored_ids(name: str) -> tuple[list[str], int]:
    """(every stored message_id, count of rows) in the schema."""
    import psycopg

    with psycopg.connect(PG.replace("+psycopg", ""), autocommit=True) as conn:
        rows = conn.execute(f'SELECT message_id FROM "{name}".messages').fetchall()
    return [r[0] for r in rows], len(rows)


def mount_tmpfs(path: Path, size: str = "24m") -> bool:
    """Mount a small tmpfs (root only); False when not possible."""
    path.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                         timeout=30)
    return res.returncode == 0


def fill(disk: Path) -> Path:
    """Fill ``disk`` with a ballast file; delete it to end the full-disk window."""
    ballast = disk / "ballast"
    fd = os.open(ballast, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 65536, 4096, 512, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return ballast


def main() -> None:
    """Run the soak and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--connections", type=int, default=8, help="sender connections per daemon")
    ap.add_argument("--dups", type=float, default=0.1, help="share of messages sent to both daemons")
    ap.add_argument("--kills", type=int, default=3, help="SIGKILLs at random moments (each daemon in turn)")
    ap.add_argument("--no-full-disk", action="store_true")
    ap.add_argument("--pg-restart-cmd", default="", help="shell command restarting PostgreSQL (mid-run)")
    ap.add_argument("--private-pg", action="store_true",
                    help="run a throwaway PostgreSQL of its own and restart it mid-run (root)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rnd = random.Random(args.seed)
    global PG
    work = Path(tempfile.mkdtemp(prefix="mailcrm-soak-"))
    private = PrivatePostgres() if args.private_pg else None
    if private is not None:
        PG = private.start()
    url, schema = fresh_schema()
    disk = work / "disk"
    full_disk = not args.no_full_disk and mount_tmpfs(disk)
    daemons = [Daemon("a", work / "a", url, work), Daemon("b", (disk if full_disk else work) / "b", url, work)]
    jobs: queue.Queue[tuple[int, int, int]] = queue.Queue()  # (message, daemon index, attempt)
    dup_ids = {i for i in range(args.count) if rnd.random() < args.dups}
    for i in range(args.count):
        jobs.put((i, i % 2, 0))
        if i in dup_ids:
            jobs.put((i, (i + 1) % 2, 0))
    sends = len(dup_ids) + args.count
    accepted: set[int] = set()
    counts = {"250": 0, "4xx": 0, "dropped": 0, "gave_up": 0, "5xx": 0}
    lock = threading.Lock()
    done = threading.Event()
    finished = [0]

    def sender(which: int) -> None:
        client: smtplib.SMTP | None = None
        while not done.is_set():
            try:
                i, d, attempt = jobs.get(timeout=0.5)
            except queue.Empty:
                continue
            if d != which:
                jobs.put((i, d, attempt))
                time.sleep(0.001)
                continue
            try:
                if client is None:
                    client = smtplib.SMTP("127.0.0.1", daemons[d].port, timeout=30)
                client.sendmail(USER, [DROPBOX], message(i))
                with lock:
                    counts["250"] += 1
                    accepted.add(i)
                    finished[0] += 1
                continue
            except smtplib.SMTPResponseException as exc:
                with lock:
                    counts["4xx" if 400 <= exc.smtp_code < 500 else "5xx"] += 1
                if exc.smtp_code >= 500:
                    with lock:
                        finished[0] += 1
                    continue
                if exc.smtp_code == 421:
                    client = None
            except (OSError, smtplib.SMTPException):
                with lock:
                    counts["dropped"] += 1
                client = None
                time.sleep(0.2)
            if attempt >= 20:
                with lock:
                    counts["gave_up"] += 1
                    finished[0] += 1
            else:
                jobs.put((i, d, attempt + 1))

    def chaos() -> None:
        events = [(rnd.uniform(0.1, 0.85), "kill") for _ in range(args.kills)]
        if full_disk:
            events.append((0.45, "disk"))
        if args.pg_restart_cmd or private is not None:
            events.append((0.6, "pg"))
        kills = 0
        for at, what in sorted(events):
            while not done.is_set() and finished[0] < at * sends:
                time.sleep(0.02)
            if done.is_set() or finished[0] >= sends:
                return
            if what == "disk":
                ballast = fill(disk)
                print(f"full disk for 3 s at {finished[0]} of {sends} sends", flush=True)
                time.sleep(3)
                ballast.unlink()
            elif what == "pg":
                print(f"restarting PostgreSQL at {finished[0]} of {sends} sends", flush=True)
                if private is not None:
                    private.restart()
                else:
                    subprocess.run(args.pg_restart_cmd, shell=True, timeout=120)  # noqa: S602 - the operator's command
            else:
                victim = daemons[kills % 2]
                kills += 1
                victim.kill()
                print(f"SIGKILL {victim.name} at {finished[0]} of {sends} sends", flush=True)
                time.sleep(rnd.uniform(0.2, 1.0))
                victim.start()

    def sampler() -> None:
        while not done.is_set():
            for d in daemons:
                d.sample_rss()
            time.sleep(0.2)

    t0 = time.monotonic()
    try:
        for d in daemons:
            d.start()
        threads = [threading.Thread(target=sender, args=(k % 2,), daemon=True) for k in range(2 * args.connections)]
        threads += [threading.Thread(target=chaos, daemon=True), threading.Thread(target=sampler, daemon=True)]
        for t in threads:
            t.start()
        while finished[0] < sends:
            time.sleep(0.2)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:  # both spools drained
            depth = sum(len(list((d.data_dir / "spool" / "incoming").glob("*.msg"))) for d in daemons)
            if depth == 0:
                break
            time.sleep(0.5)
        elapsed = time.monotonic() - t0
        done.set()
        ids, rows = stored_ids(schema)
        stored = {int(m.split("-", 1)[1].split("@")[0]) for m in ids if m and m.startswith("soak-")}
        retries = [d.retries() for d in daemons]
        quarantined = sum(len(list((d.data_dir / "spool" / "quarantine").glob("*.msg"))) for d in daemons)
        print(json.dumps({
            "sent": args.count, "sends": sends, "250": counts["250"], "451_or_421": counts["4xx"],
            "dropped_connections": counts["dropped"], "5xx": counts["5xx"], "gave_up": counts["gave_up"],
            "stored": len(stored), "lost": len(accepted - stored), "duplicated": rows - len(set(ids)),
            "quarantined": quarantined,
            "retries": sum(r[0] for r in retries), "deadlock_retries": sum(r[1] for r in retries),
            "kills": sum(d.kills for d in daemons), "full_disk_window": full_disk,
            "pg_restart": bool(args.pg_restart_cmd or private), "seconds": round(elapsed, 1),
            "peak_rss_mb": {d.name: round(d.peak_rss_kb / 1024, 1) for d in daemons},
        }))
    finally:
        done.set()
        for d in daemons:
            d.stop()
        if full_disk:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=30)
        drop_schema(schema)
        if private is not None:
            private.stop()


if __name__ == "__main__":
    main()
