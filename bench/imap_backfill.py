"""Backfill benchmark: bare imapclient FETCH loop vs `mailcrm import imap` vs `mailcrm import mbox`.

One run, one Dovecot (started here on loopback), the same N messages (default 20,000):
  (a) bare: SEARCH, then FETCH RFC822 in batches of 200 - the ceiling for any IMAP client;
  (b) `mailcrm import imap` (subprocess): FETCH + parse + store, committed in batches (the read-only
      source holds the mail until the checkpoint moves, so no spool copy; the next batch is
      FETCHed while one is stored);
  (c) `mailcrm import mbox` on the same messages (no IMAP at all).
Prints messages/s and the ratio b/a (target >= 0.7).  Nothing is asserted.

On loopback (a) only copies bytes out of Dovecot's cache, so b/a measures mailcrm's CPU cost
per message against a near-free FETCH.  ``--link MBIT`` runs (a) and (b) a second time through a
loopback proxy that limits the server's replies to MBIT megabits/s and delays each client
command by ``--rtt`` ms, as a mail provider across the Internet would; ``--body-kb`` sets the
size of the messages (real mail is mostly 5-50 KB).

    python bench/imap_backfill.py [--messages 20000] [--body-kb 1] [--link 50 --rtt 30]
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dovecot import PASSWORD, USER, Dovecot, free_port, imap_block, make_message  # noqa: E402

BATCH = 200


class Link:
    """A loopback TCP proxy to ``port``: replies limited to ``mbit`` Mbit/s, commands delayed ``rtt_ms``."""

    def __init__(self, port: int, mbit: float, rtt_ms: float) -> None:
        self.target = port
        self.rate = mbit * 1_000_000 / 8  # bytes/s
        self.rtt = rtt_ms / 1000
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            threading.Thread(target=self._pump, args=(client, server, 0.0, self.rtt), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, self.rate, 0.0), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket, rate: float, delay: float) -> None:
        free_at = time.monotonic()  # when the link is free to carry the next byte
        try:
            while chunk := src.recv(65536):
                if delay:
                    time.sleep(delay)
                if rate:
                    free_at = max(free_at, time.monotonic()) + len(chunk) / rate
                    time.sleep(max(0.0, free_at - time.monotonic()))
                dst.sendall(chunk)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop = True
        self.sock.close()


def bare_fetch(port: int, folder: str) -> tuple[int, float]:
    """(messages, seconds) for a plain imapclient loop over the folder."""
    from imapclient import IMAPClient

    c = IMAPClient("127.0.0.1", port, ssl=False, timeout=120)
    c.login(USER, PASSWORD)
    t0 = time.perf_counter()
    c.select_folder(folder, readonly=True)
    uids = c.search(["ALL"])
    n = 0
    for i in range(0, len(uids), BATCH):
        data = c.fetch(uids[i:i + BATCH], ["RFC822"])
        n += sum(1 for v in data.values() if v.get(b"RFC822"))
    dt = time.perf_counter() - t0
    c.logout()
    return n, dt


def run_cli(config: Path, *args: str) -> tuple[dict, float]:  # type: ignore[type-arg]
    """Run a mailcrm command; (its --json report, seconds)."""
    env = dict(os.environ, MAILCRM_CONFIG=str(config))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "mailcrm", *args, "--json"], env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"mailcrm {' '.join(args)} failed: {res.stderr[-2000:]}")
    return json.loads(res.stdout), dt


def config_text(tmp: Path, extra: str) -> str:
    """A config with one user (the author of the messages) and a SQLite store under ``tmp``."""
    return (f'data_dir = "{tmp / "data"}"\n[database]\nurl = "sqlite:///{tmp / "crm.sqlite3"}"\n'
            f'[smtp]\nport = {free_port()}\n[digest]\nenabled = false\n{extra}\n'
            '[[users]]\nemail = "me@example.org"\ndropbox = "crm+bench@example.org"\n')


def import_imap(server: Dovecot, tmp: Path, port: int) -> tuple[int, float]:
    """(stored, seconds) for `mailcrm import imap` into a fresh store, connecting to ``port``."""
    cfg = tmp / "config.toml"
    tmp.mkdir()
    block = imap_block(server, folders='{ "Sent" = "sent" }', extra="create_contacts = true\n")
    cfg.write_text(config_text(tmp, block.replace(f"port = {server.port}\n", f"port = {port}\n")))
    rep, t = run_cli(cfg, "import", "imap", "crm-box", "--folder", "Sent")
    return rep["stored"], t


def main() -> None:
    """Run the measurements and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--body-kb", type=float, default=1.0, help="body size of each message (default 1 KB)")
    ap.add_argument("--link", type=float, default=0.0, help="also measure through a link of this many Mbit/s")
    ap.add_argument("--rtt", type=float, default=30.0, help="round-trip time of --link in ms (default 30)")
    args = ap.parse_args()
    n = args.messages
    words = max(1, int(args.body_kb * 1024 / 27))
    messages = [make_message(i, body=f"Hello,\r\n\r\n{'lorem ipsum dolor sit amet ' * words}\r\nnumber {i}\r\n")
                for i in range(n)]
    size = sum(len(m) for m in messages) / n
    server = Dovecot()
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mailcrm-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            server.write_maildir("Sent", messages)
            server.start()
            bare_fetch(server.port, "Sent")  # warm-up: Dovecot builds its index and cache once
            a_n, a_t = bare_fetch(server.port, "Sent")
            b_n, b_t = import_imap(server, tmp / "imap", server.port)
            a_rate, b_rate = a_n / a_t, b_n / b_t
            lines += [f"(a) bare imapclient FETCH x{BATCH}: {a_n} in {a_t:.1f}s = {a_rate:,.0f} msg/s",
                      f"(b) mailcrm import imap:         {b_n} stored in {b_t:.1f}s = {b_rate:,.0f} msg/s",
                      f"    ratio b/a = {b_rate / a_rate:.2f} (target >= 0.7)"]
            if args.link:
                link = Link(server.port, args.link, args.rtt)
                try:
                    la_n, la_t = bare_fetch(link.port, "Sent")
                    lb_n, lb_t = import_imap(server, tmp / "imap-link", link.port)
                finally:
                    link.close()
                la_rate, lb_rate = la_n / la_t, lb_n / lb_t
                lines += [f"through a {args.link:g} Mbit/s link, {args.rtt:g} ms RTT:",
                          f"(a') bare imapclient FETCH x{BATCH}: {la_n} in {la_t:.1f}s = {la_rate:,.0f} msg/s",
                          f"(b') mailcrm import imap:         {lb_n} stored in {lb_t:.1f}s = {lb_rate:,.0f} msg/s",
                          f"     ratio b'/a' = {lb_rate / la_rate:.2f}"]
        finally:
            server.cleanup()
        mbox_path = tmp / "sent.mbox"
        box = mailbox.mbox(str(mbox_path))
        for m in messages:
            box.add(m)
        box.flush()
        box.close()
        mbox_cfg = tmp / "mbox" / "config.toml"
        mbox_cfg.parent.mkdir()
        mbox_cfg.write_text(config_text(mbox_cfg.parent, ""))
        c_rep, c_t = run_cli(mbox_cfg, "import", "mbox", str(mbox_path))
    print(f"messages: {n} (~{size / 1024:.1f} KB each)")
    print("\n".join(lines))
    print(f"(c) mailcrm import mbox:         {c_rep['stored']} stored in {c_t:.1f}s = {c_rep['stored'] / c_t:,.0f} msg/s")


if __name__ == "__main__":
    main()
