"""Form intake throughput: `mailcrm serve`'s /intake vs a bare ASGI endpoint that only fsyncs each body, in one run.

Usage: python bench/intake.py [--count 2000] [--clients 8] [--db URL] [--worker-nice N] [--group-commit-ms MS] [--json]
Both run on uvicorn in their own process; the same client threads (httpx, keep-alive) post the same
urlencoded submissions.  The bare endpoint writes each body to its own file, fsyncs it and the
directory (what mailcrm's spool does per item), then answers 200.  Prints requests/s of both, the
ratio for "2xx answered" and for "stored in the database" (every lead row committed).  Target
(issue 23): end-to-end >= 0.5 of the bare endpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BARE = textwrap.dedent('''
    import asyncio, os, sys, uuid
    import uvicorn
    out = sys.argv[1]
    def write(body):
        p = os.path.join(out, uuid.uuid4().hex)
        with open(p, "wb") as fh:
            fh.write(body); fh.flush(); os.fsync(fh.fileno())
        fd = os.open(out, os.O_RDONLY); os.fsync(fd); os.close(fd)
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = b""
        while True:
            m = await receive()
            body += m.get("body", b"")
            if not m.get("more_body"):
                break
        await asyncio.to_thread(write, body)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"ok":true}'})
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
''')


def free_port() -> int:
    """A free loopback port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Until ``url`` answers at all."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def blast(url: str, count: int, clients: int) -> float:
    """Post ``count`` submissions over ``clients`` threads; seconds until the last 2xx."""
    errors: list[str] = []

    def worker(indices: range) -> None:
        with httpx.Client(timeout=30) as http:
            for i in indices:
                r = http.post(url, data={"name": f"Lead {i}", "phone": f"+7921{i:07d}", "email": f"lead{i}@bench{i % 50}.example",
                                         "message": "Перезвоните, пожалуйста " * 4, "tranid": f"bench-{i}",
                                         "utm_source": "bench"})
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return

    start = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(range(k, count, clients),)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"submission failed: {errors[0]}")
    return time.perf_counter() - start


class Counter:
    """Counts committed lead rows (engine made, modules imported before the timed part)."""

    def __init__(self, db_url: str) -> None:
        from sqlalchemy import create_engine, func, select

        from mailcrm.store.db import normalize_url
        from mailcrm.store.models import Lead

        self.engine = create_engine(normalize_url(db_url))
        self.query = select(func.count()).select_from(Lead)

    def __call__(self) -> int:
        """Lead rows committed so far."""
        with self.engine.connect() as c:
            return int(c.execute(self.query).scalar_one())


def main() -> None:
    """Run both, print the figures."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=2000)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--db", default="")
    ap.add_argument("--worker-nice", type=int, default=None, help="[ingest] worker_nice for the daemon")
    ap.add_argument("--group-commit-ms", type=float, default=None, help="[ingest] group_commit_ms for the daemon")
    ap.add_argument("--json", action="store_true", help="print one JSON object (answered_ratio, stored_ratio, ...)")
    args = ap.parse_args()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory(prefix="mailcrm-bench-intake-") as tmp_s:
        tmp = Path(tmp_s)
        # -- the bare endpoint --
        sink_dir = tmp / "sink"
        sink_dir.mkdir()
        port = free_port()
        bare = subprocess.Popen([sys.executable, "-c", BARE, str(sink_dir), str(port)], env=env)
        try:
            wait_http(f"http://127.0.0.1:{port}/")
            bare_s = blast(f"http://127.0.0.1:{port}/intake/x", args.count, args.clients)
        finally:
            bare.terminate()
            bare.wait(10)
        assert len(os.listdir(sink_dir)) == args.count + 1  # + the readiness probe
        # -- mailcrm serve --
        db_url = args.db or f"sqlite:///{tmp / 'mailcrm.sqlite3'}"
        smtp, web = free_port(), free_port()
        cfg = tmp / "config.toml"
        cfg.write_text(f'data_dir = "{tmp / "data"}"\n[database]\nurl = "{db_url}"\n'
                       f'[smtp]\nhost = "127.0.0.1"\nport = {smtp}\n'
                       f'[web]\nlisten = "127.0.0.1:{web}"\nrate_limit = 1000000\n'
                       '[digest]\nenabled = false\n[log]\nformat = "json"\nlevel = "warning"\n'
                       + '[ingest]\n'
                       + (f'worker_nice = {args.worker_nice}\n' if args.worker_nice is not None else '')
                       + (f'group_commit_ms = {args.group_commit_ms}\n' if args.group_commit_ms is not None else '')
                       + '[[users]]\nemail = "me@example.org"\ndropbox = "crm+bench@example.org"\n')
        env["MAILCRM_CONFIG"] = str(cfg)
        added = subprocess.run([sys.executable, "-m", "mailcrm", "form", "add", "site", "--json"], env=env,
                               capture_output=True, text=True, check=True)
        url = json.loads(added.stdout)["url"]
        daemon = subprocess.Popen([sys.executable, "-m", "mailcrm", "serve"], env=env,
                                  stdout=open(tmp / "serve.log", "wb"), stderr=subprocess.STDOUT)
        try:
            wait_http(f"http://127.0.0.1:{web}/healthz")
            leads_stored = Counter(db_url)
            leads_stored()
            start = time.perf_counter()
            answered_s = blast(url, args.count, args.clients)
            backlog = args.count - leads_stored()
            while leads_stored() < args.count:
                if time.perf_counter() - start > 600:
                    raise RuntimeError("leads not stored within 600 s")
                time.sleep(0.02)
            stored_s = time.perf_counter() - start
        finally:
            daemon.terminate()
            daemon.wait(60)
    bare_rate = args.count / bare_s
    answered_rate, stored_rate = args.count / answered_s, args.count / stored_s
    if args.json:
        print(json.dumps({"count": args.count, "clients": args.clients, "bare_req_s": round(bare_rate, 1),
                          "answered_req_s": round(answered_rate, 1), "stored_req_s": round(stored_rate, 1),
                          "answered_ratio": round(answered_rate / bare_rate, 3),
                          "stored_ratio": round(stored_rate / bare_rate, 3), "backlog_at_last_2xx": backlog}))
        return
    print(f"submissions: {args.count}, clients: {args.clients}, db: {'sqlite' if not args.db else args.db.split(':')[0]}")
    print(f"bare ASGI + fsync:          {bare_rate:8.1f} req/s")
    print(f"mailcrm intake, 2xx:        {answered_rate:8.1f} req/s   ratio {answered_rate / bare_rate:.2f}")
    print(f"mailcrm intake, stored:     {stored_rate:8.1f} req/s   ratio {stored_rate / bare_rate:.2f}  (target >= 0.5)")
    print(f"not yet stored at the last 2xx: {backlog}; stored {stored_s - answered_s:.2f} s after it")


if __name__ == "__main__":
    main()
