"""Backfill benchmark: bare imapclient FETCH loop vs `mailcrm import imap` vs `mailcrm import mbox`.

One run, one Dovecot (started here on loopback), the same N messages (default 20,000):
  (a) bare: SEARCH, then FETCH RFC822 in batches of 200 - the ceiling for any IMAP client;
  (b) `mailcrm import imap` (subprocess): FETCH + parse + store, committed in batches (the read-only
      source holds the mail until the checkpoint moves, so no spool copy);
  (c) `mailcrm import mbox` on the same messages (no IMAP at all).
Prints messages/s and the ratio b/a (target >= 0.7).  Nothing is asserted.

    python bench/imap_backfill.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import json
import mailbox
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from dovecot import Dovecot, free_port, imap_block, make_message  # noqa: E402

BATCH = 200


def bare_fetch(server: Dovecot, folder: str) -> tuple[int, float]:
    """(messages, seconds) for a plain imapclient loop over the folder."""
    c = server.client()
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


def main() -> None:
    """Run the three measurements and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20_000)
    args = ap.parse_args()
    n = args.messages
    messages = [make_message(i, body=f"Hello,\r\n\r\n{'lorem ipsum dolor sit amet ' * 40}\r\nnumber {i}\r\n")
                for i in range(n)]
    size = sum(len(m) for m in messages) / n
    server = Dovecot()
    with tempfile.TemporaryDirectory(prefix="mailcrm-bench-") as tmpdir:
        tmp = Path(tmpdir)
        try:
            server.write_maildir("Sent", messages)
            server.start()
            bare_fetch(server, "Sent")  # warm-up: Dovecot builds its index and cache once
            a_n, a_t = bare_fetch(server, "Sent")
            imap_cfg = tmp / "imap" / "config.toml"
            imap_cfg.parent.mkdir()
            imap_cfg.write_text(config_text(imap_cfg.parent, imap_block(
                server, folders='{ "Sent" = "sent" }', extra="create_contacts = true\n")))
            b_rep, b_t = run_cli(imap_cfg, "import", "imap", "crm-box", "--folder", "Sent")
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
    a_rate, b_rate, c_rate = a_n / a_t, b_rep["stored"] / b_t, c_rep["stored"] / c_t
    print(f"messages: {n} (~{size / 1024:.1f} KB each)")
    print(f"(a) bare imapclient FETCH x{BATCH}: {a_n} in {a_t:.1f}s = {a_rate:,.0f} msg/s")
    print(f"(b) mailcrm import imap:         {b_rep['stored']} stored in {b_t:.1f}s = {b_rate:,.0f} msg/s")
    print(f"    ratio b/a = {b_rate / a_rate:.2f} (target >= 0.7)")
    print(f"(c) mailcrm import mbox:         {c_rep['stored']} stored in {c_t:.1f}s = {c_rate:,.0f} msg/s")


if __name__ == "__main__":
    main()
